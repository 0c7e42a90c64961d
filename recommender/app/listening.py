"""Members' own listening, for every front end: /link listenbrainz, /unlink, and the listens
/foryou folds in.

Only the link is stored (the log's ``linked_accounts``: username and when). Listens are read
from ListenBrainz when a /foryou asks for them and kept in memory only, for ``[listenbrainz]
cache_seconds``, already matched to catalog songs; an unlink or /forgetme drops them at once.
Two questions for the same account at once share one fetch.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from recommender.app.limits import ComputePool
from recommender.config import Config
from recommender.feedback.log import FeedbackLog, LinkedAccount
from recommender.listenbrainz.client import (
    ListenBrainzClient,
    ListenBrainzError,
    UnknownListenBrainzUser,
    check_username,
)
from recommender.listenbrainz.matching import CatalogMatcher, MatchedListening
from recommender.service import SoundalikeService

LISTENBRAINZ = "listenbrainz"
# Accounts whose matched listens are held at once (the least recently asked go first).
CACHED_ACCOUNTS = 1024


@dataclass(frozen=True)
class Linked:
    """A link made: the account and how many listens ListenBrainz holds for it."""

    account: LinkedAccount
    listens: int


@dataclass(frozen=True)
class Listening:
    """What /foryou gets from a member's linked account: the matched songs, or why none."""

    username: str
    matched: MatchedListening | None = None
    problem: str | None = None  # ListenBrainz could not be read (the member is told)

    @property
    def songs(self) -> tuple[str, ...]:
        return self.matched.songs if self.matched is not None else ()

    def note(self) -> str:
        """One line for the answer: a true count of matched listens, or what went wrong."""
        head = f"ListenBrainz {self.username}:"
        only_likes = "this playlist is from your 👍 only."
        if self.matched is None:
            return f"{head} your listens could not be read: {self.problem} This playlist is from your 👍 only."
        listens, matched = self.matched.listens, self.matched.matched
        if listens == 0:
            return f"{head} no public listens yet; {only_likes}"
        songs = len(self.matched.songs)
        text = f"{head} {matched:,} of your {listens:,} latest listens matched the catalog"
        return text + (f", {songs:,} song{'s' if songs != 1 else ''}." if matched else f"; {only_likes}")


class MemberListening:
    """Links and listens; one per application. ``clock`` is monotonic seconds (tests pass their own)."""

    def __init__(
        self,
        config: Config,
        service: SoundalikeService,
        feedback_log: FeedbackLog,
        pool: ComputePool,
        *,
        client: ListenBrainzClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.settings = config.listenbrainz
        self.service = service
        self.feedback_log = feedback_log
        self.pool = pool
        self.client = client or ListenBrainzClient(config.listenbrainz)
        self._clock = clock
        self._matcher: CatalogMatcher | None = None
        self._cache: OrderedDict[str, tuple[float, MatchedListening]] = OrderedDict()
        self._fetching: dict[str, asyncio.Task[MatchedListening]] = {}
        self._forgotten = 0  # bumped by forget_listens: a fetch that began before keeps nothing

    async def close(self) -> None:
        await self.client.close()

    @property
    def matcher(self) -> CatalogMatcher:
        service = self.service
        if self._matcher is None or self._matcher.dataset is not service.dataset:
            self._matcher = CatalogMatcher(service.dataset, service.resolver)
        return self._matcher

    # -- linking -------------------------------------------------------------------------
    async def link(self, user_id: int, typed: str) -> Linked:
        """Check the account exists on ListenBrainz, then keep the link (replacing any other).
        Raises BadUsername, UnknownListenBrainzUser, ListenBrainzUnavailable."""
        username = check_username(typed)
        listens = await self.client.listen_count(username)
        before = await self.feedback_log.linked_account(user_id, LISTENBRAINZ)
        account = await self.feedback_log.link_account(user_id, LISTENBRAINZ, username)
        if before is not None:
            self.forget_listens(before.username)
        return Linked(account, listens)

    async def unlink(self, user_id: int) -> LinkedAccount | None:
        removed = await self.feedback_log.unlink_account(user_id, LISTENBRAINZ)
        if removed is not None:
            self.forget_listens(removed.username)
        return removed

    async def linked(self, user_id: int) -> LinkedAccount | None:
        return await self.feedback_log.linked_account(user_id, LISTENBRAINZ)

    def forget_listens(self, username: str) -> None:
        """Drop what memory holds of an account's listens (an unlink, /forgetme)."""
        self._cache.pop(username, None)
        self._forgotten += 1

    # -- listening for /foryou -----------------------------------------------------------
    async def for_member(self, user_id: int, *, pool_key: Hashable | None = None) -> Listening | None:
        """The member's matched listens, None when they linked no account. ListenBrainz being
        down or the account gone is a ``problem`` to say, not an error: their 👍 still answer."""
        account = await self.linked(user_id)
        if account is None:
            return None
        try:
            return Listening(account.username, await self._matched(account.username, pool_key))
        except UnknownListenBrainzUser:
            return Listening(account.username, problem="ListenBrainz no longer knows that user (link again?).")
        except ListenBrainzError as error:
            return Listening(account.username, problem=str(error))

    async def _matched(self, username: str, pool_key: Hashable | None) -> MatchedListening:
        cached = self._cache.get(username)
        if cached is not None and cached[0] > self._clock():
            self._cache.move_to_end(username)
            return cached[1]
        task = self._fetching.get(username)
        if task is None:
            task = asyncio.ensure_future(self._fetch(username, pool_key))
            self._fetching[username] = task
            task.add_done_callback(lambda _: self._fetching.pop(username, None))
        return await asyncio.shield(task)

    async def _fetch(self, username: str, pool_key: Hashable | None) -> MatchedListening:
        forgotten = self._forgotten
        listens = await self.client.recent_listens(username, self.settings.listens)
        matched = await self.pool.run(pool_key, self.matcher.match, username, listens)
        if self.settings.cache_seconds > 0 and forgotten == self._forgotten:
            self._cache[username] = (self._clock() + self.settings.cache_seconds, matched)
            while len(self._cache) > CACHED_ACCOUNTS:
                self._cache.popitem(last=False)
        return matched
