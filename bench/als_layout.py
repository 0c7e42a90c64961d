"""Does the song-column layout change implicit's ALS time per iteration? (It did not.)

The MSD catalog has 1 M songs but 384 k with listeners, in song-id order (popularity is
random along the columns). This fits implicit's ALS (64 factors, BM25 weights, BLAS held to
one thread, as `train` does) for a few iterations on three layouts of the same matrix and
prints the seconds of each iteration:

- ``full``: every catalog song a column (what `train` fits);
- ``compact``: only songs with listeners;
- ``compact-popular-first``: those, most listened first (hot factor rows share cache lines).

    .venv/bin/python -m bench.als_layout --dataset bench/work/scale-1/data/datasets/msd

Measured at scale 1.0 (2 cores, quiet machine): full 12.4 / 13.3 / 15.8 s, compact 13.7 /
13.6 / 14.5 s, compact-popular-first 12.7 / 12.9 / 12.4 s: within run-to-run noise, so the
solver's arithmetic, not memory layout, sets the time and `train` keeps the plain layout.
"""

from __future__ import annotations

import argparse

import numpy as np
from threadpoolctl import threadpool_limits

LAYOUTS = ("full", "compact", "compact-popular-first")


def main(argv: list[str] | None = None) -> int:
    from implicit.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import bm25_weight

    from recommender.dataset import Dataset

    parser = argparse.ArgumentParser(prog="python -m bench.als_layout", description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", required=True, help="a dataset folder (e.g. the bench's msd)")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--layouts", default=",".join(LAYOUTS))
    parser.add_argument(
        "--halves",
        action="store_true",
        help="instead: time implicit's CG solver on each half of an iteration (users, songs) "
        "at 0, 1 and 3 CG steps, to see where an iteration's time goes",
    )
    args = parser.parse_args(argv)

    weighted = bm25_weight(Dataset.load(args.dataset).interactions, K1=1.2, B=0.75).tocsr().astype(np.float32)
    listeners = np.diff(weighted.tocsc().indptr)
    played = np.flatnonzero(listeners)
    columns = {
        "full": None,
        "compact": played,
        "compact-popular-first": played[np.argsort(-listeners[played], kind="stable")],
    }
    if args.halves:
        return time_halves(weighted, played)
    for layout in args.layouts.split(","):
        matrix = weighted if columns[layout] is None else weighted[:, columns[layout]].tocsr()
        seconds: list[float] = []
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=64, iterations=args.iterations, regularization=1.0, alpha=0.5, random_state=1
            )
            model.fit(
                matrix,
                show_progress=False,
                # Bound now: the callback belongs to this layout's list.
                callback=lambda _i, elapsed, _loss, seconds=seconds: seconds.append(elapsed),
            )
        print(
            f"{layout}: {matrix.shape[1]:,} columns, seconds per iteration {' / '.join(f'{s:.1f}' for s in seconds)}",
            flush=True,
        )
    return 0


def time_halves(weighted, played: np.ndarray) -> int:
    """Seconds (wall and CPU) of implicit's CG solve of the user half and the song half.

    With 0 CG steps the solver only computes the residual: one pass over every play. Each CG
    step is one more such pass, so the figures say how much of an iteration is passes over the
    plays (reading a random factor row per play) and how much is fixed cost.
    """
    import time

    from implicit.cpu import _als

    user_items = (0.5 * weighted[:, played]).tocsr()  # alpha 0.5, as `train` fits
    item_users = user_items.T.tocsr()
    rng = np.random.default_rng(1)
    users = rng.random((user_items.shape[0], 64), dtype=np.float32) * 0.01
    songs = rng.random((user_items.shape[1], 64), dtype=np.float32) * 0.01
    print(
        f"{user_items.shape[0]:,} users ({users.nbytes / 2**20:.0f} MiB of factors), "
        f"{user_items.shape[1]:,} songs ({songs.nbytes / 2**20:.0f} MiB), {user_items.nnz:,} plays"
    )
    with threadpool_limits(1, "blas"):
        for cg_steps in (0, 1, 3):
            for half, matrix, solved, fixed in (
                ("users", user_items, users, songs),
                ("songs", item_users, songs, users),
            ):
                wall, cpu = time.perf_counter(), time.process_time()
                _als.least_squares_cg(matrix, solved, fixed, 1.0, 0, cg_steps)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                passes = cg_steps + 1
                print(
                    f"cg_steps {cg_steps}: {half:5s} half {wall:5.2f} s wall, {cpu:5.2f} s CPU, "
                    f"{cpu * 1e9 / (passes * matrix.nnz):4.0f} ns CPU per play per pass",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
