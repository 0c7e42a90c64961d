"""Helpers for tests of the feedback log (tests/recommender/feedback/): member and guild ids,
a clock moved by hand, a one-call way to log an answer, and raw access to a log of either kind
(a SQLite file as a Path, a PostgreSQL schema as its URL) through a connection of its own.

``LOG_KINDS`` parametrizes the ``db_path`` fixtures (tests/recommender/feedback/conftest.py and
wherever a test takes a log): every such test runs on both databases."""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from recommender.feedback.log import FeedbackLog

LOG_KINDS = ("sqlite", "postgres")
LOG_TABLES = ("queries", "suggestions", "feedback", "blocks")

GUILD = 111_111_111_111_111_111
OTHER_GUILD = 222_222_222_222_222_222
ASKER = 900_000_000_000_000_001
ALICE = 900_000_000_000_000_002
BOB = 900_000_000_000_000_003
UP, DOWN = 1, -1


class SteppingClock:
    """A fixed start time that tests move forward by hand."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


async def answer(
    log: FeedbackLog,
    message_id: int | None,
    items=("a", "b", "c"),
    *,
    guild: int = GUILD,
    user: int = ASKER,
    seed: str | None = "seed",
    version: str | None = "v1",
    title: str | None = "Hey Ya!",
) -> int:
    """Log an answer showing ``items`` at positions 1, 2, ...; return its query id."""
    return await log.record_answer(
        guild_id=guild,
        channel_id=5,
        user_id=user,
        command="similar",
        typed_title=title,
        resolved_item_id=seed,
        model_version=version,
        latency_ms=12.5,
        params={"count": len(items)},
        suggestions=[(position, item, 1.0 / position) for position, item in enumerate(items, 1)],
        message_id=message_id,
    )


def log_location(request: pytest.FixtureRequest, kind: str, folder: Path, name: str = "soundalike") -> Path | str:
    """Where a test's fresh log goes: a file under ``folder``, or a schema of the session's
    PostgreSQL server (which makes the test skip, or fail in CI, where PostgreSQL is missing)."""
    if kind == "sqlite":
        return folder / "log" / f"{name}.sqlite3"
    return request.getfixturevalue("postgres_server").fresh_url()


def rows(location: Path | str, statement: str, params: tuple = ()) -> list[tuple]:
    """Run one statement on the log through a connection of its own (``?`` parameters)."""
    if isinstance(location, Path):
        with closing(sqlite3.connect(location)) as connection, connection:
            return [tuple(row) for row in connection.execute(statement, params).fetchall()]
    numbered = statement
    for number in range(1, statement.count("?") + 1):
        numbered = numbered.replace("?", f"${number}", 1)
    return _on_postgres(location, numbered, params)


def _on_postgres(url: str, statement: str, params: tuple) -> list[tuple]:
    async def run() -> list[tuple]:
        connection = await asyncpg.connect(url, timeout=30)
        try:
            return [tuple(row) for row in await connection.fetch(statement, *params)]
        finally:
            await connection.close()

    with concurrent.futures.ThreadPoolExecutor(1) as worker:  # callers may be inside an event loop
        return worker.submit(asyncio.run, run()).result(timeout=60)


def table_rows(location: Path | str) -> dict[str, list[tuple]]:
    """Every row of every table, sorted, read through a separate plain connection."""
    return {table: sorted(rows(location, f"SELECT * FROM {table}"), key=repr) for table in LOG_TABLES}


def schema_version(location: Path | str) -> int:
    """The version the log records: PRAGMA user_version, or PostgreSQL's schema_version row."""
    if isinstance(location, Path):
        return int(rows(location, "PRAGMA user_version")[0][0])
    return int(rows(location, "SELECT version FROM schema_version")[0][0])


def set_schema_version(location: Path | str, version: int) -> None:
    if isinstance(location, Path):
        rows(location, f"PRAGMA user_version = {int(version)}")
    else:
        rows(location, "UPDATE schema_version SET version = ?", (version,))


def log_objects(location: Path | str) -> dict[str, set[str]]:
    """The log's tables (with their columns), indexes and views, by name, on either database."""
    if isinstance(location, Path):
        found = rows(location, "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        tables = {name for kind, name in found if kind == "table"}
        columns = {f"{table}.{row[1]}" for table in tables for row in rows(location, f"PRAGMA table_info({table})")}
        indexes = {name for kind, name in found if kind == "index"}
        views = {name for kind, name in found if kind == "view"}
    else:
        here = "table_schema = current_schema()"
        tables = {
            name
            for (name,) in rows(
                location, f"SELECT table_name FROM information_schema.tables WHERE {here} AND table_type = 'BASE TABLE'"
            )
        }
        tables.discard("schema_version")  # PostgreSQL's record of what SQLite keeps in user_version
        columns = {
            f"{table}.{column}"
            for table, column in rows(
                location, f"SELECT table_name, column_name FROM information_schema.columns WHERE {here}"
            )
            if table in tables
        }
        indexes = {
            name
            for (name,) in rows(location, "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
            if not name.endswith("_pkey") and not name.endswith("_key")
        }
        views = {name for (name,) in rows(location, f"SELECT table_name FROM information_schema.views WHERE {here}")}
    return {"tables": tables, "columns": columns, "indexes": indexes, "views": views}
