"""The log in a SQLite file (the default): aiosqlite, one writer connection and one reader.

All writes go through a single connection (aiosqlite runs it in its own thread) and an
``asyncio.Lock`` makes each transaction run alone, so concurrent coroutines never interleave
statements; ``BEGIN IMMEDIATE`` takes the file's write lock up front, so other processes wait
(``busy_timeout``) rather than interleave. Reads use a second connection: in WAL mode they see
only committed data and never wait for the writer. The file is in WAL mode with
``synchronous = FULL`` (see :mod:`recommender.feedback.schema`), so a committed transaction is
on disk when ``write()`` ends.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from recommender.feedback.backends import Params, Row
from recommender.feedback.errors import LogReadError, LogWriteError
from recommender.feedback.schema import (
    BEGIN_READ,
    BEGIN_WRITE,
    BUSY_TIMEOUT_SECONDS,
    COMMIT,
    PRAGMA_CHECKPOINT,
    apply_migrations,
    configure,
    explain,
    rollback_quietly,
)

log = logging.getLogger(__name__)


class SqliteTransaction:
    def __init__(self, db: aiosqlite.Connection):
        self._db = db

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        return list(await self._db.execute_fetchall(sql, params))

    async def execute(self, sql: str, params: Params = ()) -> int:
        async with self._db.execute(sql, params) as cursor:
            return int(cursor.rowcount)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._db.executemany(sql, rows)


class SqliteBackend:
    """The log's file. Open with ``async with SqliteBackend.open(path)``."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection):
        self.path = path
        self.location = str(path)
        self.writer = writer
        self.reader = reader
        self._write_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path) -> AsyncIterator[SqliteBackend]:
        """Open (creating and migrating as needed) the file at ``path``; LogWriteError when it
        cannot be opened or upgraded. A read-only file opens; its writes raise LogWriteError."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise LogWriteError(path, "create the folder", str(error)) from None
        writer = await _connect(path, "open the log")
        reader = None
        try:
            await configure(writer, path, writing=True)
            await apply_migrations(writer, path)
            writer.row_factory = sqlite3.Row  # statements inside write transactions read columns by name
            reader = await _connect(path, "open the log for reading")
            await configure(reader, path, writing=False)
            reader.row_factory = sqlite3.Row
            yield cls(path, writer, reader)
        finally:
            if reader is not None:
                await reader.close()
            await writer.close()

    @asynccontextmanager
    async def write(self, action: str) -> AsyncIterator[SqliteTransaction]:
        async with self._write_lock:
            try:
                await self.writer.execute(BEGIN_WRITE)
                yield SqliteTransaction(self.writer)
                await self.writer.execute(COMMIT)
            except sqlite3.Error as error:
                await rollback_quietly(self.writer)
                raise LogWriteError(self.path, action, explain(error)) from error
            except BaseException:
                await rollback_quietly(self.writer)
                raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SqliteTransaction]:
        async with self._read_lock:
            try:
                await self.reader.execute(BEGIN_READ)
                try:
                    yield SqliteTransaction(self.reader)
                finally:
                    await self.reader.execute(COMMIT)
            except sqlite3.Error as error:
                message = f"Feedback log {self.path}: could not read: {explain(error)}."
                raise LogReadError(message) from error

    async def scrub(self) -> None:
        # Old page images in the WAL still hold erased rows; fold them into the main file
        # (where secure_delete zeroed them). Best effort: a busy reader only delays this.
        try:
            async with self._write_lock:
                await self.writer.execute(PRAGMA_CHECKPOINT)
        except sqlite3.Error as error:
            log.info("checkpoint after erasing rows was deferred: %s", error)


async def _connect(path: Path, action: str) -> aiosqlite.Connection:
    try:
        # isolation_level=None: no implicit transactions; this module issues BEGIN/COMMIT.
        return await aiosqlite.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS)
    except sqlite3.Error as error:
        raise LogWriteError(path, action, explain(error)) from None
