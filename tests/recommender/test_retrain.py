"""Retrain: feedback rows, promote and refuse, the one-at-a-time lock, a store that survives a kill."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from feedback_logs import LOG_KINDS, log_location
from paths import PROJECT_ROOT
from planted_data import ITEMS_PER_GENRE, write_config, write_planted_dataset

from recommender import retrain as retrain_module
from recommender.cli.main import main as cli_main
from recommender.config import TrainParams, load_config
from recommender.errors import ModelError
from recommender.evaluation.calibration import calibrate_deep
from recommender.feedback.log import FeedbackLog
from recommender.retrain import LOCK_NAME, RetrainBusy, RetrainLock, feedback_rows, retrain
from recommender.store import ModelStore


@pytest.fixture
def env(tmp_path):
    config_path = write_config(tmp_path, "[evaluation]\nk = 5\n")
    config = load_config(config_path)
    dataset = write_planted_dataset(config.datasets_dir)
    return config_path, config, dataset


def train_first_model(config_path) -> None:
    assert cli_main(["--config", str(config_path), "train", "--dataset", "planted", "--no-eval", "--quiet"]) == 0


def genre_fans(members: int = 3):
    """Feedback that agrees with the data: each member likes songs of one genre."""

    def read(db_path):
        return [(f"discord:{m}", f"song{m * ITEMS_PER_GENRE + i}") for m in range(members) for i in range(4)]

    return read


def dead_pid() -> int:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    return int(finished.stdout)


def test_feedback_rows_are_one_listener_per_member(env):
    _, _, dataset = env
    pairs = [
        ("discord:1", "song0"),
        ("discord:1", "song0"),
        ("discord:1", "song3"),
        ("discord:2", "song7"),
        ("discord:2", "not-in-catalog"),
    ]
    rows = feedback_rows(dataset, pairs, weight=5.0)
    assert rows.matrix.shape == (2, dataset.n_items)
    assert rows.members == 2 and rows.likes == 3 and rows.unknown_items == 1
    assert rows.matrix[0].toarray().ravel()[[0, 3]].tolist() == [5.0, 5.0], "a like is a play count of the weight"
    assert rows.matrix.sum() == 15.0
    with pytest.raises(ModelError, match="weight must be above 0"):
        feedback_rows(dataset, pairs, weight=0)


@pytest.mark.parametrize("kind", LOG_KINDS)
async def test_the_default_reader_takes_the_members_likes_from_the_bots_log(request, tmp_path, kind):
    path = log_location(request, kind, tmp_path)
    assert retrain_module.default_feedback_reader(path) == []  # no log yet: nothing to learn from
    async with FeedbackLog.open(path) as log:
        shown = [(1, "song0", 0.9), (2, "song1", 0.8)]
        await log.record_answer(guild_id=1, user_id=7, command="soundalike", suggestions=shown, message_id=50)
        assert await log.record_feedback(50, 8, 1, position=1)
        assert await log.record_feedback(50, 9, -1, position=2)  # a 👎 is never a play
    assert retrain_module.default_feedback_reader(path) == [("discord:8", "song0")]


async def test_retrain_reads_the_members_likes_from_a_postgres_log(env, postgres_server, monkeypatch, capsys):
    """`retrain --feedback-db postgresql://...` (what /retrain runs when the log is on PostgreSQL):
    the likes logged there become the candidate's extra listeners."""
    config_path, _, _ = env
    train_first_model(config_path)
    url = postgres_server.fresh_url()
    async with FeedbackLog.open(url) as log:
        for member in range(3):
            shown = [(position, f"song{member * ITEMS_PER_GENRE + position}", 0.5) for position in range(1, 5)]
            await log.record_answer(guild_id=1, user_id=100, command="soundalike", suggestions=shown, message_id=member)
            assert await log.record_feedback(member, 1000 + member, 1)  # a whole-message 👍: four likes
    argv = ["--config", str(config_path), "retrain", "--dataset", "planted", "--tolerance", "1"]
    assert cli_main([*argv, "--feedback-db", url]) == 0
    store = ModelStore.for_dataset(load_config(config_path).models_dir, "planted")
    manifest = store.read_manifest("v2")
    assert (manifest["feedback"]["members"], manifest["feedback"]["likes"]) == (3, 12)
    assert manifest["feedback"]["database"] == url
    # The same log named by the config (as the bot's /retrain passes it) is read the same way.
    monkeypatch.setenv("SOUNDALIKE_BOT__DATABASE", url)
    capsys.readouterr()
    assert cli_main(argv) == 0
    assert "[feedback] 12 liked songs from 3 members" in capsys.readouterr().out


def test_candidate_is_promoted_when_not_worse(env):
    config_path, config, dataset = env
    train_first_model(config_path)
    stages = []
    result = retrain(
        config,
        "planted",
        read_feedback=genre_fans(),
        tolerance=0.05,
        report=lambda stage, progress, message: stages.append((stage, progress)),
    )
    assert result["promoted"] is True and result["version"] == "v2"
    metrics = result["metrics"]
    assert metrics["metric"] == "precision@5"
    assert metrics["candidate"]["precision@5"] >= metrics["current"]["precision@5"] - 0.05
    store = ModelStore.for_dataset(config.models_dir, "planted")
    assert store.current_version() == "v2"
    manifest = store.read_manifest("v2")
    assert manifest["parent"] == "v1" and manifest["feedback"]["members"] == 3
    assert manifest["feedback"]["likes"] == 12
    assert manifest["training"]["users"] == dataset.n_users + 3
    assert manifest["dataset"]["fingerprint"] == dataset.fingerprint, "served against the same catalog"
    # Deep cuts are calibrated for the retrained model's own data (dataset + feedback), as train does.
    calibrated = calibrate_deep(
        dataset,
        TrainParams.from_dict(manifest["parameters"]),
        k=config.evaluation.k,
        seed=config.evaluation.random_state,
        train_share=config.evaluation.train_share,
        per_artist_cap=config.serving.per_artist_cap,
        interactions=sp.vstack(
            [dataset.interactions, feedback_rows(dataset, genre_fans()(None), config.bot.feedback_weight).matrix]
        ),
    )
    assert manifest["novelty"] == calibrated
    assert store.load(dataset).n_items == dataset.n_items
    assert [p for _, p in stages] == sorted(p for _, p in stages)
    assert not (store.folder / LOCK_NAME).exists()


def test_candidate_is_refused_when_feedback_makes_it_worse(env):
    config_path, config, dataset = env
    train_first_model(config_path)
    rng = np.random.default_rng(0)

    def noise(db_path):
        # Many "members" liking random songs across every genre, with a huge weight.
        return [(f"discord:{m}", f"song{i}") for m in range(400) for i in rng.choice(dataset.n_items, 8, replace=False)]

    result = retrain(config, "planted", read_feedback=noise, feedback_weight=500.0, tolerance=0.0)
    assert result["promoted"] is False and result["version"] == "v1"
    assert "below current v1" in result["reason"] and "kept v1" in result["reason"]
    assert result["metrics"]["candidate"]["precision@5"] < result["metrics"]["current"]["precision@5"]
    store = ModelStore.for_dataset(config.models_dir, "planted")
    assert store.versions() == ["v1"] and store.current_version() == "v1"


def test_first_model_is_promoted_without_comparison(env):
    _, config, _ = env
    result = retrain(config, "planted", read_feedback=lambda path: [])
    assert result["promoted"] and result["version"] == "v1"
    assert "no current model" in result["reason"]


def test_one_retrain_at_a_time(env, tmp_path):
    _, config, _ = env
    lock_path = config.models_dir / "planted" / LOCK_NAME
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock_path.write_text(f"{sleeper.pid} 2024-01-01T00:00:00Z\n")
        with pytest.raises(RetrainBusy, match=f"already running \\(pid {sleeper.pid}\\)"):
            retrain(config, "planted", read_feedback=lambda path: [])
        assert lock_path.read_text().startswith(str(sleeper.pid)), "a live owner's lock stays"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_stale_lock_of_a_dead_process_is_taken_over(env):
    _, config, _ = env
    lock_path = config.models_dir / "planted" / LOCK_NAME
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path.write_text(f"{dead_pid()} 2024-01-01T00:00:00Z\n")
    with RetrainLock(lock_path) as lock:
        assert lock.held and lock_path.read_text().startswith(str(os.getpid()))
    assert not lock_path.exists()


def test_killed_retrain_leftovers_are_cleaned_and_store_stays_consistent(env):
    config_path, config, _ = env
    train_first_model(config_path)
    store = ModelStore.for_dataset(config.models_dir, "planted")
    pid = dead_pid()
    # What a retrain killed while publishing leaves: its lock and a half-written temp folder.
    (store.folder / LOCK_NAME).write_text(f"{pid}\n")
    half = store.folder / f".tmp-{pid}-123"
    half.mkdir()
    (half / "item_factors.npy").write_bytes(b"\x93NUMPY")
    assert store.load_serving().version == "v1", "serving is unaffected"
    result = retrain(config, "planted", read_feedback=genre_fans(), tolerance=1.0)
    assert result["promoted"] and store.current_version() == "v2"
    assert not half.exists() and not (store.folder / LOCK_NAME).exists()
    assert sorted(p.name for p in store.folder.iterdir()) == ["current", "served.json", "v1", "v2"]


def test_damaged_current_is_replaced_by_comparing_with_what_is_served(env):
    config_path, config, _ = env
    train_first_model(config_path)
    train_first_model(config_path)
    store = ModelStore.for_dataset(config.models_dir, "planted")
    (store.folder / "v2" / "item_factors.npy").write_bytes(b"damaged")
    messages = []
    result = retrain(
        config,
        "planted",
        read_feedback=genre_fans(),
        tolerance=1.0,
        report=lambda stage, progress, message: messages.append(message),
    )
    assert any("v2: item_factors.npy fails its checksum" in m for m in messages)
    assert "current v1" in result["reason"], "compared with the version actually served"
    assert result["promoted"] and store.current_version() == "v3"
    assert store.read_manifest("v3")["retrain"]["compared_with"] == "v1"


def test_a_retrain_killed_mid_way_leaves_a_consistent_store(env):
    config_path, config, _ = env
    train_first_model(config_path)
    store = ModelStore.for_dataset(config.models_dir, "planted")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "recommender",
            "--config",
            str(config_path),
            "retrain",
            "--dataset",
            "planted",
            "--json-progress",
            "--tolerance",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=PROJECT_ROOT,
    )
    try:
        for line in process.stdout:  # bounded: the process ends after "done" at the latest
            if json.loads(line)["stage"] in ("train", "done"):
                break
        process.kill()
    finally:
        process.wait(timeout=60)
    # Wherever the kill landed, what is served is a whole, verified model ...
    assert store.load_serving().version in ("v1", "v2")
    for version in store.versions():
        store.verify(version)
    # ... and the next retrain takes over the lock and clears any leftovers.
    result = retrain(config, "planted", read_feedback=genre_fans(), tolerance=1.0)
    assert result["promoted"]
    assert not [p.name for p in store.folder.iterdir() if p.name.startswith(".")]
