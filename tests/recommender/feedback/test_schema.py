"""The schema history and its migrations, on SQLite and on PostgreSQL: a database made with the
version-1 DDL is brought to the current schema with its rows intact, re-opening changes
nothing, a failed migration changes nothing, and both databases end with the same tables."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from feedback_logs import LOG_TABLES, log_objects, rows, schema_version

from recommender.feedback import schema as feedback_schema
from recommender.feedback.errors import LogWriteError
from recommender.feedback.log import FeedbackLog, LoggedSuggestion, VersionStats
from recommender.feedback.offline import read_positive_feedback
from recommender.feedback.schema import CURRENT_SCHEMA_VERSION, MIGRATIONS, POSTGRES_V1, SCHEMA_V1, Migration

GUILD = 31_000_000_000_000_000
ASKER, ALICE, BOB = 41, 42, 43


def make_v1_database(location: Path | str) -> None:
    """A log as Soundalike's first schema wrote it, with an answer and two ratings."""
    if isinstance(location, Path):
        location.parent.mkdir(parents=True, exist_ok=True)
        for statement in SCHEMA_V1:
            rows(location, statement)
    else:
        for statement in (*POSTGRES_V1, "CREATE TABLE schema_version (version INTEGER NOT NULL)"):
            rows(location, statement)
        rows(location, "INSERT INTO schema_version (version) VALUES (1)")
    rows(
        location,
        "INSERT INTO queries (id, created_at, guild_id, channel_id, user_id, command,"
        " typed_title, typed_artist, resolved_item_id, model_version, latency_ms,"
        " message_id, params_json) VALUES (7, '2023-01-02T03:04:05.000+00:00', ?, 5, ?,"
        " 'similar', 'Hey Ya!', 'OutKast', 'seed', 'v-old', 20.0, 5000, '{\"count\": 2}')",
        (GUILD, ASKER),
    )
    for position, item, score in [(1, "a", 0.9), (2, "b", 0.8)]:
        rows(
            location,
            "INSERT INTO suggestions (query_id, position, item_id, score) VALUES (7, ?, ?, ?)",
            (position, item, score),
        )
    for member, position, value in [(ALICE, 1, 1), (BOB, None, -1)]:
        rows(
            location,
            "INSERT INTO feedback (query_id, message_id, user_id, position, value, created_at)"
            " VALUES (7, 5000, ?, ?, ?, '2023-01-02T03:05:00.000+00:00')",
            (member, position, value),
        )


def schema_and_rows(location: Path | str) -> tuple[int, dict[str, set[str]], dict[str, list[tuple]]]:
    objects = log_objects(location)
    tables = sorted(objects["tables"])
    found = {table: rows(location, f"SELECT * FROM {table} ORDER BY 1, 2") for table in tables}
    return schema_version(location), objects, found


def test_the_history_is_consecutive_and_each_step_records_its_version():
    assert [migration.version for migration in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert CURRENT_SCHEMA_VERSION == MIGRATIONS[-1].version >= 2
    for migration in MIGRATIONS:
        last = migration.sqlite[-1]
        assert re.fullmatch(rf"PRAGMA user_version = {migration.version}", last)
        assert not any("user_version" in statement for statement in migration.sqlite[:-1])
        # PostgreSQL's backend records the version itself: no PRAGMA reaches it.
        assert migration.postgres_statements()
        assert not any("PRAGMA" in statement.upper() for statement in migration.postgres_statements())


def test_a_step_without_postgres_statements_runs_its_portable_sqlite_ones_there():
    step = Migration(9, "portable", ("CREATE TABLE links (user_id BIGINT NOT NULL)", "PRAGMA user_version = 9"))
    assert step.postgres_statements() == ("CREATE TABLE links (user_id BIGINT NOT NULL)",)
    assert MIGRATIONS[0].postgres_statements() == MIGRATIONS[0].postgres


async def test_a_new_log_gets_every_migration(db_path: Path | str):
    async with FeedbackLog.open(db_path):
        pass
    version, objects, _ = schema_and_rows(db_path)
    assert version == CURRENT_SCHEMA_VERSION
    assert set(LOG_TABLES) <= objects["tables"]
    assert objects["views"] == {"current_feedback"}
    assert {"queries_by_guild", "queries_by_user", "queries_by_model_version", "feedback_by_message"} <= objects[
        "indexes"
    ]


async def test_both_databases_hold_the_same_tables_columns_indexes_and_views(postgres_server, tmp_path: Path):
    sqlite_path, url = tmp_path / "log.sqlite3", postgres_server.fresh_url()
    for location in (sqlite_path, url):
        async with FeedbackLog.open(location):
            pass
    assert log_objects(sqlite_path) == log_objects(url)


async def test_a_version_1_log_is_migrated_with_its_rows_intact(db_path: Path | str):
    make_v1_database(db_path)
    _, _, rows_before = schema_and_rows(db_path)

    async with FeedbackLog.open(db_path) as log:
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

    version, _, rows_after = schema_and_rows(db_path)
    assert version == CURRENT_SCHEMA_VERSION
    assert rows_after["queries"] == rows_before["queries"]
    assert rows_after["suggestions"] == rows_before["suggestions"]
    # Feedback rows gained retracted_at: NULL for Alice, stamped for Bob's retraction.
    assert [row[:-1] for row in rows_after["feedback"]] == rows_before["feedback"]
    assert [row[-1] is None for row in rows_after["feedback"]] == [True, False]
    assert read_positive_feedback(db_path) == [(f"discord:{ALICE}", "a")]


async def test_reopening_a_current_log_changes_nothing(db_path: Path | str):
    make_v1_database(db_path)
    async with FeedbackLog.open(db_path):
        pass
    first = schema_and_rows(db_path)
    async with FeedbackLog.open(db_path):
        pass
    assert schema_and_rows(db_path) == first


async def test_two_processes_opening_an_old_log_at_once_migrate_it_once(db_path: Path | str):
    make_v1_database(db_path)

    async def open_and_read() -> int:
        async with FeedbackLog.open(db_path) as log:
            return (await log.query_for_message(5000)).id

    # Two independent connections racing through the migrations (as two processes would).
    assert await asyncio.wait_for(asyncio.gather(open_and_read(), open_and_read()), 30) == [7, 7]
    version, _, found = schema_and_rows(db_path)
    assert version == CURRENT_SCHEMA_VERSION
    assert len(found["feedback"]) == 2


async def test_a_failing_migration_is_rolled_back_whole(db_path: Path | str, monkeypatch):
    make_v1_database(db_path)
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
        async with FeedbackLog.open(db_path):
            pass
    assert str(db_path) in str(caught.value)
    version, objects, found = schema_and_rows(db_path)
    # The earlier, good migrations were kept; nothing of the broken one was.
    assert version == MIGRATIONS[-1].version
    assert "half_done" not in objects["tables"]
    assert len(found["queries"]) == 1
