"""Against a standalone Spark cluster this session starts on 127.0.0.1 (a master, two workers):
``train --engine spark`` publishes a model that serving, ``models --verify`` and rollback treat
as any other; ``data import-csv --engine spark`` writes the same data as the in-memory importer,
and a model trained on it from Parquet answers with co-listener reasons."""

from __future__ import annotations

import json
from pathlib import Path

import msd_samples
import numpy as np
import pytest
from environment import require_lastfm, write_config
from spark_cluster import SparkCluster

from recommender.cli.main import main as cli_main
from recommender.config import load_config
from recommender.dataset import Dataset
from recommender.service import SoundalikeService
from recommender.store import ModelStore

pytestmark = pytest.mark.slow


def test_train_on_the_cluster_publishes_a_model_serving_cannot_tell_apart(tmp_path, spark_cluster: SparkCluster):
    config_path = write_config(tmp_path)
    config = load_config(config_path)

    def cli(*argv: str) -> int:
        return cli_main(["--config", str(config_path), *argv])

    assert cli("data", "demo", "--users", "1500") == 0
    assert cli("train", "--no-calibrate", "--quiet") == 0  # v1: implicit
    url = spark_cluster.master_url
    assert cli("train", "--engine", "spark", "--master", url, "--no-calibrate", "--quiet") == 0  # v2

    store = ModelStore.for_dataset(config.models_dir, "demo")
    assert store.current_version() == "v2"
    manifest = store.read_manifest("v2")
    assert manifest["engine"] == "spark" and store.read_manifest("v1")["engine"] == "implicit"
    assert manifest["training"]["spark"]["master"] == url
    assert manifest["training"]["spark"]["default_parallelism"] == 2  # both workers took part
    # The same evaluation gate: held-out figures beside popularity, on the same split as v1's.
    assert manifest["metrics"]["baseline"] == store.read_manifest("v1")["metrics"]["baseline"]
    assert manifest["metrics"]["model"]["precision@10"] > 2 * manifest["metrics"]["baseline"]["precision@10"]

    assert cli("models", "--verify") == 0  # checksums, contents and dataset of both versions
    service = SoundalikeService.open(config)
    assert service.model.version == "v2"
    seed = service.dataset.item_ids[int(np.argmax(service.dataset.listeners))]
    answer = service.similar(seed, count=5)
    assert len(answer.suggestions) == 5
    assert all(s.shared_listeners is not None and s.shared_listeners > 0 for s in answer.suggestions[:3])
    assert cli("rollback") == 0
    assert store.current_version() == "v1"


def _lastfm_argv(folder: Path, config: Path, name: str, *extra: str) -> list[str]:
    return [
        "--config",
        str(config),
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
        name,
        "--no-progress",
        *extra,
    ]


def test_spark_import_is_the_in_memory_import_and_trains_from_parquet(
    tmp_path, monkeypatch, spark_cluster: SparkCluster
):
    folder = require_lastfm()
    config = write_config(tmp_path, dataset="lastfm-spark")
    assert cli_main(_lastfm_argv(folder, config, "lastfm")) == 0
    url = spark_cluster.master_url
    assert cli_main(_lastfm_argv(folder, config, "lastfm-spark", "--engine", "spark", "--master", url)) == 0
    datasets = tmp_path / "data" / "datasets"
    memory, spark = Dataset.open(datasets, "lastfm"), Dataset.open(datasets, "lastfm-spark")
    assert spark.is_parquet and not (spark.path / "interactions.npz").exists()
    assert (spark.n_users, spark.n_items, spark.n_interactions) == (1892, 17632, 92834)
    assert (memory.n_users, memory.n_items, memory.n_interactions) == (1892, 17632, 92834)

    # Same catalog, same listeners, same plays, item by item (the numbering differs: ids in byte order).
    order = {item_id: index for index, item_id in enumerate(memory.item_ids)}
    to_memory = np.array([order[item_id] for item_id in spark.item_ids])
    assert (spark.items["title"].to_numpy() == memory.items["title"].to_numpy()[to_memory]).all()
    assert (spark.listeners == memory.listeners[to_memory]).all()
    memory_users, spark_users = memory.user_ids, spark.user_ids
    for item in np.flatnonzero(spark.listeners)[::97]:
        mine = {spark_users[u] for u in spark.item_user.of(item)}
        assert mine == {memory_users[u] for u in memory.item_user.of(to_memory[item])}
    by_id = memory.interactions[:, to_memory]
    user_order = {user_id: index for index, user_id in enumerate(memory_users)}
    rows = np.array([user_order[user_id] for user_id in spark_users])
    assert (spark.interactions != by_id[rows]).nnz == 0  # the Parquet plays, summed, are the matrix's
    assert json.loads((spark.path / "manifest.json").read_text())["source"]["engine"] == "spark"

    # Trained and evaluated from the Parquet folder by the cluster, the matrix never built here;
    # served with co-listener reasons like any model.
    def no_matrix(self: Dataset) -> None:
        raise AssertionError("the users x songs matrix was built in the driver")

    with monkeypatch.context() as patched:
        patched.setattr(Dataset, "interactions", property(no_matrix))
        argv = ["--config", str(config), "train", "--engine", "spark", "--master", url, "--no-calibrate", "--quiet"]
        assert cli_main(argv) == 0
    store = ModelStore.for_dataset(load_config(config).models_dir, "lastfm-spark")
    metrics = store.read_manifest(store.current_version())["metrics"]
    assert metrics["split"].startswith("a hash of (user, song, seed)") and metrics["users_evaluated"] > 1000
    assert metrics["model"]["precision@10"] > metrics["baseline"]["precision@10"] + 0.05, metrics
    service = SoundalikeService.open(load_config(config))
    assert service.model.manifest["engine"] == "spark"
    radiohead = next(i for i in range(spark.n_items) if spark.title(i) == "Radiohead")
    answer = service.similar(spark.item_ids[radiohead], count=10)
    titles = {s.title for s in answer.suggestions}
    assert titles & {"Thom Yorke", "Muse", "Coldplay", "Placebo", "Blur", "Beck", "Pink Floyd", "Arcade Fire"}, titles
    assert answer.suggestions[0].shared_listeners and "listeners of Radiohead" in answer.suggestions[0].reason


def test_bad_rows_stop_a_spark_import_and_leave_nothing(tmp_path, capsys, spark_cluster: SparkCluster):
    plays = tmp_path / "plays.csv"
    plays.write_text("user,item,count\nu1,a,3\nu2,a,-1\nu2,b,2\n", encoding="utf-8")
    config = write_config(tmp_path)
    argv = ["--config", str(config), "data", "import-csv", "--interactions", str(plays), "--name", "bad"]
    argv += ["--engine", "spark", "--master", spark_cluster.master_url, "--no-progress"]
    assert cli_main(argv) == 2
    said = capsys.readouterr().err
    assert "1 rows have an empty user or item or a count that is not a positive number" in said, said
    assert "item 'a', count -1.0" in said and "--on-error skip" in said
    assert not (tmp_path / "data" / "datasets" / "bad").exists()
    assert cli_main([*argv, "--on-error", "skip"]) == 0
    assert "Skipped 1 rows" in capsys.readouterr().out
    skipped = Dataset.open(tmp_path / "data" / "datasets", "bad")
    assert (skipped.n_users, skipped.n_items, skipped.n_interactions) == (2, 2, 2)


def test_spark_msd_import_from_a_file_url_is_the_in_memory_import(tmp_path, spark_cluster: SparkCluster):
    (tmp_path / "train_triplets.txt").write_text(msd_samples.TRIPLETS, encoding="utf-8")
    (tmp_path / "unique_tracks.txt").write_text(msd_samples.TRACKS, encoding="utf-8")
    config = write_config(tmp_path)
    argv = ["--config", str(config), "data", "import-msd", "--no-progress"]
    argv += ["--triplets", str(tmp_path / "train_triplets.txt"), "--tracks", str(tmp_path / "unique_tracks.txt")]
    assert cli_main(argv) == 0
    urls = [
        "--triplets",
        (tmp_path / "train_triplets.txt").as_uri(),
        "--tracks",
        (tmp_path / "unique_tracks.txt").as_uri(),
    ]
    spark_argv = [*argv[:5], *urls, "--name", "msd-spark", "--engine", "spark", "--master", spark_cluster.master_url]
    assert cli_main(spark_argv) == 0
    datasets = tmp_path / "data" / "datasets"
    memory, spark = Dataset.open(datasets, "msd"), Dataset.open(datasets, "msd-spark")
    # Songs sorted by id in both; S1 titled by its smallest track, S9 (no catalog row) by its id, S4 unplayed.
    assert spark.items[["item_id", "title", "artist"]].equals(memory.items[["item_id", "title", "artist"]])
    assert spark.items["title"].tolist() == ["Title A", "Title C", "Title D", "Title E", "S9"]
    assert (spark.listeners == memory.listeners).all()
    rows = [list(memory.user_ids).index(user_id) for user_id in spark.user_ids]
    assert (spark.interactions != memory.interactions[rows]).nnz == 0  # repeated lines summed: u1/S3 = 5
