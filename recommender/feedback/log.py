"""The SQLite log: queries, the suggestions shown, members' ratings, and per-guild blocks.

The bot and the console write through :class:`FeedbackLog` (async, aiosqlite); ``retrain`` and
``evaluate`` read through the synchronous helpers :func:`read_positive_feedback` and
:func:`online_rates`, which open the file read-only.

What "acknowledged" means
-------------------------
Every public write method is one transaction and returns only after its ``COMMIT``. Once it has
returned, the row is on disk: the database runs in WAL mode with ``synchronous = FULL``, so the
WAL is fsync'ed at every commit. ``NORMAL`` would already survive a SIGKILL of the process (the
committed frames are in the OS page cache); ``FULL`` also survives a power cut or kernel crash.
A commit costs well under a millisecond on an SSD and the bot writes a few rows per command, so
the stronger promise is cheap.

One writer
----------
All writes go through a single connection (aiosqlite runs it in its own thread) and an
``asyncio.Lock`` makes each transaction run alone, so concurrent coroutines never interleave
statements. Reads use a second connection: in WAL mode they see only committed data and never
wait for the writer. Other processes may open the same file (``busy_timeout`` makes them wait
for the write lock instead of failing at once).

Rating semantics
----------------
- ``position`` numbers a suggestion as the bot numbered it; ``None`` rates the whole message.
- A member's *current* rating on a suggestion (or on a whole message) is their latest
  non-retracted one: a re-rate replaces, and retracting a 👎 brings back a 👍 still standing
  (that is how Discord reactions behave: a member may have both on a message).
- A rating *touches* a song: a per-suggestion rating touches that song; a whole-message 👍
  touches every song shown in it that the member did not rate one by one. A whole-message 👎
  touches no song (it says the list was bad, not which song), it only counts in the stats.
- A member *likes* a song when the latest rating touching it is a 👍, and *dislikes* it when
  that latest rating is a 👎 (so liked and disliked never overlap).

Guilds and members
------------------
Ids are Discord snowflakes (SQLite INTEGERs). DMs and the console use ``NO_GUILD`` (0).
In the retrain feed a member is ``discord:<user_id>``: one person's taste is the same in every
server, so their ratings from all servers make one listener row.

Every SQL statement in this module is a constant string with ``?`` or ``:name`` parameters.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import aiosqlite

from recommender.errors import SoundalikeError

log = logging.getLogger(__name__)

NO_GUILD = 0  # guild_id for DMs and the console; Discord snowflakes are never 0
BUSY_TIMEOUT_SECONDS = 5.0
RATING_VALUES = (1, -1)


class FeedbackLogError(SoundalikeError):
    """The feedback log cannot be used; the message names the file."""


class LogWriteError(FeedbackLogError):
    """A write did not reach the disk (read-only file, disk full, lock held too long...)."""

    def __init__(self, path: Path, action: str, reason: str):
        super().__init__(f"Feedback log {path}: could not {action}: {reason}.")
        self.path = path
        self.action = action


class LogReadError(FeedbackLogError):
    """The log cannot be read (damaged, not a Soundalike log, or an unknown schema version)."""


# ---------------------------------------------------------------------------------------------
# Schema history. Each migration is applied once, in its own transaction, and its last
# statement records its version in PRAGMA user_version. Never edit a released migration:
# add a new one, so that databases made by any older Soundalike are brought forward.


@dataclass(frozen=True)
class Migration:
    version: int
    summary: str
    statements: tuple[str, ...]


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

MIGRATIONS = (
    Migration(1, "queries, suggestions shown, feedback", SCHEMA_V1),
    Migration(2, "retractions, per-guild blocks, lookup indexes, current_feedback view", SCHEMA_V2),
)
CURRENT_SCHEMA_VERSION = MIGRATIONS[-1].version

# ---------------------------------------------------------------------------------------------
# Statements.

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

# A message shows one answer: attaching it to a query takes it off any other query.
RELEASE_MESSAGE = "UPDATE queries SET message_id = NULL WHERE message_id = ?"
INSERT_QUERY = """
INSERT INTO queries (created_at, guild_id, channel_id, user_id, command, typed_title,
                     typed_artist, resolved_item_id, model_version, latency_ms, message_id,
                     params_json)
VALUES (:created_at, :guild_id, :channel_id, :user_id, :command, :typed_title,
        :typed_artist, :resolved_item_id, :model_version, :latency_ms, :message_id,
        :params_json)
"""
INSERT_SUGGESTION = "INSERT INTO suggestions (query_id, position, item_id, score) VALUES (?, ?, ?, ?)"
QUERY_EXISTS = "SELECT 1 FROM queries WHERE id = ?"
SET_MESSAGE = "UPDATE queries SET message_id = ? WHERE id = ?"
FIND_QUERY_BY_MESSAGE = "SELECT id, message_id FROM queries WHERE message_id = ?"
FIND_QUERY_BY_ID = "SELECT id, message_id FROM queries WHERE id = ?"
SUGGESTION_EXISTS = "SELECT 1 FROM suggestions WHERE query_id = ? AND position = ?"
INSERT_FEEDBACK = """
INSERT INTO feedback (query_id, message_id, user_id, position, value, created_at)
VALUES (?, ?, ?, ?, ?, ?)
"""
# Retraction by message uses the message id stored on the rating itself, so a rating made
# before the message was re-attached to a newer answer can still be withdrawn.
RETRACT_BY_MESSAGE = """
UPDATE feedback SET retracted_at = ?
WHERE message_id = ? AND user_id = ? AND position IS ? AND value = ? AND retracted_at IS NULL
"""
RETRACT_BY_QUERY = """
UPDATE feedback SET retracted_at = ?
WHERE query_id = ? AND user_id = ? AND position IS ? AND value = ? AND retracted_at IS NULL
"""
INSERT_BLOCK = """
INSERT INTO blocks (guild_id, item_id, blocked_by, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT (guild_id, item_id) DO NOTHING
"""
DELETE_BLOCK = "DELETE FROM blocks WHERE guild_id = ? AND item_id = ?"
SELECT_BLOCKS = "SELECT item_id FROM blocks WHERE guild_id = ?"

FORGET_FEEDBACK = "DELETE FROM feedback WHERE user_id = ?"
FORGET_FEEDBACK_ON_ANSWERS = "DELETE FROM feedback WHERE query_id IN (SELECT id FROM queries WHERE user_id = ?)"
FORGET_SUGGESTIONS = "DELETE FROM suggestions WHERE query_id IN (SELECT id FROM queries WHERE user_id = ?)"
FORGET_QUERIES = "DELETE FROM queries WHERE user_id = ?"
FORGET_BLOCKER = "UPDATE blocks SET blocked_by = NULL WHERE blocked_by = ?"

EXPIRE_FEEDBACK = "DELETE FROM feedback WHERE query_id IN (SELECT id FROM queries WHERE created_at < ?)"
EXPIRE_SUGGESTIONS = "DELETE FROM suggestions WHERE query_id IN (SELECT id FROM queries WHERE created_at < ?)"
EXPIRE_QUERIES = "DELETE FROM queries WHERE created_at < ?"

SELECT_QUERY_BY_MESSAGE = """
SELECT id, created_at, guild_id, channel_id, user_id, command, typed_title, typed_artist,
       resolved_item_id, model_version, latency_ms, message_id, params_json
FROM queries WHERE message_id = ?
"""
SELECT_SUGGESTIONS = "SELECT position, item_id, score FROM suggestions WHERE query_id = ? ORDER BY position"

# Songs and the newest current rating touching each (see "Rating semantics" above).
# Statements come in pairs, one filtered and one over the whole log, because a filter written
# as "(:guild IS NULL OR guild_id = :guild)" stops SQLite from using an index: the filtered
# ones must stay fast as the log grows (they run on every /foryou), the global ones feed
# batch jobs. In each pair only the first CTE differs.

# For one member in one guild, optionally only answers for one seed. Filtering the view on
# user_id (a PARTITION BY column) lets SQLite push the filter inside its window.
MEMBER_SONG_VERDICTS = """
WITH rated AS (
    SELECT c.user_id, c.query_id, c.position, c.value, c.id
    FROM current_feedback AS c
    JOIN queries AS q ON q.id = c.query_id
    WHERE c.user_id = :user AND q.guild_id = :guild
      AND (:seed IS NULL OR q.resolved_item_id = :seed)
),
touches AS (
    SELECT r.user_id, r.query_id, s.position, s.item_id, r.value, r.id AS rating_id,
           1 AS one_by_one
    FROM rated AS r
    JOIN suggestions AS s ON s.query_id = r.query_id AND s.position = r.position
    UNION ALL
    SELECT r.user_id, r.query_id, s.position, s.item_id, r.value, r.id AS rating_id,
           0 AS one_by_one
    FROM rated AS r
    JOIN suggestions AS s ON s.query_id = r.query_id
    WHERE r.position IS NULL AND r.value = 1
),
per_song_shown AS (
    -- A rating of the song itself beats a whole-message rating of the same message.
    SELECT user_id, item_id, value, rating_id, position, ROW_NUMBER() OVER (
        PARTITION BY user_id, query_id, position ORDER BY one_by_one DESC
    ) AS pick
    FROM touches
),
newest AS (
    SELECT user_id, item_id, value, rating_id, position, ROW_NUMBER() OVER (
        PARTITION BY user_id, item_id ORDER BY rating_id DESC
    ) AS newest_first
    FROM per_song_shown
    WHERE pick = 1
)
SELECT user_id, item_id, value, rating_id, position
FROM newest
WHERE newest_first = 1 AND value = :value
ORDER BY user_id, rating_id DESC, position
"""

# The same verdicts for every member in every guild (the retrain feed).
ALL_SONG_VERDICTS = """
WITH rated AS (
    SELECT c.user_id, c.query_id, c.position, c.value, c.id
    FROM current_feedback AS c
),
touches AS (
    SELECT r.user_id, r.query_id, s.position, s.item_id, r.value, r.id AS rating_id,
           1 AS one_by_one
    FROM rated AS r
    JOIN suggestions AS s ON s.query_id = r.query_id AND s.position = r.position
    UNION ALL
    SELECT r.user_id, r.query_id, s.position, s.item_id, r.value, r.id AS rating_id,
           0 AS one_by_one
    FROM rated AS r
    JOIN suggestions AS s ON s.query_id = r.query_id
    WHERE r.position IS NULL AND r.value = 1
),
per_song_shown AS (
    SELECT user_id, item_id, value, rating_id, position, ROW_NUMBER() OVER (
        PARTITION BY user_id, query_id, position ORDER BY one_by_one DESC
    ) AS pick
    FROM touches
),
newest AS (
    SELECT user_id, item_id, value, rating_id, position, ROW_NUMBER() OVER (
        PARTITION BY user_id, item_id ORDER BY rating_id DESC
    ) AS newest_first
    FROM per_song_shown
    WHERE pick = 1
)
SELECT user_id, item_id, value, rating_id, position
FROM newest
WHERE newest_first = 1 AND value = :value
ORDER BY user_id, rating_id DESC, position
"""

# Per model version: answers shown (queries with suggestions) and current ratings on them.
# The guild's current ratings are computed from its own answers only (the view cannot be
# filtered by guild before its window runs); the result is the same as the view's.
GUILD_VERSION_STATS = """
WITH ratings AS (
    SELECT query_id, value FROM (
        SELECT f.query_id, f.value, ROW_NUMBER() OVER (
            PARTITION BY f.query_id, f.user_id, f.position ORDER BY f.id DESC
        ) AS newest_first
        FROM queries AS q
        JOIN feedback AS f ON f.query_id = q.id
        WHERE q.guild_id = :guild AND f.retracted_at IS NULL
    )
    WHERE newest_first = 1
)
SELECT q.model_version AS model_version,
       COUNT(*) AS answers,
       COALESCE(SUM(r.up), 0) AS up,
       COALESCE(SUM(r.down), 0) AS down
FROM queries AS q
LEFT JOIN (
    SELECT query_id, SUM(value = 1) AS up, SUM(value = -1) AS down
    FROM ratings GROUP BY query_id
) AS r ON r.query_id = q.id
WHERE q.guild_id = :guild
  AND q.model_version IS NOT NULL
  AND EXISTS (SELECT 1 FROM suggestions AS s WHERE s.query_id = q.id)
GROUP BY q.model_version
ORDER BY MIN(q.id)
"""

ALL_VERSION_STATS = """
WITH ratings AS (
    SELECT query_id, value FROM current_feedback
)
SELECT q.model_version AS model_version,
       COUNT(*) AS answers,
       COALESCE(SUM(r.up), 0) AS up,
       COALESCE(SUM(r.down), 0) AS down
FROM queries AS q
LEFT JOIN (
    SELECT query_id, SUM(value = 1) AS up, SUM(value = -1) AS down
    FROM ratings GROUP BY query_id
) AS r ON r.query_id = q.id
WHERE q.model_version IS NOT NULL
  AND EXISTS (SELECT 1 FROM suggestions AS s WHERE s.query_id = q.id)
GROUP BY q.model_version
ORDER BY MIN(q.id)
"""

# In SQLite a bare column beside MAX() comes from the row holding the max, so the label
# shown for a seed is the title most recently typed for it.
GUILD_TOP_QUERIES = """
SELECT resolved_item_id AS item_id, typed_title, typed_artist, COUNT(*) AS times, MAX(id)
FROM queries
WHERE guild_id = :guild AND resolved_item_id IS NOT NULL
GROUP BY resolved_item_id
ORDER BY times DESC, MAX(id) DESC
LIMIT :limit
"""

ALL_TOP_QUERIES = """
SELECT resolved_item_id AS item_id, typed_title, typed_artist, COUNT(*) AS times, MAX(id)
FROM queries
WHERE resolved_item_id IS NOT NULL
GROUP BY resolved_item_id
ORDER BY times DESC, MAX(id) DESC
LIMIT :limit
"""

# Current ratings per UTC day (the day each was made) and the version that made the answer.
GUILD_FEEDBACK_BY_DAY = """
WITH ratings AS (
    SELECT query_id, value, created_at FROM (
        SELECT f.query_id, f.value, f.created_at, ROW_NUMBER() OVER (
            PARTITION BY f.query_id, f.user_id, f.position ORDER BY f.id DESC
        ) AS newest_first
        FROM queries AS q
        JOIN feedback AS f ON f.query_id = q.id
        WHERE q.guild_id = :guild AND f.retracted_at IS NULL
    )
    WHERE newest_first = 1
)
SELECT date(r.created_at) AS day, q.model_version AS model_version,
       SUM(r.value = 1) AS up, SUM(r.value = -1) AS down
FROM ratings AS r
JOIN queries AS q ON q.id = r.query_id
GROUP BY day, q.model_version
ORDER BY day, MIN(q.id)
"""

ALL_FEEDBACK_BY_DAY = """
WITH ratings AS (
    SELECT query_id, value, created_at FROM current_feedback
)
SELECT date(r.created_at) AS day, q.model_version AS model_version,
       SUM(r.value = 1) AS up, SUM(r.value = -1) AS down
FROM ratings AS r
JOIN queries AS q ON q.id = r.query_id
GROUP BY day, q.model_version
ORDER BY day, MIN(q.id)
"""


# ---------------------------------------------------------------------------------------------
# Result types.


class LoggedSuggestion(NamedTuple):
    position: int
    item_id: str
    score: float | None


@dataclass(frozen=True)
class LoggedQuery:
    """A query as logged, with the suggestions that were shown for it."""

    id: int
    created_at: str
    guild_id: int
    channel_id: int | None
    user_id: int
    command: str
    typed_title: str | None
    typed_artist: str | None
    resolved_item_id: str | None
    model_version: str | None
    latency_ms: float | None
    message_id: int | None
    params: dict
    suggestions: tuple[LoggedSuggestion, ...]


@dataclass(frozen=True)
class VersionStats:
    """How one model version did: answers shown and members' current ratings on them."""

    model_version: str
    answers: int
    up: int
    down: int

    @property
    def up_rate(self) -> float:
        """Share of ratings that are 👍; 0.0 while nothing is rated (check ``up + down``)."""
        rated = self.up + self.down
        return self.up / rated if rated else 0.0


class TopQuery(NamedTuple):
    item_id: str
    typed_title: str | None  # the most recent title typed for this seed
    typed_artist: str | None
    times: int


class FeedbackDay(NamedTuple):
    day: str  # YYYY-MM-DD (UTC)
    model_version: str | None
    up: int
    down: int


def _version_stats(row: sqlite3.Row) -> VersionStats:
    return VersionStats(row["model_version"], row["answers"], row["up"], row["down"])


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _check_rating(value: int) -> None:
    if value not in RATING_VALUES or isinstance(value, bool):
        raise ValueError(f"a rating is +1 or -1, got {value!r}")


def _check_target(message_id: int | None, query_id: int | None) -> None:
    if (message_id is None) == (query_id is None):
        raise ValueError("give exactly one of message_id and query_id")


def _suggestion_rows(
    query_id: int, suggestions: list[tuple[int, str, float | None]]
) -> list[tuple[int, int, str, float | None]]:
    return [(query_id, position, item_id, score) for position, item_id, score in suggestions]


def _checked_suggestions(
    suggestions: Iterable[tuple[int, str, float | None]],
) -> list[tuple[int, str, float | None]]:
    """``(position, item_id, score)`` as plain values, each position once."""
    checked = []
    seen: set[int] = set()
    for position, item_id, score in suggestions:
        if position in seen:
            raise ValueError(f"suggestion position {position} appears twice")
        seen.add(position)
        checked.append((int(position), str(item_id), None if score is None else float(score)))
    return checked


def _why(error: sqlite3.Error) -> str:
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


# ---------------------------------------------------------------------------------------------


class FeedbackLog:
    """The log the bot and the console write to. Open with ``async with FeedbackLog.open(path)``."""

    def __init__(
        self,
        path: Path,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        clock: Callable[[], datetime],
    ):
        self.path = path
        self._writer = writer
        self._reader = reader
        self._clock = clock
        self._write_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()

    # -- opening -------------------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def open(cls, path: str | Path, *, clock: Callable[[], datetime] | None = None) -> AsyncIterator[FeedbackLog]:
        """Open (creating and migrating as needed) the log at ``path``.

        ``clock`` returns the current time (aware datetime); tests pass a fixed one. Raises
        LogWriteError when the file cannot be opened or upgraded, and FeedbackLogError when a
        newer Soundalike made it. A read-only file opens; its writes raise LogWriteError.
        """
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise LogWriteError(path, "create the folder", str(error)) from None
        writer = await _connect(path, "open the log")
        reader = None
        try:
            await _configure(writer, path, writing=True)
            await _migrate(writer, path)
            reader = await _connect(path, "open the log for reading")
            await _configure(reader, path, writing=False)
            reader.row_factory = sqlite3.Row
            yield cls(path, writer, reader, clock or _utc_now)
        finally:
            if reader is not None:
                await reader.close()
            await writer.close()

    # -- transactions --------------------------------------------------------------------

    @asynccontextmanager
    async def _write(self, action: str) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction, alone on the writer; committed before the caller goes on."""
        async with self._write_lock:
            try:
                await self._writer.execute(BEGIN_WRITE)
                yield self._writer
                await self._writer.execute(COMMIT)
            except sqlite3.Error as error:
                await _rollback_quietly(self._writer)
                raise LogWriteError(self.path, action, _why(error)) from error
            except BaseException:
                await _rollback_quietly(self._writer)
                raise

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        """One read transaction: every statement inside sees the same committed snapshot."""
        async with self._read_lock:
            try:
                await self._reader.execute(BEGIN_READ)
                try:
                    yield self._reader
                finally:
                    await self._reader.execute(COMMIT)
            except sqlite3.Error as error:
                message = f"Feedback log {self.path}: could not read: {_why(error)}."
                raise LogReadError(message) from error

    async def _fetch(self, sql: str, params: tuple | dict) -> list[sqlite3.Row]:
        async with self._read() as db:
            return list(await db.execute_fetchall(sql, params))

    # -- answers -------------------------------------------------------------------------

    async def record_answer(
        self,
        *,
        guild_id: int,
        user_id: int,
        command: str,
        channel_id: int | None = None,
        typed_title: str | None = None,
        typed_artist: str | None = None,
        resolved_item_id: str | None = None,
        model_version: str | None = None,
        latency_ms: float | None = None,
        params: dict | None = None,
        suggestions: Iterable[tuple[int, str, float | None]] = (),
        message_id: int | None = None,
    ) -> int:
        """Log a query and the suggestions shown for it in one transaction; return its id.

        ``suggestions`` are ``(position, item_id, score)``. A ``message_id`` already attached to
        another query moves to this one (the bot edited that message to show this answer).
        """
        checked = _checked_suggestions(suggestions)
        values = {
            "created_at": _timestamp(self._clock()),
            "guild_id": guild_id,
            "channel_id": channel_id,
            "user_id": user_id,
            "command": command,
            "typed_title": typed_title,
            "typed_artist": typed_artist,
            "resolved_item_id": resolved_item_id,
            "model_version": model_version,
            "latency_ms": latency_ms,
            "message_id": message_id,
            "params_json": json.dumps(params or {}, sort_keys=True),
        }
        async with self._write("record a query") as db:
            if message_id is not None:
                await db.execute(RELEASE_MESSAGE, (message_id,))
            cursor = await db.execute(INSERT_QUERY, values)
            query_id = cursor.lastrowid
            await db.executemany(INSERT_SUGGESTION, _suggestion_rows(query_id, checked))
        return query_id

    async def record_query(
        self,
        *,
        guild_id: int,
        user_id: int,
        command: str,
        channel_id: int | None = None,
        typed_title: str | None = None,
        typed_artist: str | None = None,
        resolved_item_id: str | None = None,
        model_version: str | None = None,
        latency_ms: float | None = None,
        params: dict | None = None,
        message_id: int | None = None,
    ) -> int:
        """Log a query alone (e.g. one that found no song); add suggestions later with
        :meth:`record_suggestions`, or use :meth:`record_answer` to do both at once."""
        return await self.record_answer(
            guild_id=guild_id,
            user_id=user_id,
            command=command,
            channel_id=channel_id,
            typed_title=typed_title,
            typed_artist=typed_artist,
            resolved_item_id=resolved_item_id,
            model_version=model_version,
            latency_ms=latency_ms,
            params=params,
            message_id=message_id,
        )

    async def record_suggestions(self, query_id: int, suggestions: Iterable[tuple[int, str, float | None]]) -> bool:
        """Add the suggestions shown for a query. False when the query is gone (forgotten)."""
        rows = _suggestion_rows(query_id, _checked_suggestions(suggestions))
        async with self._write("record suggestions") as db:
            if not await db.execute_fetchall(QUERY_EXISTS, (query_id,)):
                return False
            await db.executemany(INSERT_SUGGESTION, rows)
        return True

    async def attach_message(self, query_id: int, message_id: int) -> bool:
        """Record the Discord message that shows a query's answer (known only after sending).

        The message moves off any older query it was attached to. False when the query is
        gone (its member was forgotten in the meantime).
        """
        async with self._write("attach a message") as db:
            if not await db.execute_fetchall(QUERY_EXISTS, (query_id,)):
                return False
            await db.execute(RELEASE_MESSAGE, (message_id,))
            await db.execute(SET_MESSAGE, (message_id, query_id))
        return True

    # -- ratings -------------------------------------------------------------------------

    async def record_feedback(
        self,
        message_id: int | None,
        user_id: int,
        value: int,
        position: int | None = None,
        *,
        query_id: int | None = None,
    ) -> bool:
        """Log a member's 👍 (+1) or 👎 (-1) on a message (or a query), whole or one suggestion.

        Returns True once the rating is committed; False when the message is not one of ours
        or the position was not shown in it.
        """
        _check_rating(value)
        _check_target(message_id, query_id)
        async with self._write("record a rating") as db:
            if message_id is not None:
                found = await db.execute_fetchall(FIND_QUERY_BY_MESSAGE, (message_id,))
            else:
                found = await db.execute_fetchall(FIND_QUERY_BY_ID, (query_id,))
            if not found:
                return False
            target_query, target_message = found[0]
            if position is not None and not await db.execute_fetchall(SUGGESTION_EXISTS, (target_query, position)):
                return False
            await db.execute(
                INSERT_FEEDBACK,
                (target_query, target_message, user_id, position, value, _timestamp(self._clock())),
            )
        return True

    async def retract_feedback(
        self,
        message_id: int | None,
        user_id: int,
        value: int,
        position: int | None = None,
        *,
        query_id: int | None = None,
    ) -> bool:
        """Withdraw a member's standing ``value`` rating (a reaction removed). True if any was."""
        _check_rating(value)
        _check_target(message_id, query_id)
        now = _timestamp(self._clock())
        async with self._write("retract a rating") as db:
            if message_id is not None:
                cursor = await db.execute(RETRACT_BY_MESSAGE, (now, message_id, user_id, position, value))
            else:
                cursor = await db.execute(RETRACT_BY_QUERY, (now, query_id, user_id, position, value))
            changed = cursor.rowcount
        return changed > 0

    async def liked_items(self, guild_id: int, user_id: int) -> list[str]:
        """Songs the member likes in this guild (latest rating touching them is 👍), newest first."""
        rows = await self._fetch(MEMBER_SONG_VERDICTS, {"guild": guild_id, "user": user_id, "seed": None, "value": 1})
        return [row["item_id"] for row in rows]

    async def disliked_items(self, guild_id: int, user_id: int, seed_item_id: str | None = None) -> set[str]:
        """Songs the member rated 👎 one by one (and not since 👍), in answers for ``seed_item_id``
        when given, else in any answer in this guild."""
        rows = await self._fetch(
            MEMBER_SONG_VERDICTS,
            {"guild": guild_id, "user": user_id, "seed": seed_item_id, "value": -1},
        )
        return {row["item_id"] for row in rows}

    # -- blocks --------------------------------------------------------------------------

    async def block(self, guild_id: int, item_id: str, by: int) -> bool:
        """Never suggest ``item_id`` in this guild. True if it was not blocked already."""
        async with self._write("block a song") as db:
            cursor = await db.execute(INSERT_BLOCK, (guild_id, item_id, by, _timestamp(self._clock())))
            added = cursor.rowcount
        return added > 0

    async def unblock(self, guild_id: int, item_id: str) -> bool:
        """Allow ``item_id`` again in this guild. True if it was blocked."""
        async with self._write("unblock a song") as db:
            cursor = await db.execute(DELETE_BLOCK, (guild_id, item_id))
            removed = cursor.rowcount
        return removed > 0

    async def blocked_items(self, guild_id: int) -> set[str]:
        rows = await self._fetch(SELECT_BLOCKS, (guild_id,))
        return {row["item_id"] for row in rows}

    # -- reports -------------------------------------------------------------------------

    async def stats(self, guild_id: int | None = None) -> list[VersionStats]:
        """Per model version, oldest first; ``guild_id=None`` covers every guild."""
        if guild_id is None:
            rows = await self._fetch(ALL_VERSION_STATS, {})
        else:
            rows = await self._fetch(GUILD_VERSION_STATS, {"guild": guild_id})
        return [_version_stats(row) for row in rows]

    async def top_queries(self, guild_id: int | None = None, limit: int = 10) -> list[TopQuery]:
        """The seeds asked for most often (resolved queries only), most asked first."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if guild_id is None:
            rows = await self._fetch(ALL_TOP_QUERIES, {"limit": limit})
        else:
            rows = await self._fetch(GUILD_TOP_QUERIES, {"guild": guild_id, "limit": limit})
        return [TopQuery(row["item_id"], row["typed_title"], row["typed_artist"], row["times"]) for row in rows]

    async def feedback_over_time(self, guild_id: int | None = None) -> list[FeedbackDay]:
        """Current 👍/👎 counts per UTC day (the day each rating was made) and model version."""
        if guild_id is None:
            rows = await self._fetch(ALL_FEEDBACK_BY_DAY, {})
        else:
            rows = await self._fetch(GUILD_FEEDBACK_BY_DAY, {"guild": guild_id})
        return [FeedbackDay(row["day"], row["model_version"], row["up"], row["down"]) for row in rows]

    async def query_for_message(self, message_id: int) -> LoggedQuery | None:
        """The query a message shows, with its suggestions; None for a message not ours."""
        async with self._read() as db:
            found = await db.execute_fetchall(SELECT_QUERY_BY_MESSAGE, (message_id,))
            if not found:
                return None
            row = found[0]
            suggestions = await db.execute_fetchall(SELECT_SUGGESTIONS, (row["id"],))
        fields = {key: row[key] for key in row.keys() if key != "params_json"}
        return LoggedQuery(
            **fields,
            params=json.loads(row["params_json"]),
            suggestions=tuple(LoggedSuggestion(*suggestion) for suggestion in suggestions),
        )

    # -- privacy -------------------------------------------------------------------------

    async def forget_user(self, user_id: int) -> dict[str, int]:
        """Erase everything logged about a member (Red's ``red_delete_data_for_user``).

        Deletes their queries with the suggestions shown for them, every rating on those
        answers (a rating of an answer that no longer exists means nothing), and their own
        ratings everywhere. Blocks they made stay (they are the guild's decision) but no longer
        name them. Returns how many rows each step touched.
        """
        async with self._write("forget a member") as db:
            counts = {}
            for name, statement in (
                ("feedback", FORGET_FEEDBACK),
                ("feedback_on_their_answers", FORGET_FEEDBACK_ON_ANSWERS),
                ("suggestions", FORGET_SUGGESTIONS),
                ("queries", FORGET_QUERIES),
                ("blocks_unnamed", FORGET_BLOCKER),
            ):
                cursor = await db.execute(statement, (user_id,))
                counts[name] = cursor.rowcount
        # Old page images in the WAL still hold the erased rows; fold them into the main file
        # (where secure_delete zeroed them). Best effort: a busy reader only delays this.
        try:
            async with self._write_lock:
                await self._writer.execute(PRAGMA_CHECKPOINT)
        except sqlite3.Error as error:
            log.info("checkpoint after forgetting a member was deferred: %s", error)
        return counts

    async def expire(self, older_than_days: int) -> dict[str, int]:
        """Erase questions older than ``older_than_days`` with their answers and ratings.

        The retention promise of the README ([bot] retention_days). A rating lives with the
        question it rates, so an old answer's 👍 goes too (and stops being training data).
        Returns how many rows each step removed.
        """
        if older_than_days <= 0:
            return {}
        cutoff = _timestamp(self._clock() - timedelta(days=older_than_days))
        async with self._write("expire old questions") as db:
            counts = {}
            for name, statement in (
                ("feedback", EXPIRE_FEEDBACK),
                ("suggestions", EXPIRE_SUGGESTIONS),
                ("queries", EXPIRE_QUERIES),
            ):
                cursor = await db.execute(statement, (cutoff,))
                counts[name] = cursor.rowcount
        return counts


async def _rollback_quietly(db: aiosqlite.Connection) -> None:
    try:
        await db.execute(ROLLBACK)
    except sqlite3.Error:
        pass  # nothing was open (SQLite may already have rolled back); the first error matters


async def _connect(path: Path, action: str) -> aiosqlite.Connection:
    try:
        # isolation_level=None: no implicit transactions; this module issues BEGIN/COMMIT.
        return await aiosqlite.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS)
    except sqlite3.Error as error:
        raise LogWriteError(path, action, _why(error)) from None


async def _enable_wal(db: aiosqlite.Connection) -> str:
    """Switch the file to WAL (a no-op once it is) and return the journal mode now in force.

    Switching needs an exclusive lock, and two connections switching a new file at once
    deadlock: SQLite answers one of them SQLITE_BUSY at once rather than waiting. So retry,
    for as long as busy_timeout would have waited.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            async with db.execute(PRAGMA_WAL) as cursor:
                (mode,) = await cursor.fetchone()
            return mode
        except sqlite3.OperationalError as error:
            if error.sqlite_errorname != "SQLITE_BUSY" or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.02)


async def _configure(db: aiosqlite.Connection, path: Path, *, writing: bool) -> None:
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
        raise LogWriteError(path, "open the log", _why(error)) from None


async def _schema_version(db: aiosqlite.Connection) -> int:
    async with db.execute(PRAGMA_USER_VERSION) as cursor:
        (version,) = await cursor.fetchone()
    return version


async def _migrate(db: aiosqlite.Connection, path: Path) -> None:
    """Bring the schema to CURRENT_SCHEMA_VERSION, one migration per transaction.

    A current file is only read (so a read-only file still opens, and its writes fail with a
    clear LogWriteError). Otherwise the version is read again under the write lock, so two
    processes opening an old file at once apply each migration exactly once.
    """
    try:
        version = await _schema_version(db)
    except sqlite3.Error as error:
        raise LogWriteError(path, "read the schema version", _why(error)) from None
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
                    for statement in migration.statements:
                        await db.execute(statement)
                    version = migration.version
                    log.info("%s: schema now at version %d (%s)", path, version, migration.summary)
                await db.execute(COMMIT)
            except BaseException:
                await _rollback_quietly(db)
                raise
        except sqlite3.Error as error:
            action = f"upgrade the schema to version {migration.version}"
            raise LogWriteError(path, action, _why(error)) from None


# ---------------------------------------------------------------------------------------------
# Read-only helpers for other processes (retrain, evaluate). Synchronous, stdlib sqlite3.


def _open_read_only(db_path: str | Path) -> sqlite3.Connection | None:
    """A read-only connection, or None when no log exists yet (nothing was rated)."""
    path = Path(db_path)
    if not path.exists():
        return None
    try:
        connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS)
        connection.row_factory = sqlite3.Row
        (version,) = connection.execute(PRAGMA_USER_VERSION).fetchone()
    except sqlite3.Error as error:
        raise LogReadError(f"Feedback log {path}: could not read: {_why(error)}.") from None
    if version != CURRENT_SCHEMA_VERSION:
        connection.close()
        hint = (
            "start the bot or the console once to upgrade it"
            if version < CURRENT_SCHEMA_VERSION
            else "it was made by a newer Soundalike"
        )
        raise LogReadError(
            f"The feedback log {path} has schema version {version}, this Soundalike reads "
            f"version {CURRENT_SCHEMA_VERSION}: {hint}."
        )
    return connection


def _read_only_rows(db_path: str | Path, sql: str, params: dict) -> list[sqlite3.Row]:
    connection = _open_read_only(db_path)
    if connection is None:
        return []
    try:
        return connection.execute(sql, params).fetchall()
    except sqlite3.Error as error:
        raise LogReadError(f"Feedback log {db_path}: could not read: {_why(error)}.") from None
    finally:
        connection.close()


def member_key(user_id: int) -> str:
    """How a Discord member appears as a listener in the retrain feed."""
    return f"discord:{user_id}"


def read_positive_feedback(db_path: str | Path) -> list[tuple[str, str]]:
    """``(member_key, item_id)`` for every song a member likes, over all guilds.

    "Likes" as in :meth:`FeedbackLog.liked_items`: retracted ratings and 👎 never count.
    Sorted, one pair per member and song. Empty when the log does not exist yet.
    """
    rows = _read_only_rows(db_path, ALL_SONG_VERDICTS, {"value": 1})
    return sorted((member_key(row["user_id"]), row["item_id"]) for row in rows)


def online_rates(db_path: str | Path) -> dict[str, dict[str, float | int]]:
    """Per model version: ``answers``, ``up``, ``down``, ``up_rate`` (0.0 while nothing rated)."""
    rows = _read_only_rows(db_path, ALL_VERSION_STATS, {})
    rates: dict[str, dict[str, float | int]] = {}
    for row in rows:
        stats = _version_stats(row)
        rates[stats.model_version] = {
            "answers": stats.answers,
            "up": stats.up,
            "down": stats.down,
            "up_rate": stats.up_rate,
        }
    return rates
