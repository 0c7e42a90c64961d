"""The log's schema history and how a SQLite connection to it is set up.

:data:`MIGRATIONS` is the one history of the log's tables, for both databases the log runs on
(:mod:`recommender.feedback.backends`): each step has a version, a summary, the statements
that make it in SQLite and, where SQLite's DDL is not PostgreSQL's, the same step in
PostgreSQL's dialect. A log of either kind at version N holds the same tables and promises the
same things. SQLite records the version in ``PRAGMA user_version`` (each step's last
statement); PostgreSQL in the one-row table ``schema_version``, written by the backend.

Adding a step (one place, both databases): append ``Migration(N, summary, sqlite=...)``.
When its DDL is portable (``BIGINT`` for ids and Discord snowflakes, ``DOUBLE PRECISION`` for
floats, ``TEXT`` for timestamps, no ``AUTOINCREMENT``/``WITHOUT ROWID``/``PRAGMA``), leave
``postgres`` out: PostgreSQL runs the ``sqlite`` statements without the ``PRAGMA user_version``
line. Otherwise give ``postgres=`` its own statements. tests/recommender/feedback/test_schema.py
checks that both databases end with the same tables, columns and indexes.

:func:`apply_migrations` brings a file forward one step per transaction; :func:`configure` sets
the per-connection settings (WAL, ``synchronous = FULL``, busy timeout, secure delete) that
make an acknowledged write durable. :func:`explain` turns SQLite's error codes into reasons a
person can act on. :mod:`recommender.feedback.log` opens the connections these work on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recommender.feedback.errors import FeedbackLogError, LogWriteError

if TYPE_CHECKING:  # the connections are made by the caller; this module only uses them
    import aiosqlite

log = logging.getLogger(__name__)

BUSY_TIMEOUT_SECONDS = 5.0

# ---------------------------------------------------------------------------------------------
# Schema history. Each migration is applied once, in its own transaction, and its last
# statement records its version in PRAGMA user_version. Never edit a released migration:
# add a new one, so that databases made by any older Soundalike are brought forward.


@dataclass(frozen=True)
class Migration:
    version: int
    summary: str
    sqlite: tuple[str, ...]  # the statements, in SQLite's dialect; the last records `version`
    # The step in PostgreSQL's dialect; None: the `sqlite` statements are portable (see above).
    postgres: tuple[str, ...] | None = None

    def postgres_statements(self) -> tuple[str, ...]:
        """What PostgreSQL runs for this step (the backend records the version itself)."""
        if self.postgres is not None:
            return self.postgres
        return tuple(statement for statement in self.sqlite if not statement.lstrip().upper().startswith("PRAGMA"))


SCHEMA_V1 = (
    """
    CREATE TABLE queries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        guild_id INTEGER NOT NULL,
        channel_id INTEGER,
        user_id INTEGER NOT NULL,
        command TEXT NOT NULL,
        typed_title TEXT,
        typed_artist TEXT,
        resolved_item_id TEXT,
        model_version TEXT,
        latency_ms REAL,
        message_id INTEGER UNIQUE,
        params_json TEXT NOT NULL DEFAULT '{}'
    )
    """,
    """
    CREATE TABLE suggestions (
        query_id INTEGER NOT NULL REFERENCES queries(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        item_id TEXT NOT NULL,
        score REAL,
        PRIMARY KEY (query_id, position)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        query_id INTEGER NOT NULL REFERENCES queries(id) ON DELETE CASCADE,
        message_id INTEGER,
        user_id INTEGER NOT NULL,
        position INTEGER,
        value INTEGER NOT NULL CHECK (value IN (-1, 1)),
        created_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX feedback_by_query ON feedback(query_id, user_id)",
    "PRAGMA user_version = 1",
)

SCHEMA_V2 = (
    # Retracting a rating (a reaction removed) keeps the row and stamps it.
    "ALTER TABLE feedback ADD COLUMN retracted_at TEXT",
    """
    CREATE TABLE blocks (
        guild_id INTEGER NOT NULL,
        item_id TEXT NOT NULL,
        blocked_by INTEGER,
        created_at TEXT NOT NULL,
        PRIMARY KEY (guild_id, item_id)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX queries_by_guild ON queries(guild_id, created_at)",
    "CREATE INDEX queries_by_user ON queries(user_id)",
    "CREATE INDEX queries_by_model_version ON queries(model_version)",
    "CREATE INDEX queries_by_seed ON queries(resolved_item_id)",
    "CREATE INDEX feedback_by_user ON feedback(user_id)",
    "CREATE INDEX feedback_by_message ON feedback(message_id, user_id)",
    # A member's current rating per (answer, position): the newest row not retracted.
    # PARTITION BY groups NULL positions (whole-message ratings) together, as wanted.
    """
    CREATE VIEW current_feedback AS
    SELECT id, query_id, message_id, user_id, position, value, created_at
    FROM (
        SELECT feedback.*, ROW_NUMBER() OVER (
            PARTITION BY query_id, user_id, position ORDER BY id DESC
        ) AS newest_first
        FROM feedback
        WHERE retracted_at IS NULL
    )
    WHERE newest_first = 1
    """,
    "PRAGMA user_version = 2",
)

# The same two steps in PostgreSQL: 64-bit ids (snowflakes do not fit a 32-bit INTEGER), 8-byte
# floats (PostgreSQL's REAL has 4), identity columns for AUTOINCREMENT (ids never reused), and a
# named subquery in the view (PostgreSQL 15 requires one). Timestamps stay ISO 8601 TEXT in UTC,
# as in SQLite, so every statement compares and groups them the same way on both.
POSTGRES_V1 = (
    """
    CREATE TABLE queries (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        created_at TEXT NOT NULL,
        guild_id BIGINT NOT NULL,
        channel_id BIGINT,
        user_id BIGINT NOT NULL,
        command TEXT NOT NULL,
        typed_title TEXT,
        typed_artist TEXT,
        resolved_item_id TEXT,
        model_version TEXT,
        latency_ms DOUBLE PRECISION,
        message_id BIGINT UNIQUE,
        params_json TEXT NOT NULL DEFAULT '{}'
    )
    """,
    """
    CREATE TABLE suggestions (
        query_id BIGINT NOT NULL REFERENCES queries(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        item_id TEXT NOT NULL,
        score DOUBLE PRECISION,
        PRIMARY KEY (query_id, position)
    )
    """,
    """
    CREATE TABLE feedback (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        query_id BIGINT NOT NULL REFERENCES queries(id) ON DELETE CASCADE,
        message_id BIGINT,
        user_id BIGINT NOT NULL,
        position INTEGER,
        value INTEGER NOT NULL CHECK (value IN (-1, 1)),
        created_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX feedback_by_query ON feedback(query_id, user_id)",
)

POSTGRES_V2 = (
    "ALTER TABLE feedback ADD COLUMN retracted_at TEXT",
    """
    CREATE TABLE blocks (
        guild_id BIGINT NOT NULL,
        item_id TEXT NOT NULL,
        blocked_by BIGINT,
        created_at TEXT NOT NULL,
        PRIMARY KEY (guild_id, item_id)
    )
    """,
    "CREATE INDEX queries_by_guild ON queries(guild_id, created_at)",
    "CREATE INDEX queries_by_user ON queries(user_id)",
    "CREATE INDEX queries_by_model_version ON queries(model_version)",
    "CREATE INDEX queries_by_seed ON queries(resolved_item_id)",
    "CREATE INDEX feedback_by_user ON feedback(user_id)",
    "CREATE INDEX feedback_by_message ON feedback(message_id, user_id)",
    """
    CREATE VIEW current_feedback AS
    SELECT id, query_id, message_id, user_id, position, value, created_at
    FROM (
        SELECT feedback.*, ROW_NUMBER() OVER (
            PARTITION BY query_id, user_id, position ORDER BY id DESC
        ) AS newest_first
        FROM feedback
        WHERE retracted_at IS NULL
    ) AS ranked
    WHERE newest_first = 1
    """,
)

# Members' linked accounts elsewhere (ListenBrainz): the account's username and when it was
# linked, nothing else. Standard SQL, valid as written on SQLite and PostgreSQL (BIGINT holds
# a Discord snowflake in both); only the version stamp after it is SQLite's own.
LINKED_ACCOUNTS_DDL = (
    """
    CREATE TABLE linked_accounts (
        user_id BIGINT NOT NULL,
        service TEXT NOT NULL,
        username TEXT NOT NULL,
        linked_at TEXT NOT NULL,
        PRIMARY KEY (user_id, service)
    )
    """,
)
SCHEMA_V3 = (*LINKED_ACCOUNTS_DDL, "PRAGMA user_version = 3")

# Members' turns, shared by every bot process on the log: when a member may next ask in a
# server (the cooldown), as seconds since the Unix epoch. Standard SQL only (valid on SQLite
# and PostgreSQL alike): BIGINT ids, DOUBLE PRECISION times.
MEMBER_TURNS = (
    """
    CREATE TABLE member_turns (
        guild_id BIGINT NOT NULL,
        user_id BIGINT NOT NULL,
        allowed_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (guild_id, user_id)
    )
    """,
    "CREATE INDEX member_turns_by_time ON member_turns(allowed_at)",
)
SCHEMA_V4 = (*MEMBER_TURNS, "PRAGMA user_version = 4")

MIGRATIONS = (
    Migration(1, "queries, suggestions shown, feedback", SCHEMA_V1, POSTGRES_V1),
    Migration(2, "retractions, per-guild blocks, lookup indexes, current_feedback view", SCHEMA_V2, POSTGRES_V2),
    Migration(3, "members' linked accounts (ListenBrainz username and when linked)", SCHEMA_V3),
    Migration(4, "members' turns (cooldowns shared by every bot process)", SCHEMA_V4),
)
CURRENT_SCHEMA_VERSION = MIGRATIONS[-1].version

# ---------------------------------------------------------------------------------------------
# Connection settings and transactions.

PRAGMA_WAL = "PRAGMA journal_mode = WAL"
PRAGMA_SYNCHRONOUS_FULL = "PRAGMA synchronous = FULL"
PRAGMA_FOREIGN_KEYS = "PRAGMA foreign_keys = ON"
PRAGMA_BUSY_TIMEOUT = "PRAGMA busy_timeout = 5000"  # matches BUSY_TIMEOUT_SECONDS
# Deleted rows are overwritten with zeros, so forget_user leaves no readable trace in the file.
PRAGMA_SECURE_DELETE = "PRAGMA secure_delete = ON"
PRAGMA_USER_VERSION = "PRAGMA user_version"
PRAGMA_CHECKPOINT = "PRAGMA wal_checkpoint(TRUNCATE)"
BEGIN_WRITE = "BEGIN IMMEDIATE"  # take the write lock now, so busy_timeout applies up front
BEGIN_READ = "BEGIN"
COMMIT = "COMMIT"
ROLLBACK = "ROLLBACK"


def explain(error: sqlite3.Error) -> str:
    """A reason a person can act on, from SQLite's error code."""
    name = getattr(error, "sqlite_errorname", "") or ""
    reasons = (
        ("SQLITE_READONLY", "the file (or its folder) is read-only"),
        ("SQLITE_FULL", "the disk is full"),
        ("SQLITE_BUSY", f"another connection kept it busy for over {BUSY_TIMEOUT_SECONDS:g} s"),
        ("SQLITE_LOCKED", "the database is locked"),
        ("SQLITE_CANTOPEN", "the file cannot be opened (missing folder or no permission)"),
        ("SQLITE_PERM", "permission denied"),
        ("SQLITE_IOERR", "a disk I/O error"),
        ("SQLITE_CORRUPT", "the file is damaged"),
        ("SQLITE_NOTADB", "the file is not a SQLite database"),
        ("SQLITE_CONSTRAINT", "the row breaks a table rule"),
    )
    for prefix, reason in reasons:
        if name.startswith(prefix):
            return f"{reason} ({error})"
    return str(error)


async def rollback_quietly(db: aiosqlite.Connection) -> None:
    # Nothing may be open (SQLite may already have rolled back); the first error matters.
    with contextlib.suppress(sqlite3.Error):
        await db.execute(ROLLBACK)


async def _single_value(db: aiosqlite.Connection, sql: str) -> Any:
    async with db.execute(sql) as cursor:
        row = await cursor.fetchone()
    if row is None:  # every PRAGMA used here answers one row; say so rather than fail obscurely
        raise sqlite3.DatabaseError("a PRAGMA answered no row")
    return row[0]


async def _enable_wal(db: aiosqlite.Connection) -> str:
    """Switch the file to WAL (a no-op once it is) and return the journal mode now in force.

    Switching needs an exclusive lock, and two connections switching a new file at once
    deadlock: SQLite answers one of them SQLITE_BUSY at once rather than waiting. So retry,
    for as long as busy_timeout would have waited.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            return str(await _single_value(db, PRAGMA_WAL))
        except sqlite3.OperationalError as error:
            if error.sqlite_errorname != "SQLITE_BUSY" or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.02)


async def configure(db: aiosqlite.Connection, path: Path, *, writing: bool) -> None:
    """Per-connection settings; the writer also makes the file durable (WAL, FULL sync)."""
    try:
        await db.execute(PRAGMA_BUSY_TIMEOUT)
        await db.execute(PRAGMA_FOREIGN_KEYS)
        if writing:
            mode = await _enable_wal(db)
            if mode != "wal":
                log.warning("%s: WAL unavailable (journal mode %s); writes stay durable", path, mode)
            await db.execute(PRAGMA_SYNCHRONOUS_FULL)
            await db.execute(PRAGMA_SECURE_DELETE)
    except sqlite3.Error as error:
        raise LogWriteError(path, "open the log", explain(error)) from None


async def _schema_version(db: aiosqlite.Connection) -> int:
    return int(await _single_value(db, PRAGMA_USER_VERSION))


async def apply_migrations(db: aiosqlite.Connection, path: Path) -> None:
    """Bring the schema to CURRENT_SCHEMA_VERSION, one migration per transaction.

    A current file is only read (so a read-only file still opens, and its writes fail with a
    clear LogWriteError). Otherwise the version is read again under the write lock, so two
    processes opening an old file at once apply each migration exactly once.
    """
    try:
        version = await _schema_version(db)
    except sqlite3.Error as error:
        raise LogWriteError(path, "read the schema version", explain(error)) from None
    if version > CURRENT_SCHEMA_VERSION:
        raise FeedbackLogError(
            f"The feedback log {path} has schema version {version}, made by a newer "
            f"Soundalike; this one knows up to version {CURRENT_SCHEMA_VERSION}."
        )
    for migration in MIGRATIONS:
        if version >= migration.version:
            continue
        try:
            await db.execute(BEGIN_WRITE)
            try:
                version = await _schema_version(db)
                if version < migration.version:
                    for statement in migration.sqlite:
                        await db.execute(statement)
                    version = migration.version
                    log.info("%s: schema now at version %d (%s)", path, version, migration.summary)
                await db.execute(COMMIT)
            except BaseException:
                await rollback_quietly(db)
                raise
        except sqlite3.Error as error:
            action = f"upgrade the schema to version {migration.version}"
            raise LogWriteError(path, action, explain(error)) from None
