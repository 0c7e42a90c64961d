"""Version groups: which songs of a catalog are versions of one song.

Two catalog rows are versions of one song when they have the same core title and the same
primary artist (the parts :func:`recommender.text.song_key` joins): "Hey Ya! (Radio Mix)" and
"Hey Ya! - Live at Wembley" by OutKast are versions of "Hey Ya!"; the cover by Obadiah Parker
is another song. A group is shown as its representative, its most listened version (on equal
listeners a plain title before a live or remixed one, then the earlier row).

Answers show one version per song and leave out every version of their seeds; evaluation
counts a hit on any version. :meth:`VersionGroups.build` needs only a dataset's titles,
artists and listeners (each distinct title and artist is parsed once); the title resolver
makes the same groups from the codes its own index already has (:meth:`~VersionGroups.from_song_keys`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from recommender.dataset import Dataset, arrow_strings, distinct_strings, iter_strings
from recommender.text import MAX_CATALOG_CHARS, parse_artist, parse_title


@dataclass(frozen=True, eq=False)
class VersionGroups:
    """Which items are versions of one song. Groups are numbered 0..len-1; read-only."""

    item_group: np.ndarray  # the group of each item
    indptr: np.ndarray  # group g's items are items[indptr[g]:indptr[g + 1]]
    items: np.ndarray  # each group's items, most listened first
    representatives: np.ndarray  # each group's most listened item: items[indptr[g]]

    # The arrays as saved with the title index (recommender.search.cache).
    ARRAYS = ("item_group", "indptr", "items", "representatives")

    # -- building -------------------------------------------------------------------------------
    @classmethod
    def build(cls, dataset: Dataset) -> VersionGroups:
        """The version groups of ``dataset``'s catalog (title, artist) and listeners."""
        return cls.from_columns(dataset.items["title"], dataset.items["artist"], dataset.listeners)

    @classmethod
    def from_columns(cls, titles: object, artists: object, listeners: object) -> VersionGroups:
        """Groups of parallel columns (any sequence, pandas or arrow; missing values read as "")."""
        title_column, artist_column = arrow_strings(titles), arrow_strings(artists)
        listener_counts = np.asarray(listeners, dtype=np.int64)
        if not len(title_column) == len(artist_column) == len(listener_counts):
            raise ValueError("titles, artists and listeners differ in length")
        title_codes, distinct_titles = distinct_strings(title_column)
        core_of_title, version_of_title = _core_titles(distinct_titles)
        artist_codes, distinct_artists = distinct_strings(artist_column)
        primary_of_artist = _primary_artists(distinct_artists)
        return cls.from_song_keys(
            core_of_title[title_codes], primary_of_artist[artist_codes], version_of_title[title_codes], listener_counts
        )

    @classmethod
    def from_song_keys(
        cls, core_titles: np.ndarray, primary_artists: np.ndarray, is_version: np.ndarray, listeners: np.ndarray
    ) -> VersionGroups:
        """Groups from codes, one per item: equal (core title, primary artist) codes make one song.

        Groups are numbered in (core title code, primary artist code) order; ``is_version`` (an
        extra marks a live, remixed or remastered version) breaks ties between versions with
        equal listeners, so the plain title represents the song.
        """
        n = len(listeners)
        if not len(core_titles) == len(primary_artists) == len(is_version) == n:
            raise ValueError("song key columns and listeners differ in length")
        primary = np.asarray(primary_artists, dtype=np.int64)
        key = np.asarray(core_titles, dtype=np.int64) * (int(primary.max()) + 1 if n else 1) + primary
        item_group = np.unique(key, return_inverse=True)[1].reshape(-1).astype(np.int32)
        n_groups = int(item_group.max()) + 1 if n else 0
        indptr = np.zeros(n_groups + 1, dtype=np.int32 if n < 2**31 else np.int64)
        np.cumsum(np.bincount(item_group, minlength=n_groups), out=indptr[1:])
        # Within a group: most listened first, a plain title before a version, then row order.
        rank_in_group = -(np.asarray(listeners, dtype=np.int64) * 2) + np.asarray(is_version, dtype=np.int64)
        items = np.lexsort((np.arange(n), rank_in_group, item_group)).astype(np.int32)
        return cls(item_group, indptr, items, items[indptr[:-1]])

    # -- saving with the title index --------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self.ARRAYS}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> VersionGroups:
        """Groups from :meth:`arrays` (saved and loaded again); refuses parts that do not fit."""
        groups = cls(**{name: arrays[name] for name in cls.ARRAYS})
        if (
            not len(groups.indptr)
            or len(groups.representatives) != len(groups.indptr) - 1
            or len(groups.items) != len(groups.item_group)
            or int(groups.indptr[-1]) != len(groups.items)
        ):
            raise ValueError("version group arrays do not fit together")
        return groups

    # -- questions ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        """How many songs: groups of versions."""
        return len(self.representatives)

    @property
    def n_items(self) -> int:
        return len(self.item_group)

    def group_of(self, item: int) -> int:
        """The group shared by every version of this item's song."""
        return int(self.item_group[item])

    def members(self, group: int) -> np.ndarray:
        """Item indices of every version of the song, most listened first."""
        return self.items[self.indptr[group] : self.indptr[group + 1]]

    def representative(self, group: int) -> int:
        """The most listened version of the song: the one shown for the group."""
        return int(self.representatives[group])

    def with_versions(self, items: Iterable[int]) -> set[int]:
        """``items`` and every other version of their songs (what an answer leaves out of its seeds)."""
        found: set[int] = set()
        for item in items:
            found.update(self.members(self.group_of(item)).tolist())
        return found


def _core_titles(distinct_titles: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(core title code, is a version) of each distinct raw title; equal cores share a code."""
    codes: dict[str, int] = {}
    core_of_title = np.empty(len(distinct_titles), dtype=np.int64)
    version_of_title = np.zeros(len(distinct_titles), dtype=bool)
    for position, raw in enumerate(iter_strings(distinct_titles)):
        parts = parse_title(raw, MAX_CATALOG_CHARS)
        core_of_title[position] = codes.setdefault(parts.core, len(codes))
        version_of_title[position] = parts.is_version
    return core_of_title, version_of_title


def _primary_artists(distinct_artists: pa.Array) -> np.ndarray:
    """The primary artist code of each distinct raw artist credit; equal primaries share a code."""
    codes: dict[str, int] = {}
    return np.fromiter(
        (
            codes.setdefault(parse_artist(raw, MAX_CATALOG_CHARS).primary, len(codes))
            for raw in iter_strings(distinct_artists)
        ),
        dtype=np.int64,
        count=len(distinct_artists),
    )
