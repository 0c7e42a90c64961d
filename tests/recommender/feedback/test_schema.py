"""The schema history and its migrations: a database made with the version-1 DDL is brought to
the current schema with its rows intact, re-opening changes nothing, and a failed migration
changes nothing."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from recommender.feedback import schema as feedback_schema
from recommender.feedback.errors import LogWriteError
from recommender.feedback.log import FeedbackLog, LoggedSuggestion, VersionStats
from recommender.feedback.offline import read_positive_feedback
from recommender.feedback.schema import CURRENT_SCHEMA_VERSION, MIGRATIONS, SCHEMA_V1, Migration

GUILD = 31_000_000_000_000_000
ASKER, ALICE, BOB = 41, 42, 43


def make_v1_database(path: Path) -> None:
    """A log as Soundalike's first schema wrote it, with an answer and two ratings."""
    with closing(sqlite3.connect(path)) as connection, connection:
        for statement in SCHEMA_V1:
            connection.execute(statement)
        connection.execute(
            "INSERT INTO queries (id, created_at, guild_id, channel_id, user_id, command,"
            " typed_title, typed_artist, resolved_item_id, model_version, latency_ms,"
            " message_id, params_json) VALUES (7, '2023-01-02T03:04:05.000+00:00', ?, 5, ?,"
            " 'similar', 'Hey Ya!', 'OutKast', 'seed', 'v-old', 20.0, 5000, '{\"count\": 2}')",
            (GUILD, ASKER),
        )
        connection.executemany(
            "INSERT INTO suggestions (query_id, position, item_id, score) VALUES (7, ?, ?, ?)",
            [(1, "a", 0.9), (2, "b", 0.8)],
        )
        connection.executemany(
            "INSERT INTO feedback (query_id, message_id, user_id, position, value, created_at)"
            " VALUES (7, 5000, ?, ?, ?, '2023-01-02T03:05:00.000+00:00')",
            [(ALICE, 1, 1), (BOB, None, -1)],
        )


def schema_and_rows(path: Path) -> tuple[int, list[tuple], dict[str, list[tuple]]]:
    with closing(sqlite3.connect(path)) as connection, connection:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        schema = connection.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        tables = [name for kind, name, _ in schema if kind == "table" and name != "sqlite_sequence"]
        rows = {table: connection.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall() for table in tables}
    return version, schema, rows


def test_the_history_is_consecutive_and_each_step_records_its_version():
    assert [migration.version for migration in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert CURRENT_SCHEMA_VERSION == MIGRATIONS[-1].version >= 2
    for migration in MIGRATIONS:
        last = migration.sqlite[-1]
        assert re.fullmatch(rf"PRAGMA user_version = {migration.version}", last)
        assert not any("user_version" in statement for statement in migration.sqlite[:-1])


async def test_a_new_log_gets_every_migration(tmp_path: Path):
    path = tmp_path / "new.sqlite3"
    async with FeedbackLog.open(path):
        pass
    version, schema, _ = schema_and_rows(path)
    assert version == CURRENT_SCHEMA_VERSION
    names = {name for _, name, _ in schema}
    assert {"queries", "suggestions", "feedback", "blocks", "current_feedback"} <= names
    assert {"queries_by_guild", "queries_by_user", "queries_by_model_version"} <= names


async def test_a_version_1_log_is_migrated_with_its_rows_intact(tmp_path: Path):
    path = tmp_path / "v1.sqlite3"
    make_v1_database(path)
    _, _, rows_before = schema_and_rows(path)

    async with FeedbackLog.open(path) as log:
        # Old rows read back through the new code...
        logged = await log.query_for_message(5000)
        assert (logged.id, logged.typed_title, logged.model_version) == (7, "Hey Ya!", "v-old")
        assert logged.params == {"count": 2}
        assert logged.suggestions == (LoggedSuggestion(1, "a", 0.9), LoggedSuggestion(2, "b", 0.8))
        assert await log.liked_items(GUILD, ALICE) == ["a"]
        assert await log.stats(GUILD) == [VersionStats("v-old", 1, 1, 1)]
        # ...and what version 2 added works on them.
        assert await log.retract_feedback(5000, BOB, -1) is True
        assert await log.block(GUILD, "b", by=ALICE) is True
        assert await log.stats(GUILD) == [VersionStats("v-old", 1, 1, 0)]

    version, _, rows_after = schema_and_rows(path)
    assert version == CURRENT_SCHEMA_VERSION
    assert rows_after["queries"] == rows_before["queries"]
    assert rows_after["suggestions"] == rows_before["suggestions"]
    # Feedback rows gained retracted_at: NULL for Alice, stamped for Bob's retraction.
    assert [row[:-1] for row in rows_after["feedback"]] == rows_before["feedback"]
    assert [row[-1] is None for row in rows_after["feedback"]] == [True, False]
    assert read_positive_feedback(path) == [(f"discord:{ALICE}", "a")]


async def test_reopening_a_current_log_changes_nothing(tmp_path: Path):
    path = tmp_path / "v1.sqlite3"
    make_v1_database(path)
    async with FeedbackLog.open(path):
        pass
    first = schema_and_rows(path)
    async with FeedbackLog.open(path):
        pass
    assert schema_and_rows(path) == first


async def test_two_processes_opening_an_old_log_at_once_migrate_it_once(tmp_path: Path):
    path = tmp_path / "v1.sqlite3"
    make_v1_database(path)

    async def open_and_read() -> int:
        async with FeedbackLog.open(path) as log:
            return (await log.query_for_message(5000)).id

    # Two independent connections racing through the migrations (as two processes would).
    assert await asyncio.wait_for(asyncio.gather(open_and_read(), open_and_read()), 30) == [7, 7]
    version, _, rows = schema_and_rows(path)
    assert version == CURRENT_SCHEMA_VERSION
    assert len(rows["feedback"]) == 2


async def test_a_failing_migration_is_rolled_back_whole(tmp_path: Path, monkeypatch):
    path = tmp_path / "v1.sqlite3"
    make_v1_database(path)
    broken = Migration(
        CURRENT_SCHEMA_VERSION + 1,
        "a step that fails halfway",
        (
            "CREATE TABLE half_done (x INTEGER)",
            "CREATE TABLE queries (x INTEGER)",  # fails: the table exists
            "PRAGMA user_version = 99",
        ),
    )
    monkeypatch.setattr(feedback_schema, "MIGRATIONS", (*MIGRATIONS, broken))
    monkeypatch.setattr(feedback_schema, "CURRENT_SCHEMA_VERSION", broken.version)

    with pytest.raises(LogWriteError, match=f"upgrade the schema to version {broken.version}") as caught:
        async with FeedbackLog.open(path):
            pass
    assert str(path) in str(caught.value)
    version, schema, rows = schema_and_rows(path)
    # The earlier, good migrations were kept; nothing of the broken one was.
    assert version == MIGRATIONS[-1].version
    assert "half_done" not in {name for _, name, _ in schema}
    assert len(rows["queries"]) == 1
