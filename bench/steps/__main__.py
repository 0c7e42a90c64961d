"""``python -m bench.steps <step> --scale S --work DIR --out FILE``: run one step, write its figures."""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from bench.steps.context import Context

Step = Callable[[Context], dict]

STEP_NAMES = (
    "import-anchor",
    "load",
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
    "ann-compare",
    "import-listenbrainz",
    "burst",
    "burst-processes",
)


def step_function(name: str) -> Step:
    """The function that measures step ``name``, importing its module and no other: each step's
    process is measured whole, so another group's imports would count in its time and memory."""
    match name:
        case "import-anchor":
            from bench.steps.importing import import_anchor as step
        case "load":
            from bench.steps.loading import load as step
        case "train-implicit":
            from bench.steps.training import train_implicit as step
        case "train-spark":
            from bench.steps.spark import train_spark as step
        case "open-first":
            from bench.steps.startup import first_start as step
        case "open":
            from bench.steps.startup import start as step
        case "compute":
            from bench.steps.compute import compute as step
        case "throughput":
            from bench.steps.throughput import throughput as step
        case "complete":
            from bench.steps.autocomplete import autocomplete as step
        case "retrain":
            from bench.steps.retrain import retrain as step
        case "resolver":
            from bench.steps.resolver import resolver as step
        case "ann":
            from bench.steps.ann import ann_step as step
        case "ann-compare":
            from bench.steps.ann_compare import ann_compare as step
        case "import-listenbrainz":
            from bench.steps.listenbrainz import import_listenbrainz as step
        case "burst":
            from bench.steps.burst import burst as step
        case "burst-processes":
            from bench.steps.burst import burst_in_processes as step
        case _:
            raise ValueError(f"unknown step {name!r}; known: {', '.join(STEP_NAMES)}")
    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.steps")
    parser.add_argument("step", choices=sorted(STEP_NAMES))
    parser.add_argument("--scale", type=float, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=2012)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    ctx = Context(args.scale, args.work, args.seed, args.queries)
    try:
        figures = {"status": "ok", **step_function(args.step)(ctx)}
        code = 0
    except Exception as error:  # a broken step is reported, and the rest of the suite goes on
        traceback.print_exc()
        figures, code = {"status": "failed", "reason": f"{type(error).__name__}: {error}"}, 1
    args.out.write_text(json.dumps(figures, indent=2, default=str) + "\n", encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main())
