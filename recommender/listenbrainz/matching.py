"""Listens to catalog songs: by recording MBID when the catalog keeps one, else by the title
resolver on (title, artist).

A listen counts as matched only when the match is sure: the same ``recording_mbid`` (a column
of the catalog's items, which a dataset imported from ListenBrainz dumps keeps), or a title the
resolver takes without asking (``confident``) by the artist the listen names
(``artist_matched``). A "did you mean ...?" is never a match: a wrong song in someone's
history would steer every suggestion after it.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from recommender.dataset import Dataset
from recommender.listenbrainz.client import Listen
from recommender.search.resolver import TitleResolver

MBID_COLUMN = "recording_mbid"
# Distinct (title, artist) pairs remembered with what they resolved to, across members.
REMEMBERED_PAIRS = 50_000


@dataclass(frozen=True)
class MatchedListening:
    """What a member's listens came to in the catalog.

    ``listens``: how many listens were read; ``matched``: how many of them are a catalog song
    (a true count of listens, a song played three times counts three); ``songs``: those songs'
    item ids, most played first (ties: most recent first); ``by_mbid``: matched listens that
    matched by recording MBID.
    """

    username: str
    listens: int
    matched: int
    songs: tuple[str, ...]
    by_mbid: int = 0


class CatalogMatcher:
    """Matches listens to one dataset's songs; safe to call from several pool threads."""

    def __init__(self, dataset: Dataset, resolver: TitleResolver):
        self.dataset = dataset
        self.resolver = resolver
        self._lock = threading.Lock()
        self._mbids: dict[str, int] | None = None
        self._pairs: OrderedDict[tuple[str, str], int | None] = OrderedDict()

    @property
    def has_mbids(self) -> bool:
        return MBID_COLUMN in self.dataset.items.columns

    def _mbid_index(self) -> dict[str, int]:
        with self._lock:
            if self._mbids is None:
                mapping: dict[str, int] = {}
                if self.has_mbids:
                    for index, value in enumerate(self.dataset.items[MBID_COLUMN].tolist()):
                        if isinstance(value, str) and value.strip():
                            mapping.setdefault(value.strip().lower(), index)
                self._mbids = mapping
            return self._mbids

    def _by_title(self, title: str, artist: str) -> int | None:
        key = (title, artist)
        with self._lock:
            if key in self._pairs:
                self._pairs.move_to_end(key)
                return self._pairs[key]
        resolution = self.resolver.resolve(title, artist=artist)
        best = resolution.best
        found = (
            best.item_index
            if best is not None
            and resolution.kind == "song"
            and resolution.confident
            and resolution.artist_matched is True
            else None
        )
        with self._lock:
            self._pairs[key] = found
            while len(self._pairs) > REMEMBERED_PAIRS:
                self._pairs.popitem(last=False)
        return found

    def match(self, username: str, listens: Sequence[Listen]) -> MatchedListening:
        """The catalog songs of ``listens`` (newest first, as ListenBrainz gives them)."""
        mbids = self._mbid_index() if self.has_mbids else {}
        plays: Counter[int] = Counter()
        first_seen: dict[int, int] = {}
        by_mbid = 0
        for position, listen in enumerate(listens):
            index = mbids.get(listen.recording_mbid) if listen.recording_mbid else None
            if index is not None:
                by_mbid += 1
            else:
                index = self._by_title(listen.title, listen.artist)
            if index is None:
                continue
            plays[index] += 1
            first_seen.setdefault(index, position)
        ordered = sorted(plays, key=lambda index: (-plays[index], first_seen[index]))
        item_ids = self.dataset.item_ids
        return MatchedListening(
            username=username,
            listens=len(listens),
            matched=sum(plays.values()),
            songs=tuple(str(item_ids[index]) for index in ordered),
            by_mbid=by_mbid,
        )
