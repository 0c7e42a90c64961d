"""Listens to catalog songs: by recording MBID when the catalog keeps one, else by the title
resolver on (title, artist).

A listen counts as matched only when the match is sure: the same ``recording_mbid`` (a column
of the catalog's items, which a dataset imported from ListenBrainz dumps keeps); else the same
title and artist as a catalog song, letter for letter but for case and spaces at the ends (a
hash look-up, the most listened of equal songs: most listens carry their player's exact tags);
else a title the resolver takes without asking (``confident``) by the artist the listen names
(``artist_matched``). A "did you mean ...?" is never a match: a wrong song in someone's
history would steer every suggestion after it.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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
        self._exact: tuple[np.ndarray, np.ndarray] | None = None  # sorted key hashes, their item indices
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

    def _exact_index(self) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            if self._exact is None:
                items = self.dataset.items
                keys = _keys(items["title"], items["artist"])
                hashes = np.fromiter((hash(key) for key in keys), dtype=np.int64, count=len(keys))
                listeners = np.asarray(self.dataset.listeners, dtype=np.int64)
                order = np.lexsort((-listeners, hashes))  # by hash, then most listened first
                self._exact = (hashes[order], order)
            return self._exact

    def _by_exact_text(self, title: str, artist: str) -> int | None:
        key = _key(title, artist)
        hashes, order = self._exact_index()
        wanted = hash(key)
        start, end = np.searchsorted(hashes, wanted, "left"), np.searchsorted(hashes, wanted, "right")
        for position in range(int(start), int(end)):
            index = int(order[position])
            if _key(self.dataset.title(index), self.dataset.artist(index)) == key:
                return index
        return None

    def _by_title(self, title: str, artist: str) -> int | None:
        key = (title, artist)
        with self._lock:
            if key in self._pairs:
                self._pairs.move_to_end(key)
                return self._pairs[key]
        found = self._by_exact_text(title, artist)
        if found is None:
            found = self._by_resolver(title, artist)
        with self._lock:
            self._pairs[key] = found
            while len(self._pairs) > REMEMBERED_PAIRS:
                self._pairs.popitem(last=False)
        return found

    def _by_resolver(self, title: str, artist: str) -> int | None:
        resolution = self.resolver.resolve(title, artist=artist)
        best = resolution.best
        sure = resolution.kind == "song" and resolution.confident and resolution.artist_matched is True
        return best.item_index if best is not None and sure else None

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


def _key(title: str, artist: str) -> str:
    return f"{str(title).strip().casefold()}\x1f{str(artist).strip().casefold()}"


def _keys(titles, artists) -> list[str]:
    """:func:`_key` of whole catalog columns, vectorised by pandas."""
    folded_titles = titles.astype(str).str.strip().str.casefold()
    folded_artists = artists.astype(str).str.strip().str.casefold()
    return (folded_titles + "\x1f" + folded_artists).tolist()
