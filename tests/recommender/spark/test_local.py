"""Spark's ALS at local[2] against implicit's on the same data and split: the demo's planted genres,
and Last.fm's holdout precision@10 with the mapped settings (within 0.02)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from environment import require_lastfm

from recommender.cli.main import main as cli_main
from recommender.config import load_config
from recommender.dataset import Dataset
from recommender.evaluation.protocols import evaluate
from recommender.evaluation.tuning import tune
from recommender.importers.demo import build_demo_dataset
from recommender.model import LoadedModel
from recommender.training import fit

pytestmark = pytest.mark.slow


def genre_agreement(model: LoadedModel, dataset: Dataset, n: int = 10) -> float:
    """Share of each played song's n most similar songs that are of its genre."""
    genre = dataset.items["genre"].to_numpy()
    same = total = 0
    for seed in np.flatnonzero(dataset.listeners > 0):
        indices, _ = model.similar_items(np.array([seed]), n)
        same += int((genre[indices] == genre[seed]).sum())
        total += indices.size
    return same / total


def test_demo_spark_model_finds_the_planted_genres_as_implicit_does(tmp_path, spark_local):
    dataset = Dataset.load(build_demo_dataset(tmp_path / "demo", users=2000, seed=1))
    params = load_config(environ={}).training
    implicit = fit(params, dataset.interactions)
    spark = fit(params.replace(engine="spark", spark_master=spark_local), dataset.interactions)

    # The same artifact: factors for every catalog row, zero for songs nobody played.
    factors = spark.arrays()["item_factors"]
    assert isinstance(factors, np.ndarray)
    assert factors.shape == (dataset.n_items, params.factors) and np.isfinite(factors).all()
    played = dataset.listeners > 0
    assert not np.abs(factors[~played]).any() and (np.abs(factors[played]).sum(axis=1) > 0).all()
    fields = spark.manifest_fields()
    assert fields["engine"] == "spark" and fields["parameters"] == params.replace(engine="spark").to_dict()
    assert fields["training"]["spark"]["master"] == spark_local
    assert fields["training"]["spark"]["als"]["regParam"] < params.regularization  # ALS-WR: divided by row plays

    ours, theirs = genre_agreement(spark.loaded(), dataset), genre_agreement(implicit.loaded(), dataset)
    print(f"genre agreement@10: spark {ours:.3f}, implicit {theirs:.3f}")
    assert ours >= theirs - 0.03, (ours, theirs)
    assert ours > 0.5


def import_lastfm(root: Path) -> Dataset:
    folder = require_lastfm()
    config = root / "config.toml"
    config.write_text(f'[data]\nroot = "{root / "data"}"\n', encoding="utf-8")
    argv = ["--config", str(config), "data", "import-csv", "--interactions", str(folder / "user_artists.dat")]
    argv += ["--catalog", str(folder / "artists.dat"), "--catalog-header", "--catalog-item-col", "0"]
    assert cli_main([*argv, "--title-col", "1", "--artist-col", "1", "--name", "lastfm", "--no-progress"]) == 0
    return Dataset.open(root / "data" / "datasets", "lastfm")


def test_lastfm_holdout_precision_matches_implicits(tmp_path, spark_local):
    dataset = import_lastfm(tmp_path)
    params = load_config(environ={}).training  # the project's settings, mapped for Spark
    implicit = evaluate(dataset, params, "holdout", 10, 1)
    spark = evaluate(dataset, params.replace(engine="spark", spark_master=spark_local), "holdout", 10, 1)
    ours, theirs = spark["model"]["precision@10"], implicit["model"]["precision@10"]
    print(f"Last.fm holdout precision@10: spark {ours:.4f}, implicit {theirs:.4f}")
    assert abs(ours - theirs) <= 0.02, (ours, theirs)
    assert spark["baseline"] == implicit["baseline"]  # the same split


def test_tune_searches_with_the_spark_engine(tmp_path, spark_local):
    dataset = Dataset.load(build_demo_dataset(tmp_path / "demo", users=400, seed=2))
    base = load_config(environ={}).training.replace(engine="spark", spark_master=spark_local, iterations=5)
    result = tune(dataset.interactions, base, max_trials=2, time_budget=1e9)
    assert len(result.trials) == 2 and all(trial.params.engine == "spark" for trial in result.trials)
    assert result.best.engine == "spark" and result.best.spark_master == spark_local
    # Fitted by Spark and scored on validation like implicit's: better than popularity on test.
    assert result.test["precision@10"] > result.baseline["precision@10"]


def write_interactions_parquet(dataset: Dataset, folder: Path) -> str:
    """The dataset's plays as a Parquet folder of (user, item, count), as a Spark import writes them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    coo = dataset.interactions.tocoo()
    folder.mkdir()
    table = pa.table(
        {
            "user": pa.array(coo.row.astype(np.int32)),
            "item": pa.array(coo.col.astype(np.int32)),
            "count": pa.array(coo.data.astype(np.float32)),
        }
    )
    half = table.num_rows // 2  # two parts, as Spark writes
    pq.write_table(table.slice(0, half), folder / "part-00000.parquet")
    pq.write_table(table.slice(half), folder / "part-00001.parquet")
    return folder.resolve().as_uri()


def test_lastfm_holdout_figures_computed_on_spark_agree_with_the_in_memory_ones(tmp_path, spark_local):
    from recommender.spark.evaluation import holdout_figures

    dataset = import_lastfm(tmp_path)
    url = write_interactions_parquet(dataset, tmp_path / "plays.parquet")
    params = load_config(environ={}).training.replace(engine="spark", spark_master=spark_local)
    in_memory = evaluate(dataset, params, "holdout", 10, 1)
    on_spark = holdout_figures(
        params, url, n_users=dataset.n_users, n_items=dataset.n_items, k=10, seed=1, train_share=0.8, max_users=1000
    )
    print(f"Last.fm holdout on Spark's split: {on_spark}; in memory: {in_memory['model']} {in_memory['baseline']}")
    # Every listener with a held-out play was a candidate; 1,000 of them were drawn.
    assert on_spark["users_evaluated"] == 1000
    # Another split of the same plays, scored by the same code: the same figures within noise,
    # and the model beats popularity as it does in memory.
    for side in ("model", "baseline"):
        ours, theirs = on_spark[side]["precision@10"], in_memory[side]["precision@10"]
        assert abs(ours - theirs) <= 0.02, (side, ours, theirs)
    assert on_spark["model"]["precision@10"] > on_spark["baseline"]["precision@10"] + 0.05
