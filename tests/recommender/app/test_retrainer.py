"""The retrain runner: a separate process, JSON progress lines, one at a time, clear failures.

A small stand-in program prints what ``python -m recommender retrain --json-progress`` prints,
so these tests check the runner alone; test_bot_e2e runs the real command.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
import textwrap

import pytest

from recommender.app.retrainer import RetrainAlreadyRunning, Retrainer, RetrainFailed
from recommender.config import Config

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
