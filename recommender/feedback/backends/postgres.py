"""The log on a PostgreSQL server (``[bot] database = "postgresql://..."``), through asyncpg.

Several bot processes (shards, machines) share one such log. What the SQLite file promises
holds here too:

- Acknowledged means durable: ``write()`` ends after ``COMMIT`` returned, and every connection
  runs with ``synchronous_commit = on`` (whatever the server's default), so the server has
  flushed the commit to its WAL on disk. A bot process SIGKILLed after that loses nothing;
  one SIGKILLed before it leaves nothing half-written (the server rolls the transaction back).
- One writer at a time, as in SQLite: each write transaction first takes a transaction-scoped
  advisory lock (:data:`WRITE_LOCK`), so write transactions from every process run one after
  another and a read-then-write such as ``rate_or_take_back`` decides on what it then changes
  (two quick presses end as if one came after the other, even in two processes). Writes are a
  few rows each; one at a time keeps thousands per second.
- A read transaction is ``REPEATABLE READ READ ONLY``: every statement in it sees one snapshot.
- Migrations: the version lives in the one-row table ``schema_version``; each step runs in its
  own transaction under :data:`MIGRATION_LOCK`, re-reading the version under it, so processes
  starting together apply each step once. A server at a newer version is refused by name.

A pool of connections serves the transactions (one more is opened when one is lost), and every
error is turned into the log's own errors with a reason a person can act on (:func:`explain`).
The URL is shown without its password (:func:`recommender.feedback.backends.shown_url`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import AsyncIterator, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg

from recommender.feedback import schema
from recommender.feedback.backends import Params, Row, postgres_arguments, shown_url, to_postgres
from recommender.feedback.errors import FeedbackLogError, LogReadError, LogWriteError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 10.0
# A statement waits this long at most (a lock held by a stuck process, a lost server).
STATEMENT_TIMEOUT_SECONDS = 30.0
POOL_SIZE = 4  # one writer at a time, the rest for concurrent reads
SERVER_SETTINGS = {"synchronous_commit": "on", "application_name": "soundalike"}

# Advisory lock keys (64-bit, per database): "SndaLog1" and "SndaMig1" in ASCII.
WRITE_LOCK = 0x536E64614C6F6731
MIGRATION_LOCK = 0x536E64614D696731
TAKE_WRITE_LOCK = "SELECT pg_advisory_xact_lock(?)"
TAKE_MIGRATION_LOCK = "SELECT pg_advisory_xact_lock(?)"

CREATE_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
VERSION_TABLE_EXISTS = "SELECT to_regclass('schema_version') IS NOT NULL"
READ_VERSION = "SELECT COALESCE(MAX(version), 0) FROM schema_version"
CLEAR_VERSION = "DELETE FROM schema_version"
RECORD_VERSION = "INSERT INTO schema_version (version) VALUES (?)"
# After /forgetme: make the erased rows' space reusable now rather than at autovacuum's pace.
VACUUM_LOG_TABLES = "VACUUM queries, suggestions, feedback, blocks"

# What asyncpg raises for a server or connection problem (PostgresError carries a SQLSTATE).
DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    TimeoutError,
)

# SQLSTATE (or its two-character class) -> a reason a person can act on.
REASONS = (
    ("25006", "the database is read-only (read-only transaction or standby server)"),
    ("53100", "the server's disk is full"),
    ("53200", "the server is out of memory"),
    ("53300", "the server has too many connections"),
    ("42501", "permission denied (the user may not use these tables)"),
    ("3D000", "the database does not exist (create it first: createdb, or CREATE DATABASE)"),
    ("28P01", "the server refused the password"),
    ("28", "the server refused the login"),
    ("57014", f"a statement took over {STATEMENT_TIMEOUT_SECONDS:g} s (a lock held elsewhere?)"),
    ("57P", "the server is shutting down or restarting"),
    ("40P01", "a deadlock with another connection"),
    ("40", "the transaction was cancelled by the server; try again"),
    ("23", "the row breaks a table rule"),
    ("08", "the connection to the server failed"),
    ("XX001", "the data on the server is damaged"),
    ("42P01", "a table is missing (not a Soundalike log?)"),
)

_T = TypeVar("_T")


def explain(error: BaseException) -> str:
    """A reason a person can act on, from a PostgreSQL or connection error."""
    state = getattr(error, "sqlstate", None) or ""
    if state:
        for prefix, reason in REASONS:
            if state.startswith(prefix):
                return f"{reason} ({error})"
        return f"{error} (SQLSTATE {state})"
    if isinstance(error, ConnectionRefusedError):
        return f"no server answers there ({error})"
    if isinstance(error, TimeoutError):
        return f"the server did not answer within {CONNECT_TIMEOUT_SECONDS:g} s"
    if isinstance(error, asyncpg.exceptions.ConnectionDoesNotExistError):
        return f"the connection to the server was lost ({error})"
    if isinstance(error, OSError):
        return f"cannot reach the server ({error})"
    return f"{type(error).__name__}: {error}"


class PostgresTransaction:
    def __init__(self, connection: asyncpg.Connection):
        self._connection = connection

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        statement, arguments = postgres_arguments(sql, params)
        return list(await self._connection.fetch(statement, *arguments))

    async def execute(self, sql: str, params: Params = ()) -> int:
        statement, arguments = postgres_arguments(sql, params)
        status = await self._connection.execute(statement, *arguments)
        return _changed_rows(status)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        statement, names = to_postgres(sql)
        if names is not None:
            raise ValueError("executemany takes statements with ? parameters")
        batch = [tuple(row) for row in rows]
        if batch:
            await self._connection.executemany(statement, batch)


def _changed_rows(status: str) -> int:
    """Rows a command changed, from its status ("UPDATE 3", "INSERT 0 1", "DELETE 0")."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgresBackend:
    """A log database on a PostgreSQL server. Open with ``async with PostgresBackend.open(url)``."""

    def __init__(self, url: str, pool: asyncpg.Pool):
        self.url = url
        self.location = shown_url(url)
        self._pool = pool
        self._write_lock = asyncio.Lock()

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str) -> AsyncIterator[PostgresBackend]:
        """Connect, bring the schema to the current version and yield the backend; LogWriteError
        (naming the URL without its password) when the server cannot be reached or upgraded."""
        location = shown_url(url)
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=POOL_SIZE,
                timeout=CONNECT_TIMEOUT_SECONDS,
                command_timeout=STATEMENT_TIMEOUT_SECONDS,
                server_settings=SERVER_SETTINGS,
            )
        except DRIVER_ERRORS as error:
            raise LogWriteError(location, "connect to the server", explain(error)) from None
        try:
            async with pool.acquire() as connection:
                await apply_migrations(connection, location)
            yield cls(url, pool)
        finally:
            try:
                await asyncio.wait_for(pool.close(), CONNECT_TIMEOUT_SECONDS)
            except DRIVER_ERRORS as error:  # TimeoutError among them
                log.warning("%s: closing the connections took too long (%s); dropping them", location, error)
                pool.terminate()

    @asynccontextmanager
    async def write(self, action: str) -> AsyncIterator[PostgresTransaction]:
        # The asyncio lock keeps this process's writers from queueing on the server's lock
        # with a pooled connection each; the advisory lock orders writers of every process.
        async with self._write_lock:
            try:
                async with self._pool.acquire() as connection, connection.transaction():
                    transaction = PostgresTransaction(connection)
                    await transaction.execute(TAKE_WRITE_LOCK, (WRITE_LOCK,))
                    yield transaction
            except DRIVER_ERRORS as error:
                raise LogWriteError(self.location, action, explain(error)) from error

    @asynccontextmanager
    async def read(self) -> AsyncIterator[PostgresTransaction]:
        try:
            async with (
                self._pool.acquire() as connection,
                connection.transaction(isolation="repeatable_read", readonly=True),
            ):
                yield PostgresTransaction(connection)
        except DRIVER_ERRORS as error:
            message = f"Feedback log {self.location}: could not read: {explain(error)}."
            raise LogReadError(message) from error

    async def scrub(self) -> None:
        # PostgreSQL has no secure_delete: erased rows stay in the table's pages until VACUUM
        # lets them be overwritten (and in its WAL until recycled). Vacuum now, best effort.
        try:
            async with self._pool.acquire() as connection:
                await connection.execute(VACUUM_LOG_TABLES)
        except DRIVER_ERRORS as error:
            log.info("%s: VACUUM after erasing rows was deferred: %s", self.location, error)


async def schema_version(connection: asyncpg.Connection) -> int:
    """The log's version on this database; 0 for a database the log never used."""
    transaction = PostgresTransaction(connection)
    exists = (await transaction.fetch(VERSION_TABLE_EXISTS))[0][0]
    return int((await transaction.fetch(READ_VERSION))[0][0]) if exists else 0


async def apply_migrations(connection: asyncpg.Connection, location: str) -> None:
    """Bring the schema to the current version, one migration per transaction (see above)."""
    try:
        version = await schema_version(connection)
    except DRIVER_ERRORS as error:
        raise LogWriteError(location, "read the schema version", explain(error)) from None
    current = schema.MIGRATIONS[-1].version
    if version > current:
        raise FeedbackLogError(
            f"The feedback log {location} has schema version {version}, made by a newer "
            f"Soundalike; this one knows up to version {current}."
        )
    transaction = PostgresTransaction(connection)
    for migration in schema.MIGRATIONS:
        if version >= migration.version:
            continue
        try:
            async with connection.transaction():
                await transaction.execute(TAKE_MIGRATION_LOCK, (MIGRATION_LOCK,))
                await transaction.execute(CREATE_VERSION_TABLE)
                version = int((await transaction.fetch(READ_VERSION))[0][0])
                if version < migration.version:
                    for statement in migration.postgres_statements():
                        await transaction.execute(statement)
                    await transaction.execute(CLEAR_VERSION)
                    await transaction.execute(RECORD_VERSION, (migration.version,))
                    version = migration.version
                    log.info("%s: schema now at version %d (%s)", location, version, migration.summary)
        except DRIVER_ERRORS as error:
            action = f"upgrade the schema to version {migration.version}"
            raise LogWriteError(location, action, explain(error)) from None


# -- the offline readers' way in (synchronous callers) ------------------------------------------

READ_ONLY_HINT_OLD = "start the bot or the console once to upgrade it"
READ_ONLY_HINT_NEW = "it was made by a newer Soundalike"


async def _read_rows(url: str, sql: str, params: Params) -> list[dict[str, Any]]:
    location = shown_url(url)
    try:
        connection = await asyncpg.connect(
            url, timeout=CONNECT_TIMEOUT_SECONDS, command_timeout=STATEMENT_TIMEOUT_SECONDS
        )
    except DRIVER_ERRORS as error:
        raise LogReadError(f"Feedback log {location}: could not read: {explain(error)}.") from None
    try:
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            version = await schema_version(connection)
            if version == 0:
                return []  # nothing was ever logged there
            current = schema.MIGRATIONS[-1].version
            if version != current:
                hint = READ_ONLY_HINT_OLD if version < current else READ_ONLY_HINT_NEW
                raise LogReadError(
                    f"The feedback log {location} has schema version {version}, this Soundalike reads "
                    f"version {current}: {hint}."
                )
            rows = await PostgresTransaction(connection).fetch(sql, params)
            return [dict(row.items()) for row in rows]
    except DRIVER_ERRORS as error:
        raise LogReadError(f"Feedback log {location}: could not read: {explain(error)}.") from None
    finally:
        await connection.close()


def read_rows(url: str, sql: str, params: Params) -> list[dict[str, Any]]:
    """Rows of one statement, read in a read-only transaction, for synchronous callers (retrain,
    evaluate): asyncpg runs in an event loop of its own. Empty when the database holds no log yet;
    a log at another schema version is refused by name, never upgraded."""
    return _run_alone(_read_rows(url, sql, params))


def _run_alone(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coroutine`` to the end in a new event loop; in a thread when this one has a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="soundalike-log-read") as worker:
        return worker.submit(asyncio.run, coroutine).result()
