"""The feedback log the bot and the console write to: :class:`FeedbackLog` (async).

It holds the queries, the suggestions shown for them, members' ratings and per-guild blocks.
``retrain`` and ``evaluate`` read the same file through :mod:`recommender.feedback.offline`
(synchronous, read-only). The tables and their history are in :mod:`recommender.feedback.schema`,
the statements in :mod:`recommender.feedback.queries`.

The public methods of :class:`FeedbackLog` and the promises below are the log's interface: its
results are the plain types defined here (never database rows) and its errors those of
:mod:`recommender.feedback.errors`. The log runs on SQLite (a file path, the default) or on
PostgreSQL (a ``postgresql://`` URL): the same methods, results, errors and schema history on
either, through :mod:`recommender.feedback.backends` (which says how to add a query or a table).

What "acknowledged" means
-------------------------
Every public write method is one transaction and returns only after its ``COMMIT``. Once it has
returned, the row is on disk. In SQLite the database runs in WAL mode with ``synchronous =
FULL``, so the WAL is fsync'ed at every commit. ``NORMAL`` would already survive a SIGKILL of
the process (the committed frames are in the OS page cache); ``FULL`` also survives a power cut
or kernel crash. A commit costs well under a millisecond on an SSD and the bot writes a few rows
per command, so the stronger promise is cheap. On PostgreSQL the connections run with
``synchronous_commit = on``: the server has flushed the commit to its WAL before it answers.

One writer
----------
Write transactions run one at a time: in SQLite through a single writer connection, an
``asyncio.Lock`` and the file's write lock; on PostgreSQL through an advisory lock every
process takes first. So concurrent coroutines (and processes) never interleave a transaction,
and a decision read inside one (``rate_or_take_back``) still holds when it writes. Reads run on
other connections and see only committed data.

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
Ids are Discord snowflakes (SQLite INTEGERs, PostgreSQL BIGINTs). DMs and the console use ``NO_GUILD`` (0).
In the retrain feed a member is ``discord:<user_id>``
(:func:`recommender.feedback.offline.member_key`): their ratings from all servers make one
listener row.

Every SQL statement run here is a named constant with ``?`` or ``:name`` parameters.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from recommender.feedback import queries
from recommender.feedback.backends import Backend, Row, Transaction, is_postgres_url
from recommender.feedback.backends.sqlite import SqliteBackend

log = logging.getLogger(__name__)

NO_GUILD = 0  # guild_id for DMs and the console; Discord snowflakes are never 0
RATING_VALUES = (1, -1)


# -- what the log hands back: plain values, never rows --------------------------------------


class RatingOutcome(enum.Enum):
    """What a press of 👍/👎 on a suggestion did (:meth:`FeedbackLog.rate_or_take_back`)."""

    RECORDED = "recorded"
    TAKEN_BACK = "taken back"
    NOT_FOUND = "not found"  # the answer or that position is not in the log


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

    @classmethod
    def from_row(cls, row: Row) -> VersionStats:
        """A row of the version-stats statements (recommender.feedback.queries)."""
        # int(): PostgreSQL's sum of BIGINTs is a NUMERIC (asyncpg: a Decimal).
        return cls(row["model_version"], int(row["answers"]), int(row["up"]), int(row["down"]))


class TopQuery(NamedTuple):
    item_id: str
    typed_title: str | None  # the most recent title typed for this seed
    typed_artist: str | None
    times: int


class LinkedAccount(NamedTuple):
    """A member's account elsewhere, as the log keeps it: nothing but the name and when."""

    service: str  # "listenbrainz"
    username: str
    linked_at: str  # the log's timestamp (UTC, ISO 8601)


class FeedbackDay(NamedTuple):
    day: str  # YYYY-MM-DD (UTC)
    model_version: str | None
    up: int
    down: int


@asynccontextmanager
async def open_backend(location: str | Path) -> AsyncIterator[Backend]:
    """The database at ``location``: a PostgreSQL URL, else a SQLite file."""
    if is_postgres_url(location):
        # Imported here: a SQLite log never needs asyncpg loaded.
        from recommender.feedback.backends.postgres import PostgresBackend

        async with PostgresBackend.open(str(location)) as postgres:
            yield postgres
    else:
        async with SqliteBackend.open(Path(location)) as sqlite:
            yield sqlite


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


class FeedbackLog:
    """The log the bot and the console write to. Open with ``async with FeedbackLog.open(where)``."""

    def __init__(self, backend: Backend, clock: Callable[[], datetime]):
        self._backend = backend
        self._clock = clock
        # Where the log is, as messages name it: the file, or the URL without its password.
        self.location = backend.location
        # The file of a SQLite log; None on PostgreSQL.
        self.path: Path | None = getattr(backend, "path", None)
        # Turn claims waiting for the next batch (one transaction for all that came meanwhile).
        self._claims: list[tuple[int, int, float, asyncio.Future[float]]] = []
        self._claiming: asyncio.Task | None = None

    # -- opening -------------------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def open(cls, path: str | Path, *, clock: Callable[[], datetime] | None = None) -> AsyncIterator[FeedbackLog]:
        """Open (creating and migrating as needed) the log at ``path``: a SQLite file, or a
        PostgreSQL database given as a ``postgresql://`` URL.

        ``clock`` returns the current time (aware datetime); tests pass a fixed one. Raises
        LogWriteError when the log cannot be opened or upgraded, and FeedbackLogError when a
        newer Soundalike made it. A read-only file opens; its writes raise LogWriteError.
        """
        async with open_backend(path) as backend:
            yield cls(backend, clock or _utc_now)

    # -- transactions --------------------------------------------------------------------

    def _write(self, action: str) -> AbstractAsyncContextManager[Transaction]:
        """One write transaction, alone among writers; committed before the caller goes on."""
        return self._backend.write(action)

    def _read(self) -> AbstractAsyncContextManager[Transaction]:
        """One read transaction: every statement inside sees the same committed snapshot."""
        return self._backend.read()

    async def _fetch(self, sql: str, params: tuple | dict) -> list[Row]:
        async with self._read() as db:
            return await db.fetch(sql, params)

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
                await db.execute(queries.RELEASE_MESSAGE, (message_id,))
            query_id = int((await db.fetch(queries.INSERT_QUERY, values))[0]["id"])
            await db.executemany(queries.INSERT_SUGGESTION, _suggestion_rows(query_id, checked))
        return query_id

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
        rating = _Rating(message_id, query_id, user_id, position, value, _timestamp(self._clock()))
        async with self._write("record a rating") as db:
            return await _insert_rating(db, rating)

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
        rating = _Rating(message_id, query_id, user_id, position, value, _timestamp(self._clock()))
        async with self._write("retract a rating") as db:
            return await _retract_rating(db, rating)

    async def rate_or_take_back(
        self,
        *,
        guild_id: int,
        user_id: int,
        value: int,
        position: int,
        item_id: str | None,
        message_id: int | None = None,
        query_id: int | None = None,
    ) -> RatingOutcome:
        """A member pressed 👍 (+1) or 👎 (-1) on suggestion ``position`` (showing ``item_id``).

        When the song already stands at that rating for them in this guild (a 👎 on a song
        they dislike, a 👍 on one they like), the press takes back their rating of it on this
        answer; otherwise it is recorded. ``item_id`` None always records. The decision and the
        write are one transaction, so two quick presses end as if one came after the other.
        """
        _check_rating(value)
        _check_target(message_id, query_id)
        rating = _Rating(message_id, query_id, user_id, position, value, _timestamp(self._clock()))
        async with self._write("record a rating") as db:
            if (
                item_id is not None
                and await _verdict_stands(db, guild_id, user_id, item_id, value)
                and await _retract_rating(db, rating)
            ):
                return RatingOutcome.TAKEN_BACK
            recorded = await _insert_rating(db, rating)
        return RatingOutcome.RECORDED if recorded else RatingOutcome.NOT_FOUND

    async def liked_items(self, guild_id: int, user_id: int) -> list[str]:
        """Songs the member likes in this guild (latest rating touching them is 👍), newest first."""
        rows = await self._fetch(
            queries.MEMBER_SONG_VERDICTS, {"guild": guild_id, "user": user_id, "seed": None, "value": 1}
        )
        return [row["item_id"] for row in rows]

    async def disliked_items(self, guild_id: int, user_id: int, seed_item_id: str | None = None) -> set[str]:
        """Songs the member rated 👎 one by one (and not since 👍), in answers for ``seed_item_id``
        when given, else in any answer in this guild."""
        rows = await self._fetch(
            queries.MEMBER_SONG_VERDICTS,
            {"guild": guild_id, "user": user_id, "seed": seed_item_id, "value": -1},
        )
        return {row["item_id"] for row in rows}

    # -- blocks --------------------------------------------------------------------------

    async def block(self, guild_id: int, item_id: str, by: int) -> bool:
        """Never suggest ``item_id`` in this guild. True if it was not blocked already."""
        async with self._write("block a song") as db:
            added = await db.execute(queries.INSERT_BLOCK, (guild_id, item_id, by, _timestamp(self._clock())))
        return added > 0

    async def unblock(self, guild_id: int, item_id: str) -> bool:
        """Allow ``item_id`` again in this guild. True if it was blocked."""
        async with self._write("unblock a song") as db:
            removed = await db.execute(queries.DELETE_BLOCK, (guild_id, item_id))
        return removed > 0

    async def blocked_items(self, guild_id: int) -> set[str]:
        rows = await self._fetch(queries.SELECT_BLOCKS, (guild_id,))
        return {row["item_id"] for row in rows}

    # -- reports -------------------------------------------------------------------------

    async def stats(self, guild_id: int | None = None) -> list[VersionStats]:
        """Per model version, oldest first; ``guild_id=None`` covers every guild."""
        if guild_id is None:
            rows = await self._fetch(queries.ALL_VERSION_STATS, {})
        else:
            rows = await self._fetch(queries.GUILD_VERSION_STATS, {"guild": guild_id})
        return [VersionStats.from_row(row) for row in rows]

    async def top_queries(self, guild_id: int | None = None, limit: int = 10) -> list[TopQuery]:
        """The seeds asked for most often (resolved queries only), most asked first."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if guild_id is None:
            rows = await self._fetch(queries.ALL_TOP_QUERIES, {"limit": limit})
        else:
            rows = await self._fetch(queries.GUILD_TOP_QUERIES, {"guild": guild_id, "limit": limit})
        return [TopQuery(row["item_id"], row["typed_title"], row["typed_artist"], int(row["times"])) for row in rows]

    async def feedback_over_time(self, guild_id: int | None = None) -> list[FeedbackDay]:
        """Current 👍/👎 counts per UTC day (the day each rating was made) and model version."""
        if guild_id is None:
            rows = await self._fetch(queries.ALL_FEEDBACK_BY_DAY, {})
        else:
            rows = await self._fetch(queries.GUILD_FEEDBACK_BY_DAY, {"guild": guild_id})
        return [FeedbackDay(row["day"], row["model_version"], int(row["up"]), int(row["down"])) for row in rows]

    async def query_for_message(self, message_id: int) -> LoggedQuery | None:
        """The query a message shows, with its suggestions; None for a message not ours."""
        async with self._read() as db:
            found = await db.fetch(queries.SELECT_QUERY_BY_MESSAGE, (message_id,))
            if not found:
                return None
            row = found[0]
            suggestions = await db.fetch(queries.SELECT_SUGGESTIONS, (row["id"],))
        fields = dict(zip(row.keys(), row))  # (iterating a row gives its values, not its keys)
        params_json = fields.pop("params_json")
        return LoggedQuery(
            **fields,
            params=json.loads(params_json),
            suggestions=tuple(LoggedSuggestion(*suggestion) for suggestion in suggestions),
        )

    # -- linked accounts -----------------------------------------------------------------

    async def link_account(self, user_id: int, service: str, username: str) -> LinkedAccount:
        """Link (or re-link) the member's account on ``service``; only the username and the
        time are kept. Returns what is now stored."""
        at = _timestamp(self._clock())
        async with self._write("link an account") as db:
            await db.execute(queries.UPSERT_LINK, (user_id, service, username, at))
        return LinkedAccount(service, username, at)

    async def unlink_account(self, user_id: int, service: str) -> LinkedAccount | None:
        """Remove the member's link to ``service``; returns the link removed, None if none was."""
        async with self._write("unlink an account") as db:
            found = await db.fetch(queries.SELECT_LINK, (user_id, service))
            if not found:
                return None
            await db.execute(queries.DELETE_LINK, (user_id, service))
        return LinkedAccount(service, found[0]["username"], found[0]["linked_at"])

    async def linked_account(self, user_id: int, service: str) -> LinkedAccount | None:
        rows = await self._fetch(queries.SELECT_LINK, (user_id, service))
        return LinkedAccount(service, rows[0]["username"], rows[0]["linked_at"]) if rows else None

    # -- privacy -------------------------------------------------------------------------

    async def forget_user(self, user_id: int) -> dict[str, int]:
        """Erase everything logged about a member (Red's ``red_delete_data_for_user``).

        Deletes their queries with the suggestions shown for them, every rating on those
        answers (a rating of an answer that no longer exists means nothing), and their own
        ratings everywhere, and their linked accounts. Blocks they made stay (they are the
        guild's decision) but no longer name them. Returns how many rows each step touched.
        """
        async with self._write("forget a member") as db:
            counts = {}
            for name, statement in (
                ("feedback", queries.FORGET_FEEDBACK),
                ("feedback_on_their_answers", queries.FORGET_FEEDBACK_ON_ANSWERS),
                ("suggestions", queries.FORGET_SUGGESTIONS),
                ("queries", queries.FORGET_QUERIES),
                ("blocks_unnamed", queries.FORGET_BLOCKER),
                ("linked_accounts", queries.FORGET_LINKS),
                ("turns", queries.FORGET_TURNS),
            ):
                counts[name] = await db.execute(statement, (user_id,))
        # Leave no readable copy of the erased rows (SQLite: checkpoint the WAL into the file,
        # where secure_delete zeroed them; PostgreSQL: VACUUM). Best effort.
        await self._backend.scrub()
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
                ("feedback", queries.EXPIRE_FEEDBACK),
                ("suggestions", queries.EXPIRE_SUGGESTIONS),
                ("queries", queries.EXPIRE_QUERIES),
            ):
                counts[name] = await db.execute(statement, (cutoff,))
        return counts

    # -- members' turns (the cooldown shared by every bot process on this log) ------------

    async def claim_turn(self, guild_id: int, user_id: int, seconds: float) -> float:
        """Take the member's turn in this guild for ``seconds``: 0.0 when taken (their next
        turn comes ``seconds`` from now), else the seconds until their current turn is over.

        One statement decides each claim, so of two processes claiming at once exactly one
        wins. Claims that come while a batch is being written go together in the next one
        (one transaction, one commit): a burst of a thousand members costs a few commits.
        """
        decided: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._claims.append((guild_id, user_id, seconds, decided))
        if self._claiming is None or self._claiming.done():
            self._claiming = asyncio.create_task(self._claim_in_batches())
        return await decided

    async def _claim_in_batches(self) -> None:
        while self._claims:
            batch, self._claims = self._claims, []
            try:
                waits = await self._claim_batch(batch)
            except Exception as error:
                for *_, decided in batch:
                    if not decided.done():
                        decided.set_exception(error)
                continue
            for (*_, decided), wait in zip(batch, waits):
                if not decided.done():  # the caller may have gone (cancelled)
                    decided.set_result(wait)

    async def _claim_batch(self, batch: list[tuple[int, int, float, asyncio.Future[float]]]) -> list[float]:
        waits = []
        async with self._write("claim a member's turn") as db:
            # The time is read once the write is ours: a turn another process took while this
            # one waited for the lock began before now, so no wait exceeds that turn's length.
            now = self._clock().timestamp()
            for guild_id, user_id, seconds, _ in batch:
                if await db.execute(queries.CLAIM_TURN, (guild_id, user_id, now + seconds, now)) > 0:
                    waits.append(0.0)
                    continue
                rows = await db.fetch(queries.SELECT_TURN, (guild_id, user_id))
                waits.append(max(0.0, float(rows[0][0]) - now) if rows else 0.0)
        return waits

    async def give_back_turn(self, guild_id: int, user_id: int) -> bool:
        """Undo the member's running turn (their request was refused as busy), so that they
        may ask again at once. True if one was given back."""
        async with self._write("give a member's turn back") as db:
            given_back = await db.execute(queries.GIVE_BACK_TURN, (guild_id, user_id, self._clock().timestamp()))
        return given_back > 0

    async def forget_past_turns(self) -> int:
        """Drop turns that are over (they decide nothing any more); how many went."""
        async with self._write("drop past turns") as db:
            return await db.execute(queries.EXPIRE_TURNS, (self._clock().timestamp(),))


class _Rating(NamedTuple):
    """One press or reaction: on a message (or a query), whole or one suggestion."""

    message_id: int | None
    query_id: int | None
    user_id: int
    position: int | None
    value: int
    at: str  # the log's timestamp


async def _insert_rating(db: Transaction, rating: _Rating) -> bool:
    """Add the rating inside the caller's write transaction; False when its target is not logged."""
    target: int | None
    if rating.message_id is not None:
        statement, target = queries.FIND_QUERY_BY_MESSAGE, rating.message_id
    else:
        statement, target = queries.FIND_QUERY_BY_ID, rating.query_id
    found = await db.fetch(statement, (target,))
    if not found:
        return False
    query_id, message_id = found[0]
    shown = (query_id, rating.position)
    if rating.position is not None and not await db.fetch(queries.SUGGESTION_EXISTS, shown):
        return False
    values = (query_id, message_id, rating.user_id, rating.position, rating.value, rating.at)
    await db.execute(queries.INSERT_FEEDBACK, values)
    return True


async def _retract_rating(db: Transaction, rating: _Rating) -> bool:
    """Stamp the member's standing rating of that value retracted; False when none stands."""
    target: int | None
    if rating.message_id is not None:
        statement, target = queries.RETRACT_BY_MESSAGE, rating.message_id
    else:
        statement, target = queries.RETRACT_BY_QUERY, rating.query_id
    values = {
        "at": rating.at,
        "target": target,
        "user": rating.user_id,
        "position": rating.position,
        "value": rating.value,
    }
    return await db.execute(statement, values) > 0


async def _verdict_stands(db: Transaction, guild_id: int, user_id: int, item_id: str, value: int) -> bool:
    """Whether the member's current word on the song in this guild is ``value`` (liked or disliked)."""
    verdicts = {"guild": guild_id, "user": user_id, "seed": None, "value": value}
    rows = await db.fetch(queries.MEMBER_SONG_VERDICTS, verdicts)
    return any(row["item_id"] == item_id for row in rows)
