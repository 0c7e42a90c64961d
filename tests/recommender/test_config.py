"""Configuration: every number in its sensible range, one line naming the key otherwise, and the
one setting for an answer's default length."""

from __future__ import annotations

import logging
import re

import pytest

import bot.__main__ as bot_main
from recommender.config import PROJECT_ROOT, TrainParams, load_config
from recommender.errors import ConfigError


def write(tmp_path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(f'[data]\nroot = "{tmp_path / "data"}"\n' + text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "value, named",
    [
        ("mysql://bot:pw@db/soundalike", "mysql:// is not a database the log runs on"),
        ("postgresql://bot:pw@db:99999/soundalike", "is not a valid PostgreSQL URL (Port out of range"),
        ("postgresql://bot:pw@db:5432/", "names no database"),
        ("postgresql:///soundalike", "names no server"),
        ("postgresql://bot:pw@db/a/b", "has more than one database name"),
        ("", "is empty"),
    ],
)
def test_a_bad_database_url_is_refused_naming_the_key_and_never_its_password(tmp_path, value, named):
    with pytest.raises(ConfigError, match=re.escape(named)) as caught:
        load_config(write(tmp_path, f'[bot]\ndatabase = "{value}"\n'))
    assert "[bot] database" in str(caught.value)
    assert "pw@" not in str(caught.value)
    # Each names what to write instead.
    assert "postgresql://soundalike@db.example.org:5432/soundalike" in str(caught.value) or "a file path" in str(
        caught.value
    )


def test_the_database_is_a_file_or_a_postgres_url(tmp_path):
    assert load_config(write(tmp_path, "")).database_location == tmp_path / "data" / "soundalike.sqlite3"
    config = load_config(write(tmp_path, '[bot]\ndatabase = "logs/bot.sqlite3"\n'))
    assert config.database_location == config.database_path == tmp_path / "logs" / "bot.sqlite3"
    url = "postgresql://bot@db.example.org:5432/soundalike?sslmode=require"
    config = load_config(write(tmp_path, f'[bot]\ndatabase = "{url}"\n'))
    assert config.database_location == url  # as given: a URL never becomes a path
    with pytest.raises(ConfigError, match="PostgreSQL URL, not a file"):
        _ = config.database_path


@pytest.mark.parametrize(
    "section, line, named",
    [
        ("bot", "cooldown_seconds = nan", "[bot] cooldown_seconds: must be a finite number"),
        ("bot", "feedback_weight = inf", "[bot] feedback_weight: must be a finite number"),
        ("bot", "promotion_tolerance = -inf", "[bot] promotion_tolerance: must be a finite number"),
        ("training", "regularization = nan", "[training] regularization: must be a finite number"),
        ("bot", "retention_days = 1000000", "[bot] retention_days: 1000000 is above 36,500 (allowed: 0 to 36,500)"),
        ("bot", "max_results = 100", "[bot] max_results: 100 is above 25 (allowed: 1 to 25)"),
        ("bot", "max_results = 0", "[bot] max_results: 0 is below 1"),
        ("bot", "per_guild_concurrency = 0", "[bot] per_guild_concurrency: 0 is below 1"),
        ("bot", "cooldown_seconds = 1e12", "[bot] cooldown_seconds: 1000000000000.0 is above 86,400"),
        ("bot", "admin_role_ids = [-5]", "[bot] admin_role_ids: -5 is below 1"),
        ("serving", "default_count = 0", "[serving] default_count: 0 is below 1"),
        ("serving", "per_artist_cap = 99", "[serving] per_artist_cap: 99 is above 25"),
        ("evaluation", "train_share = 1.5", "[evaluation] train_share: 1.5 is above 0.99"),
        ("training", "factors = 100000000", "[training] factors: 100000000 is above 4,096"),
    ],
)
def test_nan_infinity_and_absurd_values_are_refused_naming_the_key(tmp_path, section, line, named):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, f"[{section}]\n{line}\n"))
    message = str(caught.value)
    assert named in message and "\n" not in message


def test_nan_from_the_environment_is_refused_too(tmp_path):
    with pytest.raises(ConfigError, match=r"\[bot\] cooldown_seconds: must be a finite number, got nan"):
        load_config(write(tmp_path, ""), environ={"SOUNDALIKE_BOT__COOLDOWN_SECONDS": "NaN"})


def test_values_at_the_edges_of_their_ranges_are_taken(tmp_path):
    config = load_config(
        write(
            tmp_path,
            "[bot]\nretention_days = 36500\nmax_results = 25\ncooldown_seconds = 0\n"
            "[serving]\ndefault_count = 25\nper_artist_cap = 0\n",
        )
    )
    assert (config.bot.retention_days, config.bot.max_results, config.serving.default_count) == (36500, 25, 25)


def test_a_console_start_with_a_huge_retention_is_one_line_not_an_overflow(tmp_path, capsys, monkeypatch):
    """retention_days = 1000000 used to crash the console's start with OverflowError."""
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    path = write(tmp_path, f'[bot]\nretention_days = 1000000\ndatabase = "{tmp_path / "log.sqlite3"}"\n')
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        assert bot_main.main(["--console", "--config", str(path)]) == 2
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert err.startswith("error: ") and "[bot] retention_days: 1000000 is above 36,500" in err


def test_the_old_bot_default_results_key_moves_to_serving_default_count_with_a_warning(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="recommender.config")
    config = load_config(write(tmp_path, "[bot]\ndefault_results = 7\n"))
    assert config.serving.default_count == 7 and not hasattr(config.bot, "default_results")
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "[bot] default_results is now [serving] default_count" in warning and "using 7" in warning


def test_both_keys_with_different_values_are_refused(tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"\[bot\] default_results = 7 and \[serving\] default_count = 4 are the "
        r"same setting; keep only \[serving\] default_count",
    ):
        load_config(write(tmp_path, "[serving]\ndefault_count = 4\n[bot]\ndefault_results = 7\n"))


def test_a_default_count_above_the_maximum_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"\[serving\] default_count 12 is above \[bot\] max_results 10"):
        load_config(write(tmp_path, "[serving]\ndefault_count = 12\n"))


def test_the_shipped_config_loads_without_a_warning(caplog):
    caplog.set_level(logging.WARNING, logger="recommender.config")
    config = load_config(PROJECT_ROOT / "config.toml", environ={})
    assert config.serving.default_count <= config.bot.max_results
    assert not caplog.records


def test_the_training_section_is_the_parameters_a_model_records(tmp_path):
    """[training] is read into the one TrainParams definition that train, evaluate and manifests use."""
    config = load_config(write(tmp_path, '[training]\nfactors = 8\nalgorithm = "cosine"\n'))
    assert isinstance(config.training, TrainParams)
    assert config.training == TrainParams(algorithm="cosine", factors=8)
    assert TrainParams.from_dict(config.training.to_dict()) == config.training
    with pytest.raises(ConfigError, match=r"\[training\] algorithm: 'svd' is not one of"):
        load_config(write(tmp_path, '[training]\nalgorithm = "svd"\n'))


def test_training_parameters_are_validated_wherever_they_come_from():
    with pytest.raises(ConfigError, match="algorithm 'svd' is not one of"):
        TrainParams(algorithm="svd")
    with pytest.raises(ConfigError, match="factors must be at least 1"):
        TrainParams(factors=0)
    # A manifest written by a later version may hold keys this one does not know.
    assert TrainParams.from_dict({**TrainParams(factors=8).to_dict(), "from_the_future": 1}) == TrainParams(factors=8)
