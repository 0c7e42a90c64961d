"""A well-behaved client of ListenBrainz's public API (no key needed for public listens).

Two calls are used, both documented in ListenBrainz's API reference (docs/users/api/core.rst):

- ``GET /1/user/{user_name}/listen-count``: ``{"payload": {"count": N}}``, or 404 for a user
  ListenBrainz does not know; :meth:`ListenBrainzClient.listen_count` checks an account exists.
- ``GET /1/user/{user_name}/listens?count=N``: the N most recent listens, newest first, in the
  listen JSON of docs/users/json.rst (``track_metadata`` with ``track_name``, ``artist_name``,
  ``additional_info`` and, when ListenBrainz matched the listen, ``mbid_mapping``); at most
  ``MAX_ITEMS_PER_GET`` (1,000) per call.

Good manners, as the API's "Rate limiting" section asks: at most one call per second
(``min_interval_seconds``), a User-Agent naming Soundalike, and the rate-limit headers honoured:
when ``X-RateLimit-Remaining`` reaches 0 the next call waits ``X-RateLimit-Reset-In`` seconds,
and a 429 is tried again after the wait it names. Every question is bounded: ``attempts`` tries
and ``total_seconds`` in all (each try ``timeout_seconds``); a wait that would not fit in what
is left is not started, and the member is told when to try again instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from recommender.config import ListenBrainzConfig
from recommender.errors import SoundalikeError

log = logging.getLogger(__name__)

USER_AGENT = "Soundalike/1.0"
MAX_ITEMS_PER_GET = 1000  # listenbrainz/webserver/views/api_tools.py
MAX_USERNAME_CHARS = 64
# A 5xx or a timeout is tried again after this many seconds, doubling each time.
FIRST_BACKOFF_SECONDS = 0.25


class ListenBrainzError(SoundalikeError):
    """Something about ListenBrainz a member should hear (the message says what)."""


class ListenBrainzUnavailable(ListenBrainzError):
    """ListenBrainz did not answer usefully in time: down, slow, or asking us to wait."""


class UnknownListenBrainzUser(ListenBrainzError):
    """ListenBrainz knows no (public) user of that name."""

    def __init__(self, username: str):
        self.username = username
        super().__init__(
            f"ListenBrainz has no user called “{username}” (check the spelling on listenbrainz.org/user/…)."
        )


class BadUsername(ListenBrainzError):
    """What was typed cannot be a ListenBrainz username."""


@dataclass(frozen=True)
class Listen:
    """One listen as ListenBrainz gave it: what a member played (untrusted text)."""

    title: str
    artist: str
    recording_mbid: str | None = None
    listened_at: int | None = None


def check_username(typed: str) -> str:
    """The username to ask ListenBrainz about, or BadUsername naming what is wrong. Nothing is
    changed: a name with spaces at either end is refused, not trimmed."""
    if not typed or not typed.strip():
        raise BadUsername("Name the ListenBrainz account, e.g. /link listenbrainz rob")
    if typed != typed.strip():
        raise BadUsername("A ListenBrainz username has no spaces at either end.")
    if len(typed) > MAX_USERNAME_CHARS:
        raise BadUsername(f"A ListenBrainz username is at most {MAX_USERNAME_CHARS} characters.")
    if any(not character.isprintable() for character in typed):
        raise BadUsername("A ListenBrainz username has no control characters.")
    if typed in (".", ".."):  # a URL path would read them as "this folder" and "the one above"
        raise BadUsername(f"“{typed}” cannot be a ListenBrainz username.")
    return typed


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _mbid(metadata: dict) -> str | None:
    """The recording MBID: ListenBrainz's own match (``mbid_mapping``) first, else the one the
    submitting player sent (``additional_info``)."""
    for holder in (metadata.get("mbid_mapping"), metadata.get("additional_info")):
        if isinstance(holder, dict):
            value = holder.get("recording_mbid")
            if isinstance(value, str) and value.strip():
                return value.strip().lower()
    return None


def parse_listens(document: object) -> list[Listen]:
    """The listens of a ``/listens`` answer; a listen without title or artist is left out.
    Raises ListenBrainzUnavailable when the document is not the documented shape."""
    payload = document.get("payload") if isinstance(document, dict) else None
    listens = payload.get("listens") if isinstance(payload, dict) else None
    if not isinstance(listens, list):
        raise ListenBrainzUnavailable("ListenBrainz answered with something that is not a list of listens.")
    parsed = []
    for item in listens:
        metadata = item.get("track_metadata") if isinstance(item, dict) else None
        if not isinstance(metadata, dict):
            continue
        title, artist = _text(metadata.get("track_name")), _text(metadata.get("artist_name"))
        if not title or not artist:
            continue
        at = item.get("listened_at")
        listened_at = at if isinstance(at, int) and not isinstance(at, bool) else None
        parsed.append(Listen(title, artist, _mbid(metadata), listened_at))
    return parsed


def _seconds(value: str | None) -> float | None:
    """A header's number of seconds, or None when absent or not a finite number >= 0."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _wait_words(seconds: float) -> str:
    whole = max(1, math.ceil(seconds))
    return f"{whole} second{'s' if whole != 1 else ''}"


class ListenBrainzClient:
    """Asks ListenBrainz, politely; one per application (its rate-limit state is shared).

    ``clock`` and ``sleep`` are the monotonic clock and the sleep it waits with (tests may
    pass their own). Use as ``async with ListenBrainzClient(settings) as client`` or call
    :meth:`close`.
    """

    def __init__(
        self,
        settings: ListenBrainzConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ):
        self.settings = settings
        self._clock = clock
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None
        self._turn = asyncio.Lock()  # one call at a time: the one-call-a-second rule
        self._last_call: float | None = None
        self._blocked_until = 0.0  # the rate limit's window, from X-RateLimit-Reset-In
        self.requests = 0  # calls made (for tests and logs)

    async def __aenter__(self) -> ListenBrainzClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            contact = self.settings.contact.strip()
            agent = f"{USER_AGENT} ( {contact} )" if contact else USER_AGENT
            self._session = aiohttp.ClientSession(headers={"User-Agent": agent, "Accept": "application/json"})
        return self._session

    def _url(self, username: str, endpoint: str) -> str:
        root = self.settings.api_url.rstrip("/")
        return f"{root}/1/user/{urllib.parse.quote(username, safe='')}/{endpoint}"

    # -- the two questions -------------------------------------------------------------

    async def listen_count(self, username: str) -> int:
        """How many listens ListenBrainz holds for ``username``; UnknownListenBrainzUser if none."""
        document = await self._get(username, "listen-count", {})
        payload = document.get("payload") if isinstance(document, dict) else None
        count = payload.get("count") if isinstance(payload, dict) else None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ListenBrainzUnavailable("ListenBrainz answered with something that is not a listen count.")
        return count

    async def recent_listens(self, username: str, count: int | None = None) -> list[Listen]:
        """The member's ``count`` (default: the configured number) most recent listens, newest first."""
        wanted = self.settings.listens if count is None else count
        wanted = max(1, min(int(wanted), MAX_ITEMS_PER_GET))
        return parse_listens(await self._get(username, "listens", {"count": str(wanted)}))

    # -- one bounded question ----------------------------------------------------------

    async def _get(self, username: str, endpoint: str, params: dict[str, str]) -> object:
        check_username(username)
        settings = self.settings
        deadline = self._clock() + settings.total_seconds
        backoff = FIRST_BACKOFF_SECONDS
        problem = "did not answer"
        for attempt in range(1, settings.attempts + 1):
            async with self._my_turn(deadline):
                await self._wait_for_turn(deadline)
                left = deadline - self._clock()
                if left <= 0:
                    break
                self.requests += 1
                try:
                    status, headers, document = await self._request(
                        self._url(username, endpoint), params, min(settings.timeout_seconds, left)
                    )
                except TimeoutError:
                    problem = f"took longer than {settings.timeout_seconds:g} s to answer"
                    status = None
                except aiohttp.ClientError as error:
                    problem = f"could not be reached ({type(error).__name__})"
                    status = None
                else:
                    self._note_rate_limit(headers)
                finally:  # counted from the end of the call: the safe side of "one a second"
                    self._last_call = self._clock()
            if status is None:
                log.info("ListenBrainz %s %s (try %d)", endpoint, problem, attempt)
            elif status == 200:
                return document
            elif status == 404:
                raise UnknownListenBrainzUser(username)
            elif status in (401, 403):
                raise ListenBrainzError(f"ListenBrainz does not share the listens of “{username}” ({status}).")
            elif status == 429:
                reset_in = _seconds(headers.get("X-RateLimit-Reset-In"))
                wait = reset_in if reset_in is not None else 1.0
                self._blocked_until = max(self._blocked_until, self._clock() + wait)
                problem = f"asks us to wait {_wait_words(wait)}"
                if self._clock() + wait > deadline:
                    raise ListenBrainzUnavailable(
                        f"ListenBrainz is busy (rate limited); try again in {_wait_words(wait)}."
                    )
                continue  # the wait happens at the next turn
            elif 500 <= status < 600:
                problem = f"answered {status} (a problem on its side)"
            else:
                raise ListenBrainzUnavailable(f"ListenBrainz refused the request ({status}).")
            if attempt < settings.attempts and self._clock() + backoff < deadline:
                await self._sleep(backoff)
                backoff *= 2
        raise ListenBrainzUnavailable(f"ListenBrainz {problem}; try again in a few minutes.")

    @contextlib.asynccontextmanager
    async def _my_turn(self, deadline: float) -> AsyncIterator[None]:
        """The one call at a time, waited for no longer than ``deadline`` (the questions ahead
        may each take their own whole time)."""
        try:
            async with asyncio.timeout(max(0.0, deadline - self._clock())):
                await self._turn.acquire()
        except TimeoutError:
            raise ListenBrainzUnavailable(
                "Too many questions for ListenBrainz at once (one a second); try again in a minute."
            ) from None
        try:
            yield
        finally:
            self._turn.release()

    async def _wait_for_turn(self, deadline: float) -> None:
        """Wait out the rate limit's window and the one-call-a-second rule, if it fits before
        ``deadline``; else ListenBrainzUnavailable saying when to try again."""
        now = self._clock()
        ready = self._blocked_until
        if self._last_call is not None:
            ready = max(ready, self._last_call + self.settings.min_interval_seconds)
        if ready <= now:
            return
        if ready > deadline:
            why = (
                "ListenBrainz is busy (rate limited)"
                if self._blocked_until >= ready
                else "Too many questions for ListenBrainz at once (one a second)"
            )
            raise ListenBrainzUnavailable(f"{why}; try again in {_wait_words(ready - now)}.")
        await self._sleep(ready - now)

    def _note_rate_limit(self, headers: Any) -> None:
        remaining = headers.get("X-RateLimit-Remaining")
        reset_in = _seconds(headers.get("X-RateLimit-Reset-In"))
        if remaining is not None and reset_in is not None and remaining.strip() == "0":
            self._blocked_until = max(self._blocked_until, self._clock() + reset_in)

    async def _request(self, url: str, params: dict[str, str], seconds: float) -> tuple[int, Any, object]:
        session = self._client_session()
        async with session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=seconds)) as response:
            document: object = None
            if response.status == 200:
                try:
                    document = await response.json(content_type=None)
                except ValueError:
                    raise ListenBrainzUnavailable("ListenBrainz answered with something that is not JSON.") from None
            else:
                await response.read()
            return response.status, response.headers, document
