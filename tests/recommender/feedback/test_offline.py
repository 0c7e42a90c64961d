"""The offline readers retrain and evaluate use: what they read from a log the bot wrote, and
that they never change the file (a missing log reads as empty, another schema is refused), on
SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from feedback_logs import (
    ALICE,
    ASKER,
    BOB,
    DOWN,
    GUILD,
    OTHER_GUILD,
    UP,
    answer,
    log_objects,
    rows,
    set_schema_version,
    table_rows,
)
from postgres_server import free_port

from recommender.feedback import offline
from recommender.feedback.backends.postgres import read_rows
from recommender.feedback.errors import LogReadError
from recommender.feedback.log import FeedbackLog
from recommender.feedback.offline import member_key, online_rates, read_positive_feedback
from recommender.feedback.queries import EXPIRE_QUERIES
from recommender.feedback.schema import POSTGRES_V1, SCHEMA_V1


async def test_read_positive_feedback_lists_likes_per_member(log: FeedbackLog, db_path: Path | str):
    await answer(log, 1, ("a", "b", "c"))
    await answer(log, 2, ("a", "d"), guild=OTHER_GUILD)
    await log.record_feedback(1, ALICE, UP)  # a, c (b rated down below)
    await log.record_feedback(1, ALICE, DOWN, position=2)
    await log.record_feedback(2, ALICE, UP, position=1)  # a again, other guild: one pair
    await log.record_feedback(1, BOB, DOWN, position=1)  # a 👎 is never a play
    await log.record_feedback(2, BOB, UP, position=2)
    await log.retract_feedback(2, BOB, UP, position=2)  # retracted: not a play
    await log.record_feedback(2, ASKER, UP, position=2)
    assert read_positive_feedback(db_path) == sorted(
        [(f"discord:{ALICE}", "a"), (f"discord:{ALICE}", "c"), (f"discord:{ASKER}", "d")]
    )


def test_read_only_helpers_on_a_missing_log_see_nothing(db_path: Path | str):
    # Nothing was ever logged there: no file, or a database without the log's tables.
    assert read_positive_feedback(db_path) == []
    assert online_rates(db_path) == {}
    if isinstance(db_path, Path):
        assert not db_path.exists()
    else:
        assert log_objects(db_path)["tables"] == set()


def test_read_only_helpers_refuse_an_old_schema_by_name(db_path: Path | str):
    if isinstance(db_path, Path):
        db_path.parent.mkdir(parents=True)
        for statement in SCHEMA_V1:
            rows(db_path, statement)
    else:
        for statement in (*POSTGRES_V1, "CREATE TABLE schema_version (version INTEGER NOT NULL)"):
            rows(db_path, statement)
        rows(db_path, "INSERT INTO schema_version (version) VALUES (1)")
    with pytest.raises(LogReadError, match="start the bot or the console once") as caught:
        read_positive_feedback(db_path)
    assert str(db_path) in str(caught.value)
    with pytest.raises(LogReadError):
        online_rates(db_path)
    set_schema_version(db_path, 99)
    with pytest.raises(LogReadError, match="made by a newer Soundalike"):
        online_rates(db_path)


def test_read_only_helpers_name_a_file_that_is_not_a_log(tmp_path: Path):
    path = tmp_path / "notes.sqlite3"
    path.write_text("not a database\n" * 100)
    with pytest.raises(LogReadError, match="not a SQLite database") as caught:
        online_rates(path)
    assert str(path) in str(caught.value)


def test_read_only_helpers_name_a_server_they_cannot_reach():
    url = f"postgresql://soundalike:secret@127.0.0.1:{free_port()}/soundalike"
    with pytest.raises(LogReadError, match="could not read: no server answers there") as caught:
        read_positive_feedback(url)
    assert "soundalike:***@127.0.0.1" in str(caught.value) and "secret" not in str(caught.value)


async def test_read_only_helpers_cannot_write(log: FeedbackLog, db_path: Path | str):
    await answer(log, 1)
    if isinstance(db_path, Path):
        connection = offline._open_read_only(db_path)
        try:
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                connection.execute("DELETE FROM queries")
        finally:
            connection.close()
    else:  # the statement runs in a READ ONLY transaction
        with pytest.raises(LogReadError, match="read-only"):
            read_rows(db_path, EXPIRE_QUERIES, ("9999",))
    assert len(table_rows(db_path)["queries"]) == 1


async def test_online_rates_are_the_stats_of_every_guild(log: FeedbackLog, db_path: Path | str):
    await answer(log, 1, version="v1")
    await answer(log, 2, version="v1")
    await answer(log, 3, version="v2")
    await answer(log, 4, version="v2", guild=OTHER_GUILD)
    await log.record_feedback(1, ALICE, UP)
    await log.record_feedback(1, BOB, UP, position=1)
    await log.record_feedback(2, ALICE, DOWN, position=2)
    await log.record_feedback(3, ALICE, UP)
    await log.record_feedback(3, BOB, DOWN)
    await log.retract_feedback(3, BOB, DOWN)
    await log.record_feedback(4, ALICE, DOWN)
    assert online_rates(db_path) == {
        "v1": {"answers": 2, "up": 2, "down": 1, "up_rate": pytest.approx(2 / 3)},
        "v2": {"answers": 2, "up": 1, "down": 1, "up_rate": 0.5},
    }
    assert online_rates(db_path) == {
        stats.model_version: {"answers": stats.answers, "up": stats.up, "down": stats.down, "up_rate": stats.up_rate}
        for stats in await log.stats()
    }
    assert await log.stats(GUILD) != await log.stats()  # the other guild's answer counts here


def test_a_member_is_one_listener_in_every_guild():
    assert member_key(ALICE) == f"discord:{ALICE}"
