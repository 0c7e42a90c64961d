"""The application: everything a member or an admin can do, whichever front end they use.

:class:`Soundalike` holds the service (dataset, resolver, model), the feedback log, the compute
pool and the retrainer, opened in one place (:meth:`Soundalike.open`) and closed together. The
Discord bot and the console are thin front ends over it: each method returns a typed result
(a dataclass or an enum, from here or :mod:`recommender.app.answers`) that the front end words
its own way. Errors a person can act on (:class:`~recommender.errors.SoundalikeError`, and
:class:`~recommender.app.limits.Busy` when the pool is full) propagate for the front end to say.

``pool_key`` is what the compute pool counts per server: the bot passes the guild id, the
console None (no per-server limit, only the bound on the whole queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
import time
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from recommender.app.answers import (
    MAX_POSITION,
    ArtistDidNotMatch,
    BlockOutcome,
    BlockResult,
    Lookup,
    Member,
    Rated,
    Request,
    look_up,
    mix_seeds,
    rate_suggestion,
    tidy,
)
from recommender.app.limits import ComputePool
from recommender.app.listening import Linked, Listening, MemberListening
from recommender.app.policy import exclusions_for
from recommender.app.retrainer import ProgressCallback, Retrainer, RetrainOutcome
from recommender.app.swap import ModelWatcher
from recommender.config import Config
from recommender.errors import SoundalikeError
from recommender.feedback.log import FeedbackDay, FeedbackLog, LinkedAccount, VersionStats
from recommender.results import Answer, Candidate
from recommender.service import NotEnoughHistory, SoundalikeService, not_enough_history_text

log = logging.getLogger(__name__)

T = TypeVar("T")


class NoNextPage(enum.Enum):
    """Why "More" on a logged answer shows nothing."""

    NO_RECORD = "no record"  # the answer is not in the log (erased, or never kept)
    NOT_YOURS = "not yours"  # a /foryou playlist made for someone else
    AS_FAR_AS_I_GO = "as far as I go"  # the next page starts at MAX_POSITION


@dataclass(frozen=True)
class NextPage:
    """The page after a logged answer, with what was typed for it (logged with the page)."""

    request: Request
    typed_title: str | None
    typed_artist: str | None


@dataclass(frozen=True)
class Rating:
    """A 👍/👎 on one suggestion of a logged answer. ``per_seed``: the answer was a /soundalike
    one, so a 👎 sticks for that seed too."""

    outcome: Rated
    per_seed: bool = False


@dataclass(frozen=True)
class ServerStats:
    versions: list[VersionStats]  # per model version: answers, 👍, 👎
    days: list[FeedbackDay]  # 👍 and 👎 per day and model version
    top_songs: list[tuple[str, int]]  # ("Title — Artist", times asked), most asked first


@dataclass(frozen=True)
class Erased:
    """What /forgetme or the retention expiry took out of the log."""

    questions: int
    ratings: int
    linked_accounts: int = 0  # the ListenBrainz link, if any


@dataclass(frozen=True)
class ModelReport:
    """The model answering now (``info``: version, algorithm, created, dataset, training,
    metrics, versions on disk) and, when asked for a server, how its answers were rated there
    (None: not asked, or nothing logged for it yet)."""

    info: dict
    feedback: VersionStats | None = None


@dataclass(frozen=True)
class RetrainReport:
    """A retrain that ran to its end: what it decided and which version answers now.
    ``not_loaded``: it promoted a model that could not be loaded (the old one answers on)."""

    outcome: RetrainOutcome
    serving: str
    not_loaded: SoundalikeError | None = None


@dataclass(frozen=True)
class Rollback:
    before: str  # the version answering before
    now: str  # the version answering now


class Soundalike:
    """The one object front ends call. Build it with :meth:`open` (tests may pass the parts)."""

    def __init__(
        self,
        config: Config,
        service: SoundalikeService,
        feedback_log: FeedbackLog,
        pool: ComputePool,
        retrainer: Retrainer,
        listening: MemberListening | None = None,
    ):
        self.config = config
        self.service = service
        self.feedback_log = feedback_log
        self.pool = pool
        self.retrainer = retrainer
        # Members' linked ListenBrainz accounts (its client makes no call until one is linked).
        self.listening = listening or MemberListening(config, service, feedback_log, pool)

    async def close(self) -> None:
        """Close what the application opened beyond the log and the pool (the ListenBrainz client)."""
        await self.listening.close()

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        config: Config,
        *,
        config_path: Path | None = None,
        service: SoundalikeService | None = None,
        retrainer: Retrainer | None = None,
        workers: int | None = None,
    ) -> AsyncIterator[Soundalike]:
        """Open the service (unless one is given), the feedback log and the compute pool
        (``workers`` threads; default: the pool's), and watch the model store for models other
        processes publish ([serving] watch_model_seconds); all are closed when the block ends."""
        if service is None:
            service = await asyncio.to_thread(SoundalikeService.open, config)
        settings = config.bot
        sizes = {"workers": workers} if workers is not None else {}
        pool = ComputePool(per_guild=settings.per_guild_concurrency, max_queue=settings.max_queue, **sizes)
        watching: asyncio.Task | None = None
        interval = config.serving.watch_model_seconds
        if interval > 0:  # serve what any process publishes (recommender.app.swap)
            watching = asyncio.create_task(ModelWatcher(service, interval).run(), name="soundalike-model-watcher")
        try:
            async with FeedbackLog.open(config.database_location) as feedback_log:
                app = cls(config, service, feedback_log, pool, retrainer or Retrainer(config, config_path=config_path))
                try:
                    yield app
                finally:
                    await app.close()
        finally:
            if watching is not None:
                watching.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watching
            pool.close()

    # -- the catalog ---------------------------------------------------------------------
    @property
    def serving_version(self) -> str:
        return self.service.model.version

    @property
    def dataset_name(self) -> str:
        return self.service.dataset.name

    def song(self, item_id: str) -> Candidate | None:
        """The catalog song with this id (an autocomplete value, a pick), or None."""
        return self.service.candidate(item_id)

    def no_match_note(self) -> str | None:
        """What to add when nothing matches well (on the demo data: what they know)."""
        return self.service.no_match_note()

    async def claim_turn(self, member: Member, seconds: float) -> float:
        """The member's cooldown, shared by every bot process on the log: 0.0 when their turn
        is taken now (the next comes ``seconds`` later), else the seconds until it may be."""
        if seconds <= 0:
            return 0.0
        return await self.feedback_log.claim_turn(member.guild_id, member.user_id, seconds)

    async def give_back_turn(self, member: Member) -> None:
        """The member's request was refused as busy: they may ask again at once."""
        await self.feedback_log.give_back_turn(member.guild_id, member.user_id)

    def check_busy(self, pool_key: Hashable | None) -> None:
        """Raise Busy if work for ``pool_key`` would be refused right now."""
        self.pool.check(pool_key)

    async def run_on_pool(self, pool_key: Hashable | None, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A front end's own CPU work (the bot's /stats chart) on the compute pool, under its limits."""
        return await self.pool.run(pool_key, fn, *args, **kwargs)

    async def complete(self, partial: str, artist: str | None = None, *, limit: int) -> list[tuple[str, str]]:
        """Autocomplete: ("Title — Artist", item id) pairs for a half-typed title."""
        return await self.pool.run(None, self.service.complete, partial, artist=artist, limit=limit)

    async def complete_artist(self, partial: str, *, limit: int) -> list[str]:
        return await self.pool.run(None, self.service.complete_artist, partial, limit=limit)

    # -- asking for songs ----------------------------------------------------------------
    async def look_up(self, title: str, artist: str | None = None, *, pool_key: Hashable | None = None) -> Lookup:
        """A seed song, songs to pick from, or the closest titles (see answers.look_up)."""
        return await self.pool.run(pool_key, look_up, self.service, title, artist)

    async def mix_seeds(
        self, songs: list[tuple[str, str | None]], *, pool_key: Hashable | None = None
    ) -> list[Candidate]:
        """The songs of a mix from (title or item id, artist) pairs (see answers.mix_seeds)."""
        return await self.pool.run(pool_key, mix_seeds, self.service, songs)

    async def answer(
        self, request: Request, member: Member, *, pool_key: Hashable | None = None, resume: bool = False
    ) -> Answer:
        """One page of suggestions for ``request``, leaving out what the serving policy says
        (:mod:`recommender.app.policy`). Raises Busy when the pool is full, SoundalikeError
        (e.g. NotEnoughHistory) when there is no answer. ``resume``: the request's look-up ran
        already, so it goes ahead of its server's new requests on the pool."""
        policy = await exclusions_for(self.feedback_log, request, member)
        service = self.service
        options = {
            "count": request.count,
            "offset": request.offset,
            "novelty": request.novelty,
            "per_artist_cap": request.per_artist_cap,
            "exclude_ids": policy.left_out,
        }
        if request.command == "soundalike":
            (seed,) = request.seeds[:1]
            return await self.pool.run(
                pool_key,
                service.similar,
                seed,
                resume=resume,
                exclude_seed_artist=request.exclude_seed_artist,
                **options,
            )
        if request.command == "mix":
            return await self.pool.run(pool_key, service.mix, list(request.seeds), resume=resume, **options)
        if request.command == "foryou":
            return await self._for_you(list(policy.liked), member, pool_key, options, resume)
        raise ValueError(f"unknown command {request.command!r}")

    async def _for_you(
        self, liked: list[str], member: Member, pool_key: Hashable | None, options: dict, resume: bool
    ) -> Answer:
        """/foryou: the member's 👍 in this server and, when they linked ListenBrainz, the
        catalog songs of their recent listens; the answer says how many listens matched."""
        listening = await self.listening.for_member(member.user_id, pool_key=pool_key)
        played = list(listening.songs) if listening is not None else []
        extra = {"played_ids": played} if listening is not None else {}
        try:
            answer = await self.pool.run(pool_key, self.service.for_you, liked, resume=resume, **options, **extra)
        except NotEnoughHistory as error:
            if listening is None:
                raise
            others = len(set(played) - set(liked))
            text = not_enough_history_text(len(set(liked)), others, linked=True) + " " + listening.note()
            raise NotEnoughHistory(text) from error
        if listening is None:
            return answer
        return dataclasses.replace(answer, notes=[listening.note(), *answer.notes])

    # -- members' own listening ----------------------------------------------------------
    async def link_listenbrainz(self, user_id: int, username: str) -> Linked:
        """/link listenbrainz NAME: checked on ListenBrainz, then kept (username and when)."""
        return await self.listening.link(user_id, username)

    async def unlink_listenbrainz(self, user_id: int) -> LinkedAccount | None:
        """/unlink: the link removed (None: there was none); listens held in memory go too."""
        return await self.listening.unlink(user_id)

    async def linked_listenbrainz(self, user_id: int) -> LinkedAccount | None:
        return await self.listening.linked(user_id)

    async def listening_of(self, user_id: int, *, pool_key: Hashable | None = None) -> Listening | None:
        """The member's matched ListenBrainz listens (None: nothing linked)."""
        return await self.listening.for_member(user_id, pool_key=pool_key)

    async def log_answer(
        self,
        answer: Answer,
        request: Request,
        member: Member,
        *,
        started: float,
        channel_id: int | None = None,
        typed_title: str | None = None,
        typed_artist: str | None = None,
        message_id: int | None = None,
        extra_params: dict | None = None,
    ) -> int:
        """Log a question and what was shown; returns its query id. The request's params are
        kept (so "More" and ratings work after a restart), and its seed is the logged one."""
        return await self.feedback_log.record_answer(
            guild_id=member.guild_id,
            user_id=member.user_id,
            command=request.command,
            channel_id=channel_id,
            typed_title=tidy(typed_title) or None,
            typed_artist=tidy(typed_artist) or None,
            resolved_item_id=request.seed_item_id,
            model_version=answer.model_version,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            params={**request.params(), **(extra_params or {})},
            suggestions=[
                (position, suggestion.item_id, float(suggestion.score))
                for position, suggestion in enumerate(answer.suggestions, start=1 + answer.offset)
            ],
            message_id=message_id,
        )

    async def next_page(self, message_id: int, user_id: int) -> NextPage | NoNextPage:
        """The page after the logged answer in message ``message_id``, asked by ``user_id``."""
        logged = await self.feedback_log.query_for_message(message_id)
        request = Request.from_logged(logged) if logged is not None else None
        if logged is None or request is None:
            return NoNextPage.NO_RECORD
        if request.command == "foryou" and logged.user_id != user_id:
            return NoNextPage.NOT_YOURS
        following = request.next_page()
        if following.offset >= MAX_POSITION:
            return NoNextPage.AS_FAR_AS_I_GO
        return NextPage(following, logged.typed_title, logged.typed_artist)

    # -- ratings -------------------------------------------------------------------------
    async def rate(
        self,
        member: Member,
        *,
        value: int,
        position: int,
        item_id: str | None,
        query_id: int | None = None,
        message_id: int | None = None,
    ) -> Rated:
        """👍 (+1) or 👎 (-1) on suggestion ``position`` (showing ``item_id``) of an answer;
        the rating the member already gives that song takes it back (answers.rate_suggestion)."""
        return await rate_suggestion(
            self.feedback_log,
            guild_id=member.guild_id,
            user_id=member.user_id,
            value=value,
            position=position,
            item_id=item_id,
            message_id=message_id,
            query_id=query_id,
        )

    async def rate_shown(self, message_id: int, user_id: int, *, value: int, position: int) -> Rating:
        """A rating button under the answer in message ``message_id``: the log says which song
        that position showed, in which server."""
        logged = await self.feedback_log.query_for_message(message_id)
        shown = next((s for s in logged.suggestions if s.position == position), None) if logged else None
        if logged is None or shown is None:
            return Rating(Rated.NOT_FOUND)
        member = Member(logged.guild_id, user_id)
        outcome = await self.rate(member, value=value, position=position, item_id=shown.item_id, message_id=message_id)
        return Rating(outcome, per_seed=logged.command == "soundalike")

    async def rate_answer(
        self, user_id: int, value: int, *, message_id: int | None = None, query_id: int | None = None
    ) -> bool:
        """👍/👎 on a whole answer (a reaction, the console's + or -); False when the log has
        no such answer."""
        return await self.feedback_log.record_feedback(message_id, user_id, value, None, query_id=query_id)

    async def take_back_reaction(self, user_id: int, value: int, *, message_id: int) -> bool:
        """A reaction removed: its rating of the whole answer is taken back."""
        return await self.feedback_log.retract_feedback(message_id, user_id, value)

    # -- blocks (admins) -----------------------------------------------------------------
    async def block(
        self, member: Member, song: str, artist: str | None = None, *, pool_key: Hashable | None = None
    ) -> BlockResult:
        """Never suggest a song in the member's server: an item id, or a title (and artist)
        that names one song. A title that names several, or none, blocks nothing."""
        if not tidy(song):
            raise SoundalikeError("Name the song to block, e.g. /block Hey Ya!")
        found = await self._song_to_block(song, artist, pool_key)
        if found.seed is None:
            return BlockResult(BlockOutcome.AMBIGUOUS if found.choices else BlockOutcome.NOT_FOUND, lookup=found)
        added = await self.feedback_log.block(member.guild_id, found.seed.item_id, member.user_id)
        return BlockResult(BlockOutcome.BLOCKED if added else BlockOutcome.ALREADY_BLOCKED, song=found.seed)

    async def unblock(
        self, member: Member, song: str, artist: str | None = None, *, pool_key: Hashable | None = None
    ) -> BlockResult:
        """Allow a blocked song again: an item id, or a title; of several songs by that title,
        the blocked one."""
        if not tidy(song):
            raise SoundalikeError("Name the song to unblock, e.g. /unblock Hey Ya!")
        blocked = await self.feedback_log.blocked_items(member.guild_id)
        found = await self._song_to_block(song, artist, pool_key)
        options = [found.seed] if found.seed is not None else found.choices
        blocked_options = [candidate for candidate in options if candidate.item_id in blocked]
        if len(blocked_options) > 1:
            return BlockResult(BlockOutcome.AMBIGUOUS, lookup=dataclasses.replace(found, choices=blocked_options))
        if not blocked_options:
            if not options:
                return BlockResult(BlockOutcome.NOT_FOUND, lookup=found)
            return BlockResult(BlockOutcome.NOT_BLOCKED, song=options[0])
        (target,) = blocked_options
        removed = await self.feedback_log.unblock(member.guild_id, target.item_id)
        return BlockResult(BlockOutcome.UNBLOCKED if removed else BlockOutcome.NOT_BLOCKED, song=target)

    async def _song_to_block(self, song: str, artist: str | None, pool_key: Hashable | None) -> Lookup:
        """The look-up behind a block; a typed artist none of the matching songs is by is refused
        (blocking another artist's song in its place would be worse than asking again)."""
        found = await self.look_up(song, artist, pool_key=pool_key)
        if found.artist_mismatch:
            raise ArtistDidNotMatch(found.query, found.artist_mismatch, [])
        return found

    async def blocked_songs(self, guild_id: int) -> list[Candidate]:
        """The server's blocked songs still in the catalog, by title."""
        blocked = await self.feedback_log.blocked_items(guild_id)
        songs = [self.service.candidate(item_id) for item_id in blocked]
        return sorted((s for s in songs if s is not None), key=lambda s: (s.title.casefold(), s.artist.casefold()))

    # -- the log: numbers, forgetting, retention -----------------------------------------
    async def stats(self, guild_id: int, *, top_songs: int) -> ServerStats:
        """Per model version and per day, how the server's answers were rated, and its
        ``top_songs`` most asked-for songs (named from the catalog when still there)."""
        versions = await self.feedback_log.stats(guild_id)
        days = await self.feedback_log.feedback_over_time(guild_id)
        top = await self.feedback_log.top_queries(guild_id, limit=top_songs)
        songs = []
        for row in top:
            song = self.service.candidate(row.item_id)
            songs.append((song.label if song is not None else (row.typed_title or row.item_id), int(row.times)))
        return ServerStats(versions, days, songs)

    async def forget(self, user_id: int) -> Erased:
        """/forgetme: everything the log holds about a member."""
        linked = await self.listening.linked(user_id)
        counts = await self.feedback_log.forget_user(user_id)
        if linked is not None:
            self.listening.forget_listens(linked.username)
        return Erased(counts.get("queries", 0), counts.get("feedback", 0), counts.get("linked_accounts", 0))

    async def expire_old_questions(self) -> Erased:
        """The README's retention promise: questions older than [bot] retention_days go, with
        their answers and ratings (0 days keeps them)."""
        counts = await self.feedback_log.expire(self.config.bot.retention_days)
        return Erased(counts.get("queries", 0), counts.get("feedback", 0))

    # -- the model (admins) --------------------------------------------------------------
    @property
    def retraining(self) -> bool:
        return self.retrainer.running

    async def retrain(self, on_progress: ProgressCallback, *, started_by: str) -> RetrainReport:
        """Retrain with the logged 👍 in a separate process (progress to ``on_progress``) and
        serve the new model when it was promoted. Raises RetrainAlreadyRunning, RetrainFailed."""
        outcome = await self.retrainer.run(on_progress, started_by=started_by)
        if not outcome.promoted:
            return RetrainReport(outcome, self.serving_version)
        try:
            serving = await asyncio.to_thread(self.service.reload)
        except SoundalikeError as error:
            log.warning("the retrained model could not be loaded: %s", error)
            return RetrainReport(outcome, self.serving_version, not_loaded=error)
        return RetrainReport(outcome, serving)

    async def model_report(self, guild_id: int | None = None) -> ModelReport:
        """The model answering now and, for ``guild_id``, how its answers were rated there."""
        info = await asyncio.to_thread(self.service.model_info)  # reads the store's folder
        if guild_id is None:
            return ModelReport(info)
        version = str(info.get("version", ""))
        rows = await self.feedback_log.stats(guild_id)
        return ModelReport(info, next((row for row in rows if row.model_version == version), None))

    async def rollback(self) -> Rollback:
        """Serve the version served before the current one again (the store's history)."""
        before, now = await asyncio.to_thread(self.service.rollback)
        return Rollback(before, now)
