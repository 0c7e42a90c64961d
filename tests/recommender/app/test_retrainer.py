"""The retrain runner: a separate process, JSON progress lines, one at a time, clear failures.

A small stand-in program prints what ``python -m recommender retrain --json-progress`` prints,
so most tests check the runner alone; tests/bot/test_e2e.py runs the real command. The last
ones run the real retrain with faults (tests/helpers/retrain_with_faults.py): killed at any
point, or unable to write its model, it leaves a whole model serving, now and at the next start.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest
from bot_harness import WAIT, bot_world
from demo_copies import assert_store_consistent, copy_demo, fault_env
from paths import HELPERS, PROJECT_ROOT

from recommender.app.retrainer import RetrainAlreadyRunning, Retrainer, RetrainFailed
from recommender.config import Config, load_config
from recommender.service import SoundalikeService
from recommender.store import ModelStore

FAULTY_RETRAIN = HELPERS / "retrain_with_faults.py"

STAND_IN = textwrap.dedent("""
    import json, sys, time
    mode = sys.argv[1]
    root = sys.argv[2] if len(sys.argv) > 2 else ""
    def emit(**event):
        print(json.dumps(event), flush=True)
    print("a line that is not JSON", flush=True)
    emit(stage="load", progress=0.1, message="reading the feedback log")
    if mode == "slow":
        time.sleep(30)
    if mode == "error-line":
        emit(stage="error", progress=1.0, message="another retrain of demo is running (pid 42)")
        print("error: another retrain of demo is running (pid 42)", file=sys.stderr)
        sys.exit(2)
    if mode == "paths":
        emit(stage="feedback", progress=0.05, message=f"reading feedback from {root}/soundalike.sqlite3")
        emit(stage="error", progress=1.0, message=f"{root}/datasets/demo2: interactions.npz is missing")
        sys.exit(2)
    if mode == "traceback-paths":
        print("Traceback (most recent call last): ...", file=sys.stderr)
        print(f"OSError: [Errno 28] No space left on device: '{root}/models/demo/v3/item_factors.npy'",
              file=sys.stderr)
        sys.exit(1)
    if mode == "fail":
        print("Traceback (most recent call last): ...", file=sys.stderr)
        print("error: no dataset named demo", file=sys.stderr)
        sys.exit(2)
    emit(stage="train", progress=0.6, message="ALS")
    if mode != "no-done":
        emit(stage="done", promoted=True, version="v2", reason="ndcg@10 0.30 -> 0.32", metrics={"ndcg@10": 0.32})
""")


def stand_in(tmp_path, mode: str, **options) -> Retrainer:
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN, encoding="utf-8")
    return Retrainer(Config(), command=[sys.executable, str(script), mode], **options)


async def test_progress_lines_and_the_outcome_are_read(tmp_path):
    seen = []

    async def on_progress(progress):
        seen.append((progress.stage, progress.progress, progress.message))

    retrainer = stand_in(tmp_path, "ok")
    outcome = await retrainer.run(on_progress)
    assert seen == [("load", 0.1, "reading the feedback log"), ("train", 0.6, "ALS")]
    assert (outcome.promoted, outcome.version, outcome.reason) == (True, "v2", "ndcg@10 0.30 -> 0.32")
    assert outcome.metrics == {"ndcg@10": 0.32}
    assert not retrainer.running


async def ignore(progress):
    pass


async def test_a_failed_process_is_one_message_with_its_last_error_line(tmp_path):
    with pytest.raises(RetrainFailed) as failed:
        await stand_in(tmp_path, "fail").run(ignore)
    assert str(failed.value) == "The retrain failed (exit status 2): error: no dataset named demo"


async def test_an_error_line_is_the_reason_given(tmp_path):
    with pytest.raises(RetrainFailed) as failed:
        await stand_in(tmp_path, "error-line").run(ignore)
    assert str(failed.value) == "The retrain failed (exit status 2): another retrain of demo is running (pid 42)"


async def test_a_process_that_never_says_done_has_failed(tmp_path):
    with pytest.raises(RetrainFailed, match="exit status 0"):
        await stand_in(tmp_path, "no-done").run(ignore)


async def test_only_one_retrain_at_a_time(tmp_path):
    retrainer = stand_in(tmp_path, "ok")
    started = asyncio.Event()

    async def on_progress(progress):
        started.set()
        await asyncio.sleep(0.05)

    first = asyncio.create_task(retrainer.run(on_progress, started_by="ann"))
    await asyncio.wait_for(started.wait(), 10)
    assert retrainer.running
    with pytest.raises(RetrainAlreadyRunning, match="by ann"):
        await retrainer.run(ignore)
    assert (await first).promoted
    assert not retrainer.running


async def test_a_retrain_past_its_time_limit_is_stopped(tmp_path):
    retrainer = stand_in(tmp_path, "slow", timeout_s=1.0)
    with pytest.raises(RetrainFailed, match="longer than 1 s"):
        await retrainer.run(ignore)
    assert not retrainer.running


def test_command_line_carries_the_config_and_feedback_settings(tmp_path):
    config = Config()
    argv = Retrainer(config, config_path=tmp_path / "c.toml").argv()
    assert argv[:3] == [sys.executable, "-m", "recommender"]
    assert argv[3:5] == ["--config", str(tmp_path / "c.toml")]
    assert argv[5:] == [
        "retrain",
        "--dataset",
        "demo",
        "--feedback-db",
        str(config.database_path),
        "--feedback-weight",
        "5.0",
        "--tolerance",
        "0.005",
        "--json-progress",
    ]


def test_a_postgres_log_reaches_the_retrain_process_through_its_environment():
    url = "postgresql://bot:s3cret@db.example.org:5432/soundalike"
    config = Config()
    config = dataclasses.replace(config, bot=dataclasses.replace(config.bot, database=url))
    retrainer = Retrainer(config)
    argv = retrainer.argv()
    assert "--feedback-db" not in argv and not any("s3cret" in part for part in argv)  # ps shows argv
    environment = retrainer.environment()
    assert environment["SOUNDALIKE_BOT__DATABASE"] == url
    # The process's config reads it back as the same log.
    assert load_config(PROJECT_ROOT / "config.toml", environ=environment).database_location == url
    assert Retrainer(Config()).environment().get("SOUNDALIKE_BOT__DATABASE") == os.environ.get(
        "SOUNDALIKE_BOT__DATABASE"
    )


@pytest.mark.parametrize("mode", ["paths", "traceback-paths"])
async def test_no_server_path_reaches_what_the_caller_shows(tmp_path, caplog, mode):
    # A data root with a space in it: the general path pattern stops at spaces; the root does not.
    config = Config()
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, root=str(tmp_path / "server data")))
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN, encoding="utf-8")
    retrainer = Retrainer(config, command=[sys.executable, str(script), mode, str(config.data_root)])
    seen = []

    async def on_progress(progress):
        seen.append(progress.message)

    with caplog.at_level(logging.INFO, logger="recommender.app.retrainer"), pytest.raises(RetrainFailed) as failed:
        await retrainer.run(on_progress)
    shown = [*seen, str(failed.value)]
    assert not [text for text in shown if str(tmp_path) in text or "server data" in text], shown
    if mode == "paths":
        assert seen[1] == "reading feedback from soundalike.sqlite3"
        assert str(failed.value) == "The retrain failed (exit status 2): demo2: interactions.npz is missing"
    else:
        assert str(failed.value) == (
            "The retrain failed (exit status 1): OSError: [Errno 28] No space left on device: 'item_factors.npy'"
        )
    assert str(config.data_root) in caplog.text, "the whole text is logged for the operator"


# -- a retrain killed anywhere, or unable to write: a whole model serves on ------------------

# Each progress stage the retrain reports (the kill lands right after its first line), then
# the spots inside publishing (see tests/helpers/retrain_with_faults.py).
KILL_POINTS = [
    "load",
    "feedback",
    "evaluate",
    "decide",
    "train",
    "publish",
    "arrays-written",
    "before-pointer",
    "after-pointer",
]


def start_faulty_retrain(config_path: Path, **faults: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            str(FAULTY_RETRAIN),
            "--config",
            str(config_path),
            "retrain",
            "--dataset",
            "demo",
            "--json-progress",
            "--tolerance",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=PROJECT_ROOT,
        env=fault_env(**faults),
    )


def wait_paused(process: subprocess.Popen) -> dict:
    """Read progress lines until the retrain says it paused (it sleeps there, bounded)."""
    stages = []
    for line in process.stdout:
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        if event["stage"] == "paused":
            return event
        stages.append(event["stage"])
    raise AssertionError(f"the retrain ended without pausing; it reported {stages}")


@pytest.mark.slow
@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_retrain_killed_at_any_point_leaves_a_whole_model_serving(tmp_path, demo_env, point):
    config_path, config = copy_demo(tmp_path, demo_env)
    store = ModelStore.for_dataset(config.models_dir, "demo")
    process = start_faulty_retrain(config_path, SOUNDALIKE_TEST_PAUSE_AT=point)
    try:
        assert wait_paused(process)["at"] == point
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=WAIT)
    assert process.returncode == -signal.SIGKILL
    # Only a kill after `current` moved serves the new model; before that, the old one.
    expected = "v2" if point == "after-pointer" else "v1"
    assert_store_consistent(store)
    assert store.load_serving().version == expected
    if point == "before-pointer":
        assert store.versions() == ["v1", "v2"] and store.current_version() == "v1", "v2 was never promoted"
    # The next start serves the last good model and answers with it.
    service = SoundalikeService.open(config)
    assert service.model.version == expected
    hey_ya = service.resolve("Hey Ya!", "OutKast").best
    answer = service.similar(hey_ya.item_id, count=3)
    assert answer.model_version == expected and len(answer.suggestions) == 3


@pytest.mark.slow
async def test_a_retrain_process_killed_while_the_bot_waits_tells_the_admin_and_serves_on(
    tmp_path, demo_env, monkeypatch
):
    config_path, config = copy_demo(tmp_path, demo_env, "promotion_tolerance = 1.0\n")
    service = await asyncio.to_thread(SoundalikeService.open, config)
    monkeypatch.setenv("SOUNDALIKE_TEST_PAUSE_AT", "before-pointer")
    retrainer = Retrainer(config, config_path=config_path, command=[sys.executable, str(FAULTY_RETRAIN)])
    async with bot_world(tmp_path, config, service, retrainer=retrainer) as world:
        retrain = await world.fake.slash_command("retrain", [], member=world.dj, guild=world.guild)
        retrain_process = await child_running(FAULTY_RETRAIN.name)
        # It pauses once the new version's folder is in place, before `current` moves.
        await path_appears(config.models_dir / "demo" / "v2")
        retrain_process.kill()  # SIGKILL
        finished = await world.fake.wait_for(
            "PATCH",
            rf"/webhooks/\d+/{retrain.token}/messages/@original",
            timeout=WAIT,
            where=lambda r: not r.body["content"].startswith("Retraining"),
        )
        assert finished.body["content"].startswith("The retrain failed \\(exit status -9\\)")
        assert service.model.version == "v1"
        answer = await world.answer_message(await world.soundalike("Hey Ya!"))
        assert "model v1" in answer["embeds"][0]["footer"]["text"]
    store = ModelStore.for_dataset(config.models_dir, "demo")
    assert_store_consistent(store)
    assert (await asyncio.to_thread(SoundalikeService.open, config)).model.version == "v1"


async def child_running(script_name: str) -> psutil.Process:
    """This process's child running ``script_name`` (looked for a bounded number of times)."""
    async with asyncio.timeout(WAIT):
        while True:
            for child in psutil.Process().children(recursive=True):
                try:
                    if any(script_name in part for part in child.cmdline()):
                        return child
                except psutil.NoSuchProcess:
                    continue
            await asyncio.sleep(0.05)


async def path_appears(path: Path, within_s: float = 60) -> None:
    """Wait (a bounded number of looks) until ``path`` exists."""
    for _ in range(int(within_s / 0.05)):
        if await asyncio.to_thread(path.exists):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} did not appear within {within_s:.0f} s")


@pytest.mark.parametrize("fault, reason", [("enospc", "No space left on device"), ("eacces", "Permission denied")])
async def test_a_retrain_that_cannot_write_its_model_tells_the_admin_and_serves_on(
    tmp_path, demo_env, monkeypatch, fault, reason
):
    config_path, config = copy_demo(tmp_path, demo_env, "promotion_tolerance = 1.0\n")  # it would promote
    store = ModelStore.for_dataset(config.models_dir, "demo")
    service = await asyncio.to_thread(SoundalikeService.open, config)
    # The bot runs the retrain as it always does; only the subprocess's model writing fails.
    monkeypatch.setenv("SOUNDALIKE_TEST_PUBLISH_FAULT", fault)
    retrainer = Retrainer(config, config_path=config_path, command=[sys.executable, str(FAULTY_RETRAIN)])
    async with bot_world(tmp_path, config, service, retrainer=retrainer) as world:
        retrain = await world.fake.slash_command("retrain", [], member=world.dj, guild=world.guild)
        finished = await world.fake.wait_for(
            "PATCH",
            rf"/webhooks/\d+/{retrain.token}/messages/@original",
            timeout=120,
            where=lambda r: not r.body["content"].startswith("Retraining"),
        )
        told = finished.body["content"]
        assert told.startswith("The retrain failed"), told
        assert "could not publish a model for 'demo'" in told and reason in told and "current stays v1" in told
        assert service.model.version == "v1"
        answer = await world.answer_message(await world.soundalike("Hey Ya!"))
        assert "model v1" in answer["embeds"][0]["footer"]["text"]
    assert store.versions() == ["v1"] and store.current_version() == "v1"
    assert not [p.name for p in store.folder.iterdir() if p.name.startswith(".")], "no half-written leftovers"
