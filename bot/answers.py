"""The steps of answering "songs like X", shared by the Discord cogs and the console.

``look_up`` turns what a person typed (or an autocomplete value) into a seed song, a short
list to pick from, or the closest titles. ``similar_answer`` computes the suggestions on the
compute pool, leaving out songs the member turned down for that seed and songs the server
blocked. ``log_answer`` writes the query and what was shown to the feedback log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Hashable

from recommender.errors import SoundalikeError, UnknownSong
from recommender.feedback_log import FeedbackLog
from recommender.results import Answer, Candidate
from recommender.service import SoundalikeService

from .limits import ComputePool
from .render import clean

# Typed text longer than this is cut before matching: no title is that long, and fuzzy
# matching a 10,000-character string against the catalog would only waste the pool.
MAX_QUERY_CHARS = 200
# Songs offered when a title is ambiguous (a select menu holds at most 25).
MAX_CHOICES = 10


class EmptyQuery(SoundalikeError):
    def __init__(self) -> None:
        super().__init__("Type a song title, e.g. /soundalike Hey Ya!")


@dataclass(frozen=True)
class Lookup:
    """Exactly one of: a ``seed``, ``choices`` to ask about, or the ``closest`` titles (maybe none)."""

    seed: Candidate | None = None
    choices: list[Candidate] = field(default_factory=list)
    closest: list[str] = field(default_factory=list)
    query: str = ""


def tidy(text: str | None) -> str:
    """Typed text as it is matched and logged: one line, at most MAX_QUERY_CHARS."""
    return clean(text or "")[:MAX_QUERY_CHARS].strip()


def look_up(service: SoundalikeService, title: str, artist: str | None = None) -> Lookup:
    """Synchronous (run it on the compute pool). An exact item id wins, else the resolver."""
    query = tidy(title)
    artist = tidy(artist) or None
    if not query:
        raise EmptyQuery()
    exact = service.candidate(str(title).strip()) if len(str(title)) <= MAX_QUERY_CHARS else None
    if exact is not None:
        return Lookup(seed=exact, query=query)
    resolution = service.resolve(query, artist)
    if resolution.found and (resolution.confident or len(resolution.candidates) == 1):
        return Lookup(seed=resolution.best, query=query)
    if resolution.found:
        return Lookup(choices=list(resolution.candidates[:MAX_CHOICES]), query=query)
    try:
        service.seed(query, artist)
    except UnknownSong as error:
        return Lookup(closest=list(error.suggestions), query=query)
    # seed() found something resolve() did not (it also tries exact ids); ask rather than guess.
    return Lookup(query=query)


async def similar_answer(
    service: SoundalikeService,
    feedback_log: FeedbackLog,
    pool: ComputePool,
    *,
    seed: Candidate,
    count: int,
    guild_id: int,
    user_id: int,
    pool_key: Hashable | None,
) -> Answer:
    """Suggestions for ``seed``; raises Busy when the pool is full, SoundalikeError when no answer."""
    excluded = await feedback_log.disliked_items(guild_id, user_id, seed.item_id)
    excluded |= await feedback_log.blocked_items(guild_id)
    return await pool.run(pool_key, service.similar, seed.item_id, count=count, exclude_ids=tuple(excluded))


async def log_answer(
    feedback_log: FeedbackLog,
    answer: Answer,
    *,
    command: str,
    guild_id: int,
    user_id: int,
    channel_id: int | None,
    typed_title: str | None,
    typed_artist: str | None,
    started: float,
    message_id: int | None = None,
    params: dict | None = None,
) -> int:
    return await feedback_log.record_answer(
        guild_id=guild_id,
        user_id=user_id,
        command=command,
        channel_id=channel_id,
        typed_title=tidy(typed_title) or None,
        typed_artist=tidy(typed_artist) or None,
        resolved_item_id=answer.seeds[0].item_id if answer.seeds else None,
        model_version=answer.model_version,
        latency_ms=(time.perf_counter() - started) * 1000.0,
        params=params or {},
        suggestions=[
            (position, suggestion.item_id, float(suggestion.score))
            for position, suggestion in enumerate(answer.suggestions, start=1 + answer.offset)
        ],
        message_id=message_id,
    )
