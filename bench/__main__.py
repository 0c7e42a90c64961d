"""``python -m bench --scale 0.1``: generate MSD-shaped data, measure every step, report.

Each step runs in its own process (bench.measure); results go to bench/results/scale-<s>.json
and bench/results/latest.json, the Markdown table is printed (paste it into the README), and
bench/results/scaling.png is redrawn from every scale measured so far.

Generated data is cached in bench/work/scale-<s>/ and reused. A step that fails is reported
as "failed" with the reason, and the others still run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from bench import generate, report
from bench.measure import run_measured, run_step
from bench.steps.commands import import_msd_argv, train_argv, trained_model_figures
from bench.steps.context import product_env

BENCH = Path(__file__).resolve().parent
ALL_STEPS = [
    "import-msd",
    "import-anchor",
    "load",
    "train",
    "train-implicit",
    "train-spark",
    "open-first",
    "open",
    "compute",
    "throughput",
    "complete",
    "retrain",
    "resolver",
    "ann",
]
# Run on request: ann-compare chose recommender/ann.py's library; import-listenbrainz generates
# and reads a dump of 50 M x scale listens (about 20 GB of JSON at scale 1); burst drives the whole
# bot through a fake Discord (README: "Under load").
EXTRA_STEPS = ["ann-compare", "import-listenbrainz", "burst", "burst-processes"]
# Steps that make their own data (a generated title catalog, synthetic factors): a run of only
# these skips generating the MSD-shaped files (minutes and gigabytes at scale 1).
SELF_CONTAINED_STEPS = {"resolver", "ann", "import-listenbrainz"}


def _say(name: str, measured: dict) -> None:
    figures = measured.get("figures") or {}
    status = figures.get("status", "ok" if measured.get("returncode") == 0 else "failed")
    if status == "ok" and measured.get("returncode") != 0:
        status = "failed"
    extra = f": {figures.get('reason')}" if figures.get("reason") else ""
    if measured.get("wall_s") is not None:
        extra += (
            f" ({measured['wall_s']:.2f} s wall, {measured['cpu_s']:.2f} s CPU, {measured['peak_rss_mb']:.0f} MB peak)"
        )
    print(f"  {name:<15} {status}{extra}", file=sys.stderr, flush=True)


def run_suite(
    scale: float,
    *,
    seed: int,
    steps: list[str],
    work_root: Path,
    results_dir: Path | None,
    queries: int,
    timeout: float,
    fresh: bool,
    plot: bool,
) -> dict:
    started = time.time()
    work = work_root / generate.scale_dir_name(scale)
    work.mkdir(parents=True, exist_ok=True)
    if fresh and (work / "data").exists():
        shutil.rmtree(work / "data")
    measured: dict[str, dict] = {}
    env = product_env(work)

    print(f"bench: scale {scale:g}, work folder {work}", file=sys.stderr)
    if set(steps) <= SELF_CONTAINED_STEPS and not fresh:
        # The report's data facts are those of the last full run at this scale (its other
        # steps are carried over with them), or none.
        meta = report.previous_data(results_dir, scale, seed) if results_dir is not None else {}
        print("  generate        skipped: these steps make their own data", file=sys.stderr)
    else:
        cached = generate.is_current(work / "msd", scale, seed) and not fresh
        if cached:
            measured["generate"] = {"cached": True, "returncode": 0}
        else:
            m = run_measured(
                [
                    sys.executable,
                    "-m",
                    "bench.generate",
                    "--scale",
                    repr(scale),
                    "--seed",
                    str(seed),
                    "--dest",
                    str(work / "msd"),
                    *(["--force"] if fresh else []),
                ],
                timeout=timeout,
            )
            measured["generate"] = m.as_dict()
            if not m.ok:
                raise SystemExit(f"bench: generating data failed:\n{m.stderr_tail}")
        meta = json.loads((work / "msd" / generate.META).read_text(encoding="utf-8"))
        _say("generate", measured["generate"] if not cached else {"returncode": 0, "figures": {"status": "cached"}})

    def step(name: str, *extra: str) -> dict:
        m = run_step(
            name, scale=scale, work=work, seed=seed, timeout=timeout, env=env, extra=["--queries", str(queries), *extra]
        )
        return m.as_dict()

    def command(argv: list[str]) -> dict:
        """One of the product's own commands, measured; its figures are whether it succeeded."""
        m = run_measured(argv, env=env, timeout=timeout)
        result = m.as_dict()
        result["figures"] = {
            "status": "ok" if m.ok else "failed",
            **({} if m.ok else {"reason": (m.stderr_tail.strip().splitlines() or ["?"])[-1]}),
        }
        return result

    for name in steps:
        if name == "import-msd":
            measured[name] = command(import_msd_argv(work))
            _say(name, measured[name])
        elif name == "train":
            measured[name] = command(train_argv())
            if measured[name]["figures"].get("status") == "ok":
                measured[name]["figures"].update(trained_model_figures(work))
            _say(name, measured[name])
        else:
            measured[name] = step(name)
            _say(name, measured[name])

    for step_result in measured.values():
        step_result.setdefault("date", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    if results_dir is not None:
        # A run of some steps keeps the other steps' latest figures for this scale.
        measured = report.merge_previous(results_dir, scale, seed, measured)
    result = report.build_report(scale, seed, measured, meta, started)
    if results_dir is not None:
        report.write_results(result, results_dir)
        if plot:
            try:
                from bench import plot as plotting

                plotting.plot_scaling(results_dir, results_dir / "scaling.png")
            except Exception as error:  # a missing plot must not lose the measurements
                print(f"bench: plot not drawn: {error}", file=sys.stderr)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", type=float, default=0.1, help="share of the full MSD size (1.0 = 48.4 M triplets); default 0.1"
    )
    parser.add_argument("--seed", type=int, default=2012)
    parser.add_argument(
        "--steps", default=",".join(ALL_STEPS), help=f"comma-separated subset of: {', '.join(ALL_STEPS + EXTRA_STEPS)}"
    )
    parser.add_argument("--queries", type=int, default=1000, help="queries per latency measurement")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds allowed per step")
    parser.add_argument("--work", type=Path, default=BENCH / "work", help="cache for generated data")
    parser.add_argument("--results", type=Path, default=BENCH / "results", help="where JSON and plot go")
    parser.add_argument("--fresh", action="store_true", help="regenerate data and re-import")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = [s for s in steps if s not in ALL_STEPS + EXTRA_STEPS]
    if unknown:
        parser.error(f"unknown steps {unknown}; known: {', '.join(ALL_STEPS + EXTRA_STEPS)}")
    result = run_suite(
        args.scale,
        seed=args.seed,
        steps=steps,
        work_root=args.work.resolve(),
        results_dir=args.results.resolve(),
        queries=args.queries,
        timeout=args.timeout,
        fresh=args.fresh,
        plot=not args.no_plot,
    )
    print(report.markdown_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
