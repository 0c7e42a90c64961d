"""The demo `make run` serves (6,000 synthetic listeners, as shipped): the /soundalike default
chosen on validation listeners beats "most listened" on the held-out test listeners, with the
song each played most and with every song of theirs as the seed. Slow: a full demo, a
calibration and every seed of 1,200 listeners."""

from __future__ import annotations

import pytest
from environment import write_config

from recommender.cli.main import main as cli_main
from recommender.config import load_config
from recommender.dataset import Dataset
from recommender.evaluation.calibration import calibrate_novelty
from recommender.evaluation.protocols import evaluate
from recommender.importers.demo import DEFAULT_USERS
from recommender.ranking import DefaultRanking

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo-quality")
    config_path = write_config(root)
    assert cli_main(["--config", str(config_path), "data", "demo", "--users", str(DEFAULT_USERS)]) == 0
    config = load_config(config_path)
    # The project's own [training], [evaluation] and [serving] settings: what `make run` trains with.
    project = load_config(environ={})
    dataset = Dataset.open(config.datasets_dir, "demo")
    # As `train` calibrates: the configuration's split, k and serving settings.
    novelty = calibrate_novelty(dataset, project.training, project, report=lambda line: None)
    return project, dataset, novelty


@pytest.mark.parametrize("seed_choice", ["most-played", "all"])
def test_the_demo_default_beats_popularity_on_the_test_listeners(demo, seed_choice):
    project, dataset, novelty = demo
    defaults = {command: DefaultRanking(**setting) for command, setting in novelty["default"].items()}
    assert novelty["default_choice"]["similar"]["beats_popularity"], "validation found a sure gain"
    report = evaluate(
        dataset,
        project.training,
        "item2item",
        project.evaluation.k,
        project.evaluation.random_state,
        train_share=project.evaluation.train_share,
        per_artist_cap=project.serving.per_artist_cap,
        min_listeners=project.serving.min_listeners,
        seed_choice=seed_choice,
        defaults=defaults,
    )
    model, baseline = report["model"], report["baseline"]
    assert model["hit_rate@10"] > baseline["hit_rate@10"]
    assert model["hit_rate@10_longtail"] > baseline["hit_rate@10_longtail"]
    assert model["coverage"] >= 10 * baseline["coverage"]
