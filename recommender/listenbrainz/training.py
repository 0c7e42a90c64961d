"""Linked members' listens as training rows for a retrain, where a server opted in.

``[listenbrainz] train_from_linked`` lists the servers (guild ids) that opt in. A member
counts when they linked a ListenBrainz account and asked something in one of those servers
(the log knows no other membership). Their recent listens (``[listenbrainz] listens``) are
read when the retrain runs, matched to catalog songs as /foryou matches them, and each
matched song joins the member's listener row (``discord:<user_id>``, the row their 👍 make)
with the weight of a 👍. Nothing read is written anywhere but into the model trained from it.
An account ListenBrainz cannot give is counted and skipped; the retrain goes on without it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from recommender.config import Config
from recommender.dataset import Dataset
from recommender.feedback.offline import member_key, read_linked_accounts
from recommender.listenbrainz.client import Listen, ListenBrainzClient, ListenBrainzError
from recommender.listenbrainz.matching import CatalogMatcher
from recommender.search.resolver import TitleResolver

log = logging.getLogger(__name__)

T = TypeVar("T")
SERVICE = "listenbrainz"
Reporter = Callable[[str, float, str], None]


@dataclass
class ListeningSummary:
    """What the retrain learned from linked accounts (true counts)."""

    members: int = 0  # linked members of opted-in servers
    read: int = 0  # of them, accounts whose listens could be read
    unavailable: int = 0  # accounts ListenBrainz could not give (down, gone)
    listens: int = 0
    matched: int = 0  # listens that matched a catalog song
    songs: int = 0  # (member, song) pairs added

    def to_dict(self) -> dict:
        return asdict(self)


async def _read_all(config: Config, accounts: list[tuple[int, str]]) -> dict[int, list[Listen] | None]:
    """Each account's recent listens, one call at a time (the client keeps the rate limits);
    None for an account ListenBrainz could not give."""
    got: dict[int, list[Listen] | None] = {}
    async with ListenBrainzClient(config.listenbrainz) as client:
        for user_id, username in accounts:
            try:
                got[user_id] = await client.recent_listens(username)
            except ListenBrainzError as error:
                # The reason only: the username stays out of the log.
                log.warning("retrain: the listens of a linked account could not be read (%s)", type(error).__name__)
                got[user_id] = None
    return got


def _run(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end: here, or on a thread of its own when an event loop is already
    running in this one (a caller inside async code)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, work).result()


def linked_listening(
    config: Config, dataset: Dataset, feedback_db: Path | str, report: Reporter | None = None
) -> tuple[list[tuple[str, str]], ListeningSummary]:
    """``(member_key, item_id)`` pairs from the linked members of opted-in servers, and a summary."""
    report = report or (lambda stage, progress, message: None)
    summary = ListeningSummary()
    guilds = list(config.listenbrainz.train_from_linked)
    accounts = read_linked_accounts(feedback_db, SERVICE, guilds)
    summary.members = len(accounts)
    if not accounts:
        return [], summary
    report("feedback", 0.06, f"reading the listens of {len(accounts)} linked ListenBrainz accounts")
    listens = _run(_read_all(config, accounts))
    matcher = CatalogMatcher(dataset, TitleResolver.build(dataset))
    pairs: list[tuple[str, str]] = []
    for user_id, username in accounts:
        read = listens.get(user_id)
        if read is None:
            summary.unavailable += 1
            continue
        matched = matcher.match(username, read)
        summary.read += 1
        summary.listens += matched.listens
        summary.matched += matched.matched
        summary.songs += len(matched.songs)
        pairs.extend((member_key(user_id), item_id) for item_id in matched.songs)
    return pairs, summary
