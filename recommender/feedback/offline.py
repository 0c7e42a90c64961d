"""Reading the log from other processes (``retrain``, ``evaluate``): synchronous and read-only.

A SQLite log is opened with the standard library's sqlite3 in read-only mode, so these can run
while the bot writes (WAL readers see only committed rows and never block the writer); a
PostgreSQL log (a ``postgresql://`` URL) is read in a read-only transaction through asyncpg in
an event loop of its own (:func:`recommender.feedback.backends.postgres.read_rows`). Neither
ever changes the log: a log at another schema version is refused by name rather than upgraded.
A log that does not exist yet (nothing was ever rated) reads as empty.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from recommender.feedback.backends import Row, is_postgres_url
from recommender.feedback.errors import LogReadError
from recommender.feedback.log import VersionStats
from recommender.feedback.queries import ALL_SONG_VERDICTS, ALL_VERSION_STATS, SELECT_GUILD_MEMBERS, SELECT_LINKS
from recommender.feedback.schema import BUSY_TIMEOUT_SECONDS, CURRENT_SCHEMA_VERSION, PRAGMA_USER_VERSION, explain


def member_key(user_id: int) -> str:
    """How a Discord member appears as a listener in the retrain feed.

    One person's taste is the same in every server, so their ratings from all servers make
    one listener row.
    """
    return f"discord:{user_id}"


def read_positive_feedback(db_path: str | Path) -> list[tuple[str, str]]:
    """``(member_key, item_id)`` for every song a member likes, over all guilds, in the log at
    ``db_path`` (a SQLite file, or a ``postgresql://`` URL).

    "Likes" as in :meth:`FeedbackLog.liked_items`: retracted ratings and 👎 never count.
    Sorted, one pair per member and song. Empty when the log does not exist yet.
    """
    rows = _read_only_rows(db_path, ALL_SONG_VERDICTS, {"value": 1})
    return sorted((member_key(row["user_id"]), row["item_id"]) for row in rows)


def read_linked_accounts(db_path: str | Path, service: str, guild_ids: list[int]) -> list[tuple[int, str]]:
    """``(user_id, username)`` of members linked to ``service`` who asked something in one of
    ``guild_ids`` (the servers that opted in); empty when the log does not exist yet."""
    if not guild_ids:
        return []
    members: set[int] = set()
    for guild_id in guild_ids:
        members.update(row["user_id"] for row in _read_only_rows(db_path, SELECT_GUILD_MEMBERS, (guild_id,)))
    links = _read_only_rows(db_path, SELECT_LINKS, (service,))
    return [(row["user_id"], row["username"]) for row in links if row["user_id"] in members]


def online_rates(db_path: str | Path) -> dict[str, dict[str, float | int]]:
    """Per model version: ``answers``, ``up``, ``down``, ``up_rate`` (0.0 while nothing rated)."""
    rows = _read_only_rows(db_path, ALL_VERSION_STATS, {})
    rates: dict[str, dict[str, float | int]] = {}
    for row in rows:
        stats = VersionStats.from_row(row)
        rates[stats.model_version] = {
            "answers": stats.answers,
            "up": stats.up,
            "down": stats.down,
            "up_rate": stats.up_rate,
        }
    return rates


def _open_read_only(db_path: str | Path) -> sqlite3.Connection | None:
    """A read-only connection, or None when no log exists yet (nothing was rated)."""
    path = Path(db_path)
    if not path.exists():
        return None
    try:
        connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS)
    except sqlite3.Error as error:
        raise LogReadError(f"Feedback log {path}: could not read: {explain(error)}.") from None
    try:
        connection.row_factory = sqlite3.Row
        (version,) = connection.execute(PRAGMA_USER_VERSION).fetchone()
    except sqlite3.Error as error:
        connection.close()
        raise LogReadError(f"Feedback log {path}: could not read: {explain(error)}.") from None
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


def _read_only_rows(db_path: str | Path, sql: str, params: dict[str, Any] | tuple[Any, ...]) -> list[Row]:
    if is_postgres_url(db_path):
        from recommender.feedback.backends.postgres import read_rows

        return read_rows(str(db_path), sql, params)
    connection = _open_read_only(db_path)
    if connection is None:
        return []
    try:
        return connection.execute(sql, params).fetchall()
    except sqlite3.Error as error:
        raise LogReadError(f"Feedback log {db_path}: could not read: {explain(error)}.") from None
    finally:
        connection.close()
