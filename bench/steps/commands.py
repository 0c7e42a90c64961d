"""The product's own command lines the suite runs as they are, each measured as one process,
and what the train command leaves behind for the report.

The arguments are written out: a flag the command line no longer takes makes the step fail
with argparse's message (tests/bench/steps/test_commands.py parses them with the product's
parser, so that shows in the tests first).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.generate import TRACKS, TRIPLETS
from bench.steps.context import DATASET_NAME


def import_msd_argv(work: Path) -> list[str]:
    """``python -m recommender data import-msd ...`` for the generated files."""
    msd = Path(work).resolve() / "msd"
    return [
        sys.executable,
        "-m",
        "recommender",
        "data",
        "import-msd",
        "--triplets",
        str(msd / TRIPLETS),
        "--tracks",
        str(msd / TRACKS),
        "--name",
        DATASET_NAME,
        "--no-progress",
        "--replace",  # the work folder is reused from run to run: import again on purpose
    ]


def train_argv() -> list[str]:
    """``python -m recommender train`` for ALS 64 x 15 on the bench dataset, publishing it."""
    return [
        sys.executable,
        "-m",
        "recommender",
        "train",
        "--dataset",
        DATASET_NAME,
        "--algorithm",
        "als",
        "--factors",
        "64",
        "--iterations",
        "15",
        # The held-out evaluation and the novelty calibration fit more models; the figure here is one training.
        "--no-eval",
        "--no-calibrate",
        "--quiet",
    ]


def trained_model_figures(work: Path) -> dict:
    """Seconds per iteration from the newest model manifest the product's store wrote."""
    models = Path(work) / "data" / "models"
    manifests = sorted(models.rglob("manifest.json"), key=lambda p: p.stat().st_mtime) if models.exists() else []
    if not manifests:
        return {}
    try:
        manifest = json.loads(manifests[-1].read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    seconds = (manifest.get("training") or {}).get("seconds")
    median_iteration = (manifest.get("training") or {}).get("median_iteration_seconds")
    iterations = (manifest.get("parameters") or {}).get("iterations")
    figures = {
        "model": str(manifests[-1].parent.relative_to(models)),
        "fit_seconds": seconds,
        "factors": (manifest.get("parameters") or {}).get("factors"),
        "iterations": iterations,
    }
    # The median of implicit's own per-iteration times, as the train-implicit anchor reports;
    # models from before the manifest kept them fall back to the whole fit / iterations.
    if median_iteration:
        figures["per_iteration_s"] = median_iteration
    elif seconds and iterations:
        figures["per_iteration_s"] = round(seconds / iterations, 4)
    return figures
