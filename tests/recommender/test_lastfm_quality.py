"""Real data: Last.fm 2k (hetrec2011) from ../shared. Slow; skipped with a reason without it.

Figures to reach (README of the data set; implicit train_test_split(X, 0.8, random_state=1),
implicit's precision_at_k with K=10): popularity 0.079; the original settings 0.135; the
best hand-tried 0.178; 0.223 found by searching on the test split itself (a ceiling, not a
method). `train --tune` chooses on validation data only and must reach 0.21.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import pytest
from environment import require_lastfm

from recommender.cli import train as train_command
from recommender.cli.main import main as cli_main
from recommender.config import DataConfig, load_config
from recommender.dataset import Dataset
from recommender.evaluation.calibration import calibrate_novelty
from recommender.evaluation.protocols import evaluate
from recommender.ranking import PLAIN_DEFAULT, DefaultRanking
from recommender.store import ModelStore

pytestmark = [pytest.mark.slow, pytest.mark.shared]


def import_lastfm(root: Path) -> None:
    """The product's own importer, as its help shows for this data set."""
    folder = require_lastfm()
    config_path = root / "import.toml"
    config_path.write_text(f'[data]\nroot = "{root / "data"}"\n', encoding="utf-8")
    assert (
        cli_main(
            [
                "--config",
                str(config_path),
                "data",
                "import-csv",
                "--interactions",
                str(folder / "user_artists.dat"),
                "--catalog",
                str(folder / "artists.dat"),
                "--catalog-header",
                "--catalog-item-col",
                "0",
                "--title-col",
                "1",
                "--artist-col",
                "1",
                "--name",
                "lastfm",
                "--no-progress",
            ]
        )
        == 0
    )


@pytest.fixture(scope="module")
def lastfm(tmp_path_factory):
    require_lastfm()
    root = tmp_path_factory.mktemp("lastfm")
    # The project's own config.toml, so its [training] defaults are what is measured.
    project = load_config(environ={})
    config = dataclasses.replace(
        project,
        data=DataConfig(root=str(root / "data"), default_dataset="lastfm"),
        bot=dataclasses.replace(project.bot, database=str(root / "none.sqlite3")),
    )
    import_lastfm(root)
    return config, Dataset.open(config.datasets_dir, "lastfm")


def test_lastfm_import_matches_the_published_counts(lastfm):
    _, dataset = lastfm
    assert (dataset.n_users, dataset.n_items, dataset.interactions.nnz) == (1892, 17632, 92834)


def test_tune_reaches_the_target_on_the_untouched_test_split(lastfm, capsys):
    config, dataset = lastfm
    parser = argparse.ArgumentParser()
    train_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", "--dataset", "lastfm", "--tune", "--quiet"])
    args.config_obj = config
    assert args.func(args) == 0
    print(capsys.readouterr().out)  # shown with -s: the trials, the choice, the figures
    store = ModelStore.for_dataset(config.models_dir, "lastfm")
    manifest = store.read_manifest(store.current_version())
    metrics = manifest["metrics"]
    assert (metrics["protocol"], metrics["k"], metrics["seed"], metrics["train_share"]) == ("holdout", 10, 1, 0.8)
    assert metrics["baseline"]["precision@10"] == pytest.approx(0.079, abs=0.001)
    assert metrics["model"]["precision@10"] >= 0.21
    assert manifest["tuning"]["trials"] >= 1 and manifest["tuning"]["validation_seed"] == 2

    # "Similar" answers a person would accept: Radiohead's neighbours are its members and
    # alternative/indie bands, not the pop charts.
    model = store.load_serving(dataset)
    radiohead = int(np.flatnonzero(dataset.items["title"].to_numpy() == "Radiohead")[0])
    indices, scores = model.similar_items(np.array([radiohead]), 15)
    neighbours = {dataset.title(i) for i in indices}
    alternative = {
        "Thom Yorke",
        "Jonny Greenwood",
        "Sigur Rós",
        "Muse",
        "Coldplay",
        "Blur",
        "Beck",
        "Arcade Fire",
        "Placebo",
        "Interpol",
        "Bloc Party",
        "The Smashing Pumpkins",
        "Pink Floyd",
    }
    charts = {"Britney Spears", "Lady Gaga", "Rihanna", "Katy Perry", "Beyoncé", "Christina Aguilera"}
    assert len(alternative & neighbours) >= 3 and not charts & neighbours, neighbours
    assert scores.min() > 0 and scores.max() <= 1.0 + 1e-5


@pytest.mark.parametrize("seed", [2, 3])
def test_config_defaults_hold_up_on_splits_not_used_to_choose_them(lastfm, seed):
    config, dataset = lastfm
    params = config.training
    report = evaluate(dataset, params, "holdout", 10, seed)
    assert report["model"]["precision@10"] >= 0.20
    assert report["model"]["precision@10"] > 2.5 * report["baseline"]["precision@10"]


def test_the_default_chosen_on_validation_beats_popularity_on_the_test_listeners(lastfm):
    """The targets for /soundalike, with the most played seed and with every seed: the default
    chosen on validation listeners only beats "most listened" on hit@10 and long-tail hit@10, at
    10x its coverage, with popular and deep cuts on either side of it."""
    config, dataset = lastfm
    evaluation = config.evaluation
    # As `train` calibrates: the configuration's split, k and serving settings.
    novelty = calibrate_novelty(dataset, config.training, config, report=lambda line: None)
    defaults = {command: DefaultRanking(**setting) for command, setting in novelty["default"].items()}
    assert defaults["similar"] != PLAIN_DEFAULT, "on Last.fm the model's own order is not the best default"
    report = evaluate(
        dataset,
        config.training,
        "item2item",
        10,
        evaluation.random_state,
        knobs=True,
        deep_beta=novelty["deep_beta"],
        defaults=defaults,
    )
    model, baseline = report["model"], report["baseline"]
    assert model["hit_rate@10"] > baseline["hit_rate@10"]
    assert model["hit_rate@10_longtail"] > baseline["hit_rate@10_longtail"]
    assert model["coverage"] >= 10 * baseline["coverage"]
    assert model["hit_rate@10"] > report["plain"]["hit_rate@10"], "the chosen default improves on the plain order"
    popular, balanced, deep = (report["knobs"][level] for level in ("popular", "balanced", "deep"))
    assert popular["mean_listeners"] > balanced["mean_listeners"] > deep["mean_listeners"]
    # With every artist of each test listener as the seed in turn, too.
    every = evaluate(
        dataset, config.training, "item2item", 10, evaluation.random_state, seed_choice="all", defaults=defaults
    )
    model, baseline = every["model"], every["baseline"]
    assert every["item2item_setup"]["seed_choice"] == "all"
    assert model["hit_rate@10"] > baseline["hit_rate@10"]
    assert model["hit_rate@10_longtail"] > baseline["hit_rate@10_longtail"]
    assert model["coverage"] >= 10 * baseline["coverage"]
