"""The title index: a catalog's titles and artists parsed once into string indexes and links.

Built from the dataset's columns (:meth:`TitleIndex.from_columns`, about 10 s for a million
titles) or loaded from the copy saved beside the dataset (:meth:`TitleIndex.build`,
:mod:`recommender.search.cache`), it holds:

- the display columns (item ids, raw titles and artists, listeners) as compact arrow strings;
- two :class:`~recommender.search.strings.StringIndex` es, of normalized titles (core titles,
  and the subtitled form of titles whose bracket is a subtitle) and of folded artist names
  (primary and featured);
- links, as CSR arrays: each item's core title and primary artist, each title's and each
  artist's items (most listened first), each item's credited artists;
- the catalog's :class:`~recommender.versions.VersionGroups`.

Its look-ups answer "which items carry these titles", "which artists match this name", "how
well does this artist match these items' credits"; :class:`~recommender.search.resolver.TitleResolver`
builds on them to read what people type.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import pyarrow as pa

from recommender.dataset import arrow_strings, distinct_strings, iter_strings
from recommender.results import Candidate
from recommender.search.cache import CACHE_DIR, SavedIndex, cache_key, load_index, save_index
from recommender.search.scoring import ARTIST_AGREES, NO_ITEMS, ScoredItems, match_scores
from recommender.search.strings import StringIndex, sorted_distinct
from recommender.text import MAX_CATALOG_CHARS, parse_artist, parse_title, primary_artist_display
from recommender.versions import VersionGroups

log = logging.getLogger(__name__)

# -- work bounds (each look-up costs at most about this much) ------------------------------------
ITEMS_PER_TITLE = 25  # most listened items taken per matching title string
ITEMS_PER_ARTIST = 3000  # most listened items taken per matching artist
POPULAR_SONGS = 25  # kept for an empty autocomplete: as many choices as Discord shows
# A query word that ends artist names ("lennon") reads as the SURNAME_ARTISTS most listened
# of them (the resolver gives them less agreement than the full name).
MIN_SURNAME_CHARS, SURNAME_ARTISTS = 4, 3

Index = TypeVar("Index", bound="TitleIndex")


class CatalogSource(Protocol):
    """What an index is built from: a Dataset, or anything with its catalog and listeners."""

    @property
    def items(self) -> Any: ...  # a table with item_id, title and artist columns

    @property
    def listeners(self) -> np.ndarray: ...


@dataclass(frozen=True)
class _Catalog:
    """The dataset's columns the resolver shows: compact arrow strings, one take() per answer."""

    item_ids: pa.Array
    titles: pa.Array
    artists: pa.Array
    listeners: np.ndarray

    @classmethod
    def of(cls, item_ids: object, titles: object, artists: object, listeners: object) -> _Catalog:
        catalog = cls(
            arrow_strings(item_ids),
            arrow_strings(titles),
            arrow_strings(artists),
            np.asarray(listeners, dtype=np.int64),
        )
        if not (len(catalog.item_ids) == len(catalog.artists) == len(catalog.listeners) == len(catalog.titles)):
            raise ValueError("item ids, titles, artists and listeners differ in length")
        return catalog


@dataclass(frozen=True)
class _ParsedCatalog:
    """Titles and artists parsed into provisional string ids (in order of first appearance),
    before the string indexes give them their final ids."""

    title_names: list[str]  # provisional title id -> normalized title
    artist_names: list[str]  # provisional artist id -> folded name (primary or featured)
    item_core: np.ndarray  # each item's core title
    item_alias: np.ndarray  # each item's title with its subtitle kept in place, or -1
    item_is_version: np.ndarray  # an extra marks a live/remix/remaster version
    item_primary: np.ndarray  # each item's primary artist
    credit_items: np.ndarray  # (item, artist) pairs: every item's primary artist and everyone
    credit_names: np.ndarray  # featured in its artist credit or its title


def _parse_catalog(titles: pa.Array, artists: pa.Array) -> _ParsedCatalog:
    """Parse each distinct raw title and artist once (catalogs repeat them a lot), keeping only
    ids: a million small objects alive at once would fragment the heap."""
    name_of: dict[str, int] = {}  # title string -> provisional id
    artist_of: dict[str, int] = {}  # artist string -> provisional id
    title_codes, distinct_titles = distinct_strings(titles)
    core_of_title, alias_of_title, version_of_title, featured_of_title = _parse_titles(
        distinct_titles, name_of, artist_of
    )
    del distinct_titles
    artist_codes, distinct_artists = distinct_strings(artists)
    primary_of_artist, featured_of_artist = _parse_artists(distinct_artists, artist_of)
    del distinct_artists
    item_primary = primary_of_artist[artist_codes]
    credit_items, credit_names = [np.arange(len(item_primary), dtype=np.int32)], [item_primary]
    for featured_sets, codes in ((featured_of_artist, artist_codes), (featured_of_title, title_codes)):
        if featured_sets:
            has = np.flatnonzero(np.isin(codes, np.fromiter(featured_sets, dtype=np.int64)))
            pairs = [(item, name) for item in has.tolist() for name in featured_sets[int(codes[item])]]
            credit_items.append(np.array([p[0] for p in pairs], dtype=np.int32))
            credit_names.append(np.array([p[1] for p in pairs], dtype=np.int32))
    return _ParsedCatalog(
        title_names=list(name_of),
        artist_names=list(artist_of),
        item_core=core_of_title[title_codes],
        item_alias=alias_of_title[title_codes],
        item_is_version=version_of_title[title_codes],
        item_primary=item_primary,
        credit_items=np.concatenate(credit_items),
        credit_names=np.concatenate(credit_names),
    )


def _parse_titles(
    distinct_titles: pa.Array, name_of: dict[str, int], artist_of: dict[str, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, list[int]]]:
    """(core id, alias id or -1, is a version, featured artist ids) of each distinct raw title."""
    n_titles = len(distinct_titles)
    core_of_title = np.empty(n_titles, dtype=np.int32)
    # The title with its subtitle kept in place, when the bracket is a subtitle rather
    # than a version ("i cant get no satisfaction"): both spellings find the song.
    alias_of_title = np.full(n_titles, -1, dtype=np.int32)
    version_of_title = np.zeros(n_titles, dtype=bool)
    featured_of_title: dict[int, list[int]] = {}
    for code, raw in enumerate(iter_strings(distinct_titles)):
        parts = parse_title(raw, MAX_CATALOG_CHARS)
        core_of_title[code] = name_of.setdefault(parts.core, len(name_of))
        if parts.extras and not parts.is_version and parts.full != parts.core:
            alias_of_title[code] = name_of.setdefault(parts.full, len(name_of))
        version_of_title[code] = parts.is_version
        if parts.featured:
            featured_of_title[code] = [artist_of.setdefault(name, len(artist_of)) for name in parts.featured]
    return core_of_title, alias_of_title, version_of_title, featured_of_title


def _parse_artists(distinct_artists: pa.Array, artist_of: dict[str, int]) -> tuple[np.ndarray, dict[int, list[int]]]:
    """(primary artist id, featured artist ids) of each distinct raw artist credit."""
    primary_of_artist = np.empty(len(distinct_artists), dtype=np.int32)
    featured_of_artist: dict[int, list[int]] = {}
    for code, raw in enumerate(iter_strings(distinct_artists)):
        credit = parse_artist(raw, MAX_CATALOG_CHARS)
        primary_of_artist[code] = artist_of.setdefault(credit.primary, len(artist_of))
        if credit.featured:
            featured_of_artist[code] = [artist_of.setdefault(name, len(artist_of)) for name in credit.featured]
    return primary_of_artist, featured_of_artist


def _csr(
    keys: np.ndarray, values: np.ndarray, n_keys: int, order_within: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Group ``values`` by ``keys`` into (indptr, values); ``order_within`` sorts each row
    (ascending), ties keep ``values`` order."""
    order = np.argsort(keys, kind="stable") if order_within is None else np.lexsort((values, order_within, keys))
    indptr = np.zeros(n_keys + 1, dtype=np.int32 if len(values) < 2**31 else np.int64)
    np.cumsum(np.bincount(keys, minlength=n_keys), out=indptr[1:])
    return indptr, values[order]


def _index_titles(parsed: _ParsedCatalog, listeners: np.ndarray) -> tuple[StringIndex, dict[str, np.ndarray]]:
    """The title string index (popularity of a title: its most listened song) and the links
    between titles and items: each item's core title, each title's items (most listened first)."""
    n = len(listeners)
    has_alias = parsed.item_alias >= 0
    pair_names = np.r_[parsed.item_core, parsed.item_alias[has_alias]]
    pair_items = np.r_[np.arange(n, dtype=np.int32), np.flatnonzero(has_alias).astype(np.int32)]
    title_popularity = np.zeros(len(parsed.title_names), dtype=np.float64)
    np.maximum.at(title_popularity, pair_names, listeners.astype(np.float64)[pair_items])
    title_index, title_id = StringIndex.build(parsed.title_names, title_popularity)
    title_indptr, title_items = _csr(
        title_id[pair_names], pair_items, len(title_index), order_within=-listeners[pair_items]
    )
    links = {
        "item_core": title_id[parsed.item_core].astype(np.int32),
        "title_indptr": title_indptr,
        "title_items": title_items,
    }
    return title_index, links


def _index_artists(parsed: _ParsedCatalog, listeners: np.ndarray) -> tuple[StringIndex, dict[str, np.ndarray]]:
    """The artist string index (popularity: listeners summed over the artist's credited songs)
    and the links between artists and items: each item's primary artist, each artist's credited
    items (most listened first), each item's credited artists."""
    n, n_artists = len(listeners), len(parsed.artist_names)
    credit_items = parsed.credit_items
    popularity = np.bincount(
        parsed.credit_names, weights=listeners.astype(np.float64)[credit_items], minlength=n_artists
    )
    artist_index, artist_id = StringIndex.build(parsed.artist_names, popularity)
    credit_names = artist_id[parsed.credit_names].astype(np.int32)
    artist_indptr, artist_items = _csr(credit_names, credit_items, n_artists, order_within=-listeners[credit_items])
    credit_indptr, credit_artists = _csr(credit_items, credit_names, n)
    links = {
        "item_primary": artist_id[parsed.item_primary].astype(np.int32),
        "artist_indptr": artist_indptr,
        "artist_items": artist_items,
        "credit_indptr": credit_indptr,
        "credit_artists": credit_artists,
    }
    return artist_index, links


def _artist_display(artists: pa.Array, item_primary: np.ndarray, listeners: np.ndarray, n_artists: int) -> list:
    """How each artist is shown: the raw primary credit of its most listened song (None for
    names only ever featured)."""
    display: list[str | None] = [None] * n_artists
    if not len(item_primary):
        return display
    rows = np.lexsort((-listeners, item_primary))
    firsts = rows[np.r_[True, item_primary[rows][1:] != item_primary[rows][:-1]]]
    for item, raw in zip(firsts.tolist(), artists.take(pa.array(firsts)).to_pylist()):
        display[int(item_primary[item])] = primary_artist_display(raw or "")
    return display


def _artists_by_surname(artist_index: StringIndex, artist_display: Sequence[str | None]) -> dict[str, np.ndarray]:
    """Last word of multi-word artist names -> the most listened such artists, so
    "imagine lennon" finds John Lennon ("the" and short words excepted)."""
    by_word: dict[str, list[int]] = {}
    for artist_id, name in enumerate(artist_index.strings):
        words = name.split()
        if len(words) > 1 and len(words[-1]) >= MIN_SURNAME_CHARS and artist_display[artist_id]:
            by_word.setdefault(words[-1], []).append(artist_id)
    popularity = artist_index.popularity
    return {
        word: np.array(sorted(ids, key=lambda i: -popularity[i])[:SURNAME_ARTISTS], dtype=np.int64)
        for word, ids in by_word.items()
    }


def _release_free_heap() -> None:
    """Hand the build's freed scratch memory back to the OS.

    The build's temporary arrays (tens of MB each) are freed into the C heap, which glibc
    keeps for reuse; on a 1 M-title catalog that is hundreds of MB of resident memory the
    bot would carry for nothing. ``malloc_trim`` returns it; elsewhere this does nothing.
    """
    with contextlib.suppress(OSError, AttributeError):  # no C library, or not glibc
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


class TitleIndex:
    """A catalog's titles and artists indexed for look-ups; read-only and thread-safe once built.

    Built by :meth:`build` (from a dataset, through the saved index when there is one) or
    :meth:`from_columns`. :class:`~recommender.search.resolver.TitleResolver` is a TitleIndex
    that reads queries.
    """

    # The links between strings and items, as saved (the string indexes and version groups
    # save theirs under "title.", "artist." and "versions."; the display columns come from
    # the dataset).
    LINKS = (
        "item_core",
        "title_indptr",
        "title_items",
        "item_primary",
        "artist_indptr",
        "artist_items",
        "credit_indptr",
        "credit_artists",
        "popular_groups",
    )

    def __init__(
        self,
        catalog: _Catalog,
        versions: VersionGroups,
        title_index: StringIndex,
        artist_index: StringIndex,
        artist_display: list[str | None],
        links: Mapping[str, np.ndarray],
    ) -> None:
        """An index from its parts (see :meth:`build` and :meth:`from_columns`)."""
        # Raw columns, for display: compact arrow strings, one take() per answer.
        self.item_ids, self.titles, self.artists = catalog.item_ids, catalog.titles, catalog.artists
        self.listeners = catalog.listeners
        self.versions = versions
        self.title_index = title_index  # unique normalized titles (cores and subtitled forms)
        self.artist_index = artist_index  # unique folded artist names (primary and featured)
        self.artist_display = artist_display  # artist id -> how it is shown (None: only featured)
        self.item_core = links["item_core"]  # item -> its core title's id
        self.title_indptr = links["title_indptr"]  # title id -> its items (and items it is the
        self.title_items = links["title_items"]  # subtitled form of), most listened first
        self.item_primary = links["item_primary"]  # item -> its primary artist's id
        self.artist_indptr = links["artist_indptr"]  # artist id -> items crediting them,
        self.artist_items = links["artist_items"]  # most listened first
        self.credit_indptr = links["credit_indptr"]  # item -> every artist it credits
        self.credit_artists = links["credit_artists"]
        self.popular_groups = links["popular_groups"]  # the most listened songs, for an empty autocomplete
        self._artists_by_surname = _artists_by_surname(artist_index, artist_display)

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def build(cls: type[Index], dataset: CatalogSource, cache: bool = True) -> Index:
        """Index ``dataset.items`` (item_id, title, artist) with ``dataset.listeners``.

        With ``cache`` and a dataset folder, the index is saved beside the dataset as plain
        arrays (``resolver-index/``) and loaded from there next time, as long as the
        dataset, its titles and artists, and this code are unchanged.
        """
        items = dataset.items
        catalog = _Catalog.of(items["item_id"], items["title"], items["artist"], dataset.listeners)
        folder = getattr(dataset, "path", None)
        if not cache or folder is None or not len(catalog.item_ids):
            return cls.from_columns(catalog.item_ids, catalog.titles, catalog.artists, catalog.listeners)
        cache_dir = Path(folder) / CACHE_DIR
        key = cache_key(dataset, catalog.titles, catalog.artists)
        started = time.perf_counter()
        loaded = load_index(cache_dir, key, lambda saved: cls._from_saved(saved, catalog))
        if loaded is not None:
            log.info("title index loaded from %s in %.2f s", cache_dir, time.perf_counter() - started)
            return loaded
        built = cls.from_columns(catalog.item_ids, catalog.titles, catalog.artists, catalog.listeners)
        log.info("title index of %s songs built in %.2f s", f"{len(built):,}", time.perf_counter() - started)
        built._save(cache_dir, key)
        return built

    @classmethod
    def from_columns(cls: type[Index], item_ids: object, titles: object, artists: object, listeners: object) -> Index:
        """Index parallel columns (any sequence, pandas or arrow) of ids, titles and artists."""
        return cls._from_catalog(_Catalog.of(item_ids, titles, artists, listeners))

    @classmethod
    def _from_catalog(cls: type[Index], catalog: _Catalog) -> Index:
        parsed = _parse_catalog(catalog.titles, catalog.artists)
        listeners = catalog.listeners
        versions = VersionGroups.from_song_keys(
            parsed.item_core, parsed.item_primary, parsed.item_is_version, listeners
        )
        title_index, title_links = _index_titles(parsed, listeners)
        artist_index, artist_links = _index_artists(parsed, listeners)
        artist_display = _artist_display(
            catalog.artists, artist_links["item_primary"], listeners, len(parsed.artist_names)
        )
        del parsed
        popular_groups = np.argsort(-listeners[versions.representatives], kind="stable")[:POPULAR_SONGS]
        links = {**title_links, **artist_links, "popular_groups": popular_groups.astype(np.int64)}
        index = cls(catalog, versions, title_index, artist_index, artist_display, links)
        _release_free_heap()
        return index

    # -- the index saved beside the dataset ---------------------------------------------------
    def _save(self, folder: Path, key: str) -> None:
        """Save the index into ``folder`` (atomically; a failure is logged, not raised)."""
        arrays = {name: getattr(self, name) for name in self.LINKS}
        for prefix, parts in (
            ("title.", self.title_index.arrays()),
            ("artist.", self.artist_index.arrays()),
            ("versions.", self.versions.arrays()),
        ):
            arrays.update({prefix + name: array for name, array in parts.items()})
        strings: dict[str, Sequence[str | None]] = {
            "title_strings": self.title_index.strings,
            "artist_strings": self.artist_index.strings,
            "artist_display": self.artist_display,
        }
        save_index(folder, key, arrays, strings, items=len(self))

    @classmethod
    def _from_saved(cls: type[Index], saved: SavedIndex, catalog: _Catalog) -> Index:
        """The index saved; ValueError or KeyError when it does not fit ``catalog``."""
        arrays, strings = saved.arrays, saved.strings

        def prefixed(prefix: str, names: Sequence[str]) -> dict[str, np.ndarray]:
            return {name: arrays[prefix + name] for name in names}

        versions = VersionGroups.from_arrays(prefixed("versions.", VersionGroups.ARRAYS))
        title_index = StringIndex(strings["title_strings"], prefixed("title.", StringIndex.ARRAYS))
        artist_index = StringIndex(strings["artist_strings"], prefixed("artist.", StringIndex.ARRAYS))
        artist_display = strings["artist_display"]
        if versions.n_items != len(catalog.titles) or len(artist_display) != len(artist_index):
            raise ValueError("index sizes do not match the dataset")
        return cls(catalog, versions, title_index, artist_index, artist_display, prefixed("", cls.LINKS))

    # -- what an item is ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.item_ids)

    def display(self, items: Sequence[int] | np.ndarray) -> list[tuple[str, str, str]]:
        """(item id, raw title, raw artist) of each item, in one pass over the columns."""
        if not len(items):
            return []
        take = pa.array(np.asarray(items, dtype=np.int64))
        return list(
            zip(
                self.item_ids.take(take).to_pylist(),
                self.titles.take(take).to_pylist(),
                self.artists.take(take).to_pylist(),
            )
        )

    def candidates(self, items: Sequence[int] | np.ndarray, scores: Sequence[float]) -> list[Candidate]:
        return [
            Candidate(
                item_index=int(item),
                item_id=item_id,
                title=title,
                artist=artist,
                score=round(float(score), 1),
                listeners=int(self.listeners[item]),
            )
            for item, score, (item_id, title, artist) in zip(items, scores, self.display(items))
        ]

    def candidate(self, item_index: int, score: float = 100.0) -> Candidate:
        return self.candidates([item_index], [score])[0]

    # -- look-ups --------------------------------------------------------------------------------
    def _title_scores(self, query: str, name_ids: np.ndarray, partial: bool = False) -> np.ndarray:
        strings = [self.title_index.strings[i] for i in name_ids.tolist()]
        return match_scores(query, strings, partial)

    def _items_of_titles(self, name_ids: np.ndarray, scores: np.ndarray, floor: float) -> ScoredItems:
        """Expand matching title strings to their most listened items."""
        keep = scores >= floor
        name_ids, scores = name_ids[keep], scores[keep]
        if not len(name_ids):
            return NO_ITEMS
        starts = self.title_indptr[name_ids]
        counts = np.minimum(self.title_indptr[name_ids + 1] - starts, ITEMS_PER_TITLE)
        offsets = np.repeat(starts - np.r_[0, np.cumsum(counts)[:-1]], counts)
        items = self.title_items[offsets + np.arange(int(counts.sum()))]
        return ScoredItems(items, np.repeat(scores, counts))

    def _artist_ids(self, folded_artist: str, floor: float = ARTIST_AGREES) -> tuple[np.ndarray, np.ndarray]:
        """Artists matching a typed artist name: (ids, similarity), exact match first."""
        index = self.artist_index
        exact = index.find(folded_artist)
        candidates = index.similar(folded_artist)
        if exact >= 0:
            candidates = sorted_distinct(np.r_[candidates, exact])
        if not len(candidates):
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        strings = [index.strings[i] for i in candidates.tolist()]
        similarity = match_scores(folded_artist, strings)
        keep = similarity >= floor
        return candidates[keep], similarity[keep]

    def _artist_agreement(self, items: np.ndarray, folded_artist: str) -> np.ndarray:
        """0-100: how well the typed artist matches each item's credits (primary or featured)."""
        if not len(items):
            return np.zeros(0)
        starts, ends = self.credit_indptr[items], self.credit_indptr[items + 1]
        counts = ends - starts
        offsets = np.repeat(starts - np.r_[0, np.cumsum(counts)[:-1]], counts)
        credits = self.credit_artists[offsets + np.arange(int(counts.sum()))]
        unique, inverse = np.unique(credits, return_inverse=True)
        strings = [self.artist_index.strings[i] for i in unique.tolist()]
        similarity = match_scores(folded_artist, strings)
        per_credit = similarity[inverse]
        return (
            np.maximum.reduceat(per_credit, np.r_[0, np.cumsum(counts)[:-1]])
            if len(per_credit)
            else np.zeros(len(items))
        )

    def _items_of_artists(self, artist_ids: np.ndarray) -> np.ndarray:
        chunks = [
            self.artist_items[
                self.artist_indptr[a] : min(self.artist_indptr[a + 1], self.artist_indptr[a] + ITEMS_PER_ARTIST)
            ]
            for a in artist_ids.tolist()
        ]
        return sorted_distinct(np.concatenate(chunks)) if chunks else np.zeros(0, dtype=np.int64)

    def _score_titles_of_items(self, query: str, items: np.ndarray, partial: bool = False) -> np.ndarray:
        """Title match of ``query`` against each item's core title."""
        if not len(items):
            return np.zeros(0)
        names = self.item_core[items]
        unique, inverse = np.unique(names, return_inverse=True)
        return self._title_scores(query, unique, partial)[inverse]

    def _title_candidates(self, query: str, partial: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Title string ids that may be meant by ``query`` and their match scores."""
        index = self.title_index
        pools = [index.similar(query), index.prefixed(query, 40 if partial else 10)]
        exact = index.find(query)
        if exact >= 0:
            pools.append(np.array([exact], dtype=np.int64))
        ids = sorted_distinct(np.concatenate(pools))
        return ids, self._title_scores(query, ids, partial)
