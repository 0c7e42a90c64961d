"""`evaluate`: one JSON object or tables, the model's own configuration, --knobs, mixes, online rates."""

from __future__ import annotations

import json

import pytest
from planted_data import write_config, write_genre_dataset, write_planted_dataset
from skewed_data import write_skewed_dataset

from recommender.cli import evaluate as evaluate_command
from recommender.cli.main import main as cli_main
from recommender.config import load_config
from recommender.feedback.log import FeedbackLog
from recommender.ranking import MIX_STRATEGIES, MIX_STRATEGY, PLAIN_DEFAULT, DefaultRanking
from recommender.store import ModelStore


def run_command(config_path, *argv: str) -> int:
    return cli_main(["--config", str(config_path), *argv])


def test_evaluate_json_is_one_object_with_model_and_baseline(tmp_path, capsys):
    config_path = write_config(tmp_path)
    write_planted_dataset(load_config(config_path).datasets_dir)
    assert (
        run_command(config_path, "evaluate", "--dataset", "planted", "--protocol", "holdout", "--k", "5", "--json") == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["protocol"] == "holdout" and report["k"] == 5 and report["dataset"] == "planted"
    assert set(report["model"]) == set(report["baseline"]) == {"precision@5", "map@5", "ndcg@5"}
    assert "no model published" in report["evaluated"]
    assert "online" not in report


def test_evaluate_uses_the_models_configuration_and_explains_the_refit(tmp_path, capsys):
    config_path = write_config(tmp_path)
    write_planted_dataset(load_config(config_path).datasets_dir)
    run_command(config_path, "train", "--dataset", "planted", "--algorithm", "cosine", "--no-eval", "--quiet")
    capsys.readouterr()
    assert run_command(config_path, "evaluate", "--dataset", "planted", "--model", "v1") == 0
    out = capsys.readouterr().out
    assert "model v1's configuration" in out and "cosine" in out
    assert "re-fitted on the training part" in out
    assert "popularity" in out
    assert run_command(config_path, "evaluate", "--dataset", "planted", "--model", "v1", "--factors", "3") == 0
    assert "model v1's configuration with overrides" in capsys.readouterr().out


def test_online_rates_are_shown_when_the_bot_log_exists(tmp_path, capsys, monkeypatch):
    config_path = write_config(tmp_path)
    config = load_config(config_path)
    write_planted_dataset(config.datasets_dir)
    run_command(config_path, "evaluate", "--dataset", "planted", "--json")
    assert "online" not in json.loads(capsys.readouterr().out), "no log: no online figures"
    config.database_path.write_bytes(b"")
    seen = []

    def rates(path):
        seen.append(path)
        return {"v1": {"answers": 4, "up": 3, "down": 1, "up_rate": 0.75}}

    monkeypatch.setattr(evaluate_command, "online_rates", rates)
    run_command(config_path, "evaluate", "--dataset", "planted", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["online"] == {"v1": {"answers": 4, "up": 3, "down": 1, "up_rate": 0.75}}
    assert seen == [config.database_path]
    run_command(config_path, "evaluate", "--dataset", "planted")
    assert "up-rate 0.750" in capsys.readouterr().out


async def test_online_rates_come_from_a_postgres_log(tmp_path, capsys, monkeypatch, postgres_server):
    config_path = write_config(tmp_path)
    write_planted_dataset(load_config(config_path).datasets_dir)
    url = postgres_server.fresh_url()
    monkeypatch.setenv("SOUNDALIKE_BOT__DATABASE", url)
    async with FeedbackLog.open(url) as log:
        await log.record_answer(
            guild_id=1,
            user_id=2,
            command="soundalike",
            model_version="v1",
            suggestions=[(1, "song0", 0.5)],
            message_id=3,
        )
        assert await log.record_feedback(3, 4, 1)
        assert await log.record_feedback(3, 5, -1, position=1)
    assert run_command(config_path, "evaluate", "--dataset", "planted", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["online"] == {"v1": {"answers": 1, "up": 1, "down": 1, "up_rate": 0.5}}


def test_a_log_that_cannot_be_read_leaves_the_offline_figures_and_says_why(tmp_path, capsys, caplog):
    config_path = write_config(tmp_path)
    config = load_config(config_path)
    write_planted_dataset(config.datasets_dir)
    config.database_path.write_bytes(b"this is not a SQLite database, it is text" * 100)
    assert run_command(config_path, "evaluate", "--dataset", "planted", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert "online" not in report and report["model"]
    assert any("online feedback not shown" in record.getMessage() for record in caplog.records)


def test_evaluate_knobs_json_and_table(tmp_path, capsys):
    config_path = write_config(tmp_path, "[serving]\nper_artist_cap = 1\n")
    write_skewed_dataset(load_config(config_path).datasets_dir)
    argv = ["evaluate", "--dataset", "skewed", "--protocol", "item2item", "--k", "5", "--knobs", "--knob-users", "30"]
    assert run_command(config_path, *argv, "--json") == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert {"model", "baseline", "users_evaluated", "dataset", "evaluated"} <= set(report)
    assert set(report["knobs"]) == set(report["knobs_no_artist_cap"]) == {"popular", "balanced", "deep"}
    assert report["knobs_setup"]["per_artist_cap"] == 1 and report["knobs_setup"]["users_evaluated"] == 30

    assert run_command(config_path, *argv) == 0
    out = capsys.readouterr().out
    assert "Novelty knob" in out and "at most 1 per artist" in out and "30 sampled" in out
    rows = {
        line.split()[0]: line.split()[-7:]
        for line in out.splitlines()
        if line.startswith(("popular ", "balanced ", "deep "))
    }
    assert set(rows) == {"popular", "balanced", "deep"}
    assert float(rows["deep"][3]) == pytest.approx(report["knobs"]["deep"]["novelty"], abs=1e-4)
    assert "popularity baseline" in out
    assert "deep cuts: beta 0.04 from balanced (the default; model not calibrated)" in out


def test_knobs_refuse_the_holdout_protocol_with_a_clear_message(tmp_path, capsys):
    config_path = write_config(tmp_path)
    write_skewed_dataset(load_config(config_path).datasets_dir)
    status = run_command(config_path, "evaluate", "--dataset", "skewed", "--protocol", "holdout", "--knobs")
    assert status == 2
    assert "--protocol item2item" in capsys.readouterr().err


def test_the_mix_table_names_every_strategy_and_the_one_served(tmp_path, capsys):
    config_path = write_config(tmp_path)
    write_genre_dataset(load_config(config_path).datasets_dir)
    argv = ["evaluate", "--dataset", "genres", "--protocol", "mix", "--k", "5", "--genre-pairs", "40"]
    assert run_command(config_path, *argv) == 0
    out = capsys.readouterr().out
    assert "genre_representation" in out and all(name in out for name in MIX_STRATEGIES)
    assert f"served: {MIX_STRATEGY}" in out


def test_item2item_reports_the_fair_figures_for_each_seed_choice(tmp_path, capsys):
    config_path = write_config(tmp_path)
    write_skewed_dataset(load_config(config_path).datasets_dir)
    argv = ["evaluate", "--dataset", "skewed", "--protocol", "item2item", "--k", "5", "--head", "10"]
    names = {"hit_rate@5", "recall@5", "hit_rate@5_longtail", "recall@5_longtail", "coverage", "novelty"}
    cases = {}
    for choice in ("most-played", "random", "all"):
        assert run_command(config_path, *argv, "--seed-choice", choice, "--json") == 0
        report = json.loads(capsys.readouterr().out)
        assert names <= set(report["model"]) and names <= set(report["baseline"]) and names <= set(report["plain"])
        assert report["item2item_setup"]["seed_choice"] == choice and report["item2item_setup"]["head"] == 10
        cases[choice] = report["item2item_setup"]["cases"]
    assert cases["most-played"] == cases["random"] < cases["all"]
    assert run_command(config_path, *argv) == 0
    out = capsys.readouterr().out
    assert "one song of each as the seed (most-played)" in out and "outside the 10 most listened songs" in out
    assert "hit_rate@5_longtail" in out and "default ranking: the model's own order" in out
    for bad, message in ((["--head", "-3"], "the head must be 0 or more songs"), (["--seed-choice", "x"], "invalid")):
        with pytest.raises(SystemExit):
            run_command(config_path, *argv, *bad)
        assert message in capsys.readouterr().err


def test_choose_default_is_what_train_keeps_and_never_needs_the_test_users(tmp_path, capsys):
    config_path = write_config(tmp_path, "[evaluation]\nk = 5\n")
    config = load_config(config_path)
    write_skewed_dataset(config.datasets_dir)
    argv = ["evaluate", "--dataset", "skewed", "--choose-default"]
    assert run_command(config_path, *argv, "--json") == 0
    chosen = json.loads(capsys.readouterr().out)["novelty"]
    assert run_command(config_path, "train", "--dataset", "skewed", "--no-eval", "--quiet") == 0
    capsys.readouterr()
    manifest = ModelStore.for_dataset(config.models_dir, "skewed").read_manifest("v1")
    assert manifest["novelty"]["default"] == chosen["default"]
    assert manifest["novelty"]["default_choice"] == chosen["default_choice"]
    assert run_command(config_path, *argv) == 0
    out = capsys.readouterr().out
    assert "the test users are never read" in out
    for name, command in (("/soundalike", "similar"), ("/mix", "mix"), ("/foryou", "for_you")):
        assert f"Default for {name}: {DefaultRanking(**chosen['default'][command]).describe()}" in out
        # The line names the least sure gain over popularity among the ways its command was asked.
        choice = chosen["default_choice"][command]
        row = next(r for r in choice["grid"] if {n: r[n] for n in choice["default"]} == choice["default"])
        least = min(f["hit_rate@5_gain_low"] for f in row["figures"])
        asked = ", ".join(choice["validation"]["asked"])
        assert f"least sure bound over {asked}: hit@5 {least:+.3f}, long tail" in out
    # evaluate ranks with the published model's default, or with the plain order when asked to.
    item2item = ["evaluate", "--dataset", "skewed", "--protocol", "item2item", "--json"]
    assert run_command(config_path, *item2item) == 0
    assert json.loads(capsys.readouterr().out)["item2item_setup"]["default"] == chosen["default"]["similar"]
    assert run_command(config_path, *item2item, "--plain-default") == 0
    assert json.loads(capsys.readouterr().out)["item2item_setup"]["default"] == PLAIN_DEFAULT.to_dict()
