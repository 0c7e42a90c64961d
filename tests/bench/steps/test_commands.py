"""bench.steps.commands: the product commands the suite runs are ones the product's parser takes."""

from __future__ import annotations

import json
import sys

from bench.steps.commands import import_msd_argv, train_argv, trained_model_figures
from recommender.cli.main import build_parser


def test_import_msd_reads_the_generated_files_into_the_bench_dataset(tmp_path):
    argv = import_msd_argv(tmp_path)
    assert argv[:3] == [sys.executable, "-m", "recommender"]
    parsed = build_parser().parse_args(argv[3:])  # an unknown flag would exit here
    assert str(parsed.triplets) == str(tmp_path / "msd" / "train_triplets.txt")
    assert str(parsed.tracks) == str(tmp_path / "msd" / "unique_tracks.txt")
    assert (parsed.name, parsed.replace) == ("msd", True)


def test_train_fits_als_64_by_15_once_without_evaluating():
    argv = train_argv()
    assert argv[:3] == [sys.executable, "-m", "recommender"]
    parsed = build_parser().parse_args(argv[3:])
    assert (parsed.dataset, parsed.algorithm, parsed.factors, parsed.iterations) == ("msd", "als", 64, 15)


def test_trained_model_figures_come_from_the_newest_manifest(tmp_path):
    models = tmp_path / "data" / "models" / "msd"
    (models / "v1").mkdir(parents=True)
    (models / "v1" / "manifest.json").write_text(
        json.dumps({"training": {"seconds": 30.0}, "parameters": {"iterations": 15, "factors": 64}})
    )
    assert trained_model_figures(tmp_path) == {
        "model": "msd/v1",
        "fit_seconds": 30.0,
        "factors": 64,
        "iterations": 15,
        "per_iteration_s": 2.0,  # no per-iteration times kept: the whole fit / iterations
    }
    assert trained_model_figures(tmp_path / "nothing") == {}
