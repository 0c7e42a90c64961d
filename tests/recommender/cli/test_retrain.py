"""`retrain`: progress people read, or JSON lines for the bot that name no server path."""

from __future__ import annotations

import json

import pytest
from planted_data import ITEMS_PER_GENRE, write_config, write_planted_dataset

from recommender import retrain as retrain_module
from recommender.cli.main import main as cli_main
from recommender.config import load_config


@pytest.fixture
def env(tmp_path):
    config_path = write_config(tmp_path, "[evaluation]\nk = 5\n")
    config = load_config(config_path)
    dataset = write_planted_dataset(config.datasets_dir)
    return config_path, config, dataset


def run_command(config_path, *argv: str) -> int:
    return cli_main(["--config", str(config_path), *argv])


def genre_fans(members: int):
    """Feedback that agrees with the data: each member likes songs of one genre."""

    def read(db_path):
        return [(f"discord:{m}", f"song{m * ITEMS_PER_GENRE + i}") for m in range(members) for i in range(4)]

    return read


def test_people_read_one_line_per_stage_and_the_outcome(env, capsys, monkeypatch):
    config_path, _, _ = env
    monkeypatch.setattr(retrain_module, "default_feedback_reader", genre_fans(2))
    assert run_command(config_path, "retrain", "--dataset", "planted") == 0
    lines = capsys.readouterr().out.strip().splitlines()
    stages = [line.split("]")[0] + "]" for line in lines[:-1]]
    assert stages[0] == "[load]" and "[train]" in stages and stages[-1] == "[publish]"
    assert stages.count("[train]") == 1, "no per-iteration lines for people"
    assert lines[-1].startswith("promoted planted/v1: no current model to compare with")


def test_json_progress_lines_for_the_bot(env, capsys, monkeypatch):
    config_path, config, _ = env
    assert run_command(config_path, "train", "--dataset", "planted", "--no-eval", "--quiet") == 0
    capsys.readouterr()
    monkeypatch.setattr(retrain_module, "default_feedback_reader", genre_fans(2))
    assert run_command(config_path, "retrain", "--dataset", "planted", "--json-progress", "--tolerance", "1") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert all({"stage", "progress", "message"} <= set(line) for line in lines)
    progress = [line["progress"] for line in lines]
    assert progress == sorted(progress) and progress[0] >= 0 and progress[-1] == 1.0
    assert {"load", "feedback", "evaluate", "decide", "train", "publish"} <= {line["stage"] for line in lines}
    assert not [line for line in lines if str(config.base_dir) in json.dumps(line, ensure_ascii=False)], (
        "no server path in what the bot shows members"
    )
    assert any(line["message"] == "reading the members' 👍 from the feedback log" for line in lines)
    done = lines[-1]
    assert done["stage"] == "done" and done["promoted"] is True and done["version"] == "v2"
    assert done["reason"] and "candidate" in done["metrics"] and "current" in done["metrics"]


def test_json_progress_reports_errors_as_a_line(env, capsys):
    config_path, config, _ = env
    assert run_command(config_path, "retrain", "--dataset", "nosuch", "--json-progress") == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and "nosuch" in captured.err
    line = json.loads(captured.out.strip().splitlines()[-1])
    assert line["stage"] == "error" and "nosuch" in line["message"]
    assert str(config.datasets_dir) not in line["message"]
