"""(a) import: the anchor beside ``recommender data import-msd`` (which runs as a command, see
:mod:`bench.steps.commands`): pandas ``read_csv(engine="pyarrow")`` with category dtypes, codes -> CSR.

The anchor's seconds include importing pandas and scipy, as a reader process pays them (and
as the product's import command, measured as a whole process, pays its own): they are
imported inside the timed reader, not above.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.generate import TRIPLETS
from bench.steps.context import Context, rss_mb


def read_triplets_anchor(path: Path):
    """The anchor: pandas read_csv(engine="pyarrow") with category dtypes, codes -> CSR
    (the matrix, the user ids, the song ids)."""
    import pandas as pd
    import scipy.sparse as sp

    frame = pd.read_csv(
        path,
        sep="\t",
        header=None,
        names=["user", "song", "plays"],
        engine="pyarrow",
        dtype={"user": "category", "song": "category", "plays": "float32"},
    )
    users = frame["user"].cat
    songs = frame["song"].cat
    matrix = sp.csr_matrix(
        (frame["plays"].to_numpy(), (users.codes.to_numpy(), songs.codes.to_numpy())),
        shape=(len(users.categories), len(songs.categories)),
    )
    return matrix, users.categories.to_numpy(), songs.categories.to_numpy()


def import_anchor(ctx: Context) -> dict:
    started = time.perf_counter()
    matrix, _, _ = read_triplets_anchor(ctx.msd / TRIPLETS)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "users": int(matrix.shape[0]),
        "songs": int(matrix.shape[1]),
        "nnz": int(matrix.nnz),
        "rss_after_mb": round(rss_mb(), 1),
    }
