"""Title resolver benchmark: latency, accuracy, build time and memory on a synthetic catalog.

``run(n_titles, n_queries, seed)`` generates an MSD-shaped catalog (words with Zipf
frequencies, artists with a heavy-tailed number of tracks, titles repeated across
releases, live/remastered versions, covers with few listeners, featured artists, accents),
builds the resolver, and replays queries made from catalog songs with the damage people
do when typing (case, punctuation, a dropped "the", one or two typos, swapped words, the
artist in the query, "(feat. ...)" added or removed, a partial title). It reports:

- latency p50/p95 per kind of query, wall clock and thread CPU time (the CPU figures are
  not inflated by other processes competing for the cores);
- accuracy over every kind but "partial": ``top1`` (the top candidate is a version of the
  song the query was made from), ``top1_unambiguous`` (the same, leaving out queries that
  no title matcher can answer: a more listened *different* song has exactly the typed
  title and the query names no artist; ``ambiguous_share`` says how many those are), and
  ``top1_or_offered`` (right at the top, or not confident with the song among the choices
  offered, as the bot then asks the person to pick);
- the same top-1 for a full rapidfuzz WRatio scan over every title on a subsample of the
  same queries (ties to the most listened), and its latency;
- autocomplete latency over every other prefix length of some titles;
- build time, resident memory (psutil RSS delta; tracemalloc with ``--memory-trace``),
  and the index saved beside a dataset: save and load time, size, memory once loaded.

    .venv/bin/python -m bench.resolver_bench --titles 1000000 --queries 2400 --scan-queries 100
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from recommender.search.cache import CACHE_DIR, cache_key
from recommender.search.resolver import TitleResolver
from recommender.text import fold, parse_title

# -- catalog generation ------------------------------------------------------------------------

# The head of the vocabulary: words songs really use, most frequent first.
COMMON_WORDS = """
love you me i baby heart night time girl know don't it's
like one way life down go home world man say little away i'm come can't
dream tonight feel day good back make got song blue again day rain light fire sun eyes
bad want need stay run free last dance forever never get can't gone better take cry kiss
hold money alone lonely christmas sweet summer river road wild crazy angel new old blues
rock roll midnight morning moon star stars sky red black white gold dead walk talk lost
boy boys girls city street soul music party dancin' paradise heaven hell devil jesus lord
""".split()
ONSETS = [
    "",
    "b",
    "br",
    "c",
    "ch",
    "d",
    "dr",
    "f",
    "fl",
    "g",
    "gr",
    "h",
    "j",
    "k",
    "l",
    "m",
    "n",
    "p",
    "pr",
    "r",
    "s",
    "sh",
    "sl",
    "st",
    "t",
    "tr",
    "v",
    "w",
    "z",
    "th",
    "bl",
    "cr",
    "kl",
    "sp",
]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "ie", "oo", "y"]
CODAS = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "ng", "ck", "st", "x", "rt", "ll"]
# Joining words put between content words ("Heart of Gold", "Dancing in the Dark").
CONNECTORS = ["of", "in the", "and", "to", "on", "for", "with", "in", "of the", "my", "your", "a", "on the"]
ACCENTED = {"e": "é", "a": "á", "o": "ö", "u": "ü", "n": "ñ", "i": "í", "c": "ç"}
VERSION_SUFFIXES = [
    " (Live)",
    " (Remastered 2009)",
    " - Live at Wembley",
    " [Radio Edit]",
    " (Acoustic Version)",
    " (Remix)",
    " (Album Version)",
    " - Remastered",
    " (Demo)",
    " (Live at the BBC)",
]
KEYBOARD = "qwertyuiop asdfghjkl zxcvbnm"


def _neighbours() -> dict[str, str]:
    rows = KEYBOARD.split()
    near: dict[str, str] = {}
    for r, row in enumerate(rows):
        for c, ch in enumerate(row):
            around = [row[c - 1] if c else "", row[c + 1] if c + 1 < len(row) else ""]
            for other in (r - 1, r + 1):
                if 0 <= other < len(rows):
                    around += [rows[other][k] for k in (c - 1, c, c + 1) if 0 <= k < len(rows[other])]
            near[ch] = "".join(around)
    return near


NEAR_KEYS = _neighbours()


def _make_words(rng: np.random.Generator, count: int, syllables=(1, 4)) -> list[str]:
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < count:
        parts = rng.integers(syllables[0], syllables[1], size=512)
        onset = rng.integers(0, len(ONSETS), size=(512, 4))
        vowel = rng.integers(0, len(VOWELS), size=(512, 4))
        coda = rng.integers(0, len(CODAS), size=(512, 4))
        for k in range(512):
            word = "".join(ONSETS[onset[k, j]] + VOWELS[vowel[k, j]] + CODAS[coda[k, j]] for j in range(parts[k]))
            if 2 <= len(word) <= 12 and word not in seen:
                seen.add(word)
                words.append(word)
    return words[:count]


def _zipf_weights(n: int, exponent: float = 1.0, offset: float = 2.7) -> np.ndarray:
    weights = 1.0 / (np.arange(n) + offset) ** exponent
    return weights / weights.sum()


class _Draws:
    """Random numbers drawn from numpy in blocks: one Python call per draw, not one numpy call."""

    BLOCK = 1 << 16

    def __init__(self, rng: np.random.Generator, zipf_size: int):
        self.rng = rng
        self.cdf = np.cumsum(_zipf_weights(zipf_size))
        self._uniform: list[float] = []
        self._zipf: list[int] = []
        self._normal: list[float] = []

    def random(self) -> float:
        if not self._uniform:
            self._uniform = self.rng.random(self.BLOCK).tolist()
        return self._uniform.pop()

    def integer(self, n: int) -> int:
        return min(n - 1, int(self.random() * n))

    def zipf(self) -> int:
        if not self._zipf:
            self._zipf = np.minimum(np.searchsorted(self.cdf, self.rng.random(self.BLOCK)), len(self.cdf) - 1).tolist()
        return self._zipf.pop()

    def lognormal(self, sigma: float) -> float:
        if not self._normal:
            self._normal = self.rng.standard_normal(self.BLOCK).tolist()
        return math.exp(sigma * self._normal.pop())

    def pick(self, options: Sequence):
        return options[self.integer(len(options))]

    def poisson(self, mean: float) -> int:
        # Knuth's method; the means here are below 1.
        limit, count, product = math.exp(-mean), 0, self.random()
        while product > limit:
            count += 1
            product *= self.random()
        return count


def _accent(word: str, draws: _Draws) -> str:
    spots = [i for i, ch in enumerate(word) if ch in ACCENTED]
    if not spots:
        return word
    i = draws.pick(spots)
    return word[:i] + ACCENTED[word[i]] + word[i + 1 :]


def _title_case(words: list[str]) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in words)


@dataclass
class Catalog:
    items: pd.DataFrame  # item_id, title, artist, song (the generated song id: ground truth)
    listeners: np.ndarray
    n_songs: int


def generate_catalog(n_titles: int, seed: int) -> Catalog:
    """A deterministic MSD-shaped catalog of ``n_titles`` tracks."""
    rng = np.random.default_rng(seed)
    vocabulary = COMMON_WORDS + _make_words(rng, max(2000, min(40_000, n_titles // 25)))
    name_words = _make_words(np.random.default_rng(seed + 1), max(1000, min(30_000, n_titles // 30)), (1, 3))

    draws = _Draws(rng, len(vocabulary))

    # Artists: names, popularity, and a heavy-tailed number of tracks (MSD: ~22 per artist).
    n_artists = max(10, n_titles // 22)
    artist_names: list[str] = []
    seen_names: set[str] = set()
    shapes = rng.random(n_artists * 2)
    picks = rng.choice(len(name_words), size=(n_artists * 2, 3), p=_zipf_weights(len(name_words), 0.8, 10))
    for k in range(n_artists * 2):
        words = [name_words[i] for i in picks[k][: 1 + int(shapes[k] * 2.6)]]
        if draws.random() < 0.05:
            words = [_accent(w, draws) for w in words]
        name = _title_case(words)
        if shapes[k] < 0.12:
            name = "The " + name
        elif shapes[k] > 0.97 and len(words) >= 2:
            name = f"{words[0].title()} & {words[1].title()}"
        elif 0.5 < shapes[k] < 0.52:
            name = "DJ " + name
        if fold(name) not in seen_names:
            seen_names.add(fold(name))
            artist_names.append(name)
        if len(artist_names) == n_artists:
            break
    n_artists = len(artist_names)
    tracks = np.minimum(1500, np.maximum(1, np.round(rng.pareto(1.3, n_artists) * 9 + 1))).astype(np.int64)
    tracks = np.maximum(1, np.round(tracks * n_titles / tracks.sum())).astype(np.int64)
    artist_popularity = rng.lognormal(0.0, 1.6, n_artists)
    length_cdf = np.cumsum([0.16, 0.27, 0.24, 0.16, 0.09, 0.05, 0.03])

    titles: list[str] = []
    artists: list[str] = []
    songs: list[int] = []
    raw_listeners: list[float] = []
    song_count = 0
    covers: list[tuple[str, float]] = []  # (title, original listeners) to cover later
    for a in range(n_artists):
        artist = artist_names[a]
        used: set[str] = set()
        remaining = int(tracks[a])
        rank = 0
        while remaining > 0:
            length = 1 + int(np.searchsorted(length_cdf, draws.random() * length_cdf[-1]))
            words = list(dict.fromkeys(vocabulary[draws.zipf()] for _ in range(length)))
            if len(words) >= 2 and draws.random() < 0.3:
                words.insert(1 + draws.integer(len(words) - 1), draws.pick(CONNECTORS))
            if draws.random() < 0.04:
                words = [_accent(w, draws) if draws.random() < 0.5 else w for w in words]
            title = _title_case(words)
            roll = draws.random()
            if roll < 0.07:
                title = "The " + title
            elif roll < 0.11:
                title += draws.pick(["!", "?", "...", "!!"])
            if draws.random() < 0.04:
                title += f" (feat. {artist_names[draws.integer(n_artists)]})"
            core = parse_title(title).core
            if not core or core in used:
                continue
            used.add(core)
            rank += 1
            song_listeners = artist_popularity[a] * draws.lognormal(1.0) * 60.0 / rank**0.6
            versions = min(remaining, 1 + draws.poisson(0.45))
            for v in range(versions):
                if v == 0:
                    version_title, share = title, 1.0
                elif draws.random() < 0.45:
                    version_title, share = title, 0.02 + 0.28 * draws.random()  # the same title on a compilation
                else:
                    version_title, share = title + draws.pick(VERSION_SUFFIXES), 0.15 * draws.random()
                titles.append(version_title)
                artists.append(artist)
                songs.append(song_count)
                raw_listeners.append(song_listeners * share)
            remaining -= versions
            if draws.random() < 0.03:
                covers.append((title, song_listeners))
            song_count += 1
    # Covers: the same title by another artist, far fewer listeners.
    for title, original in covers:
        for _ in range(1 + draws.poisson(0.6)):
            titles.append(title)
            artists.append(artist_names[draws.integer(n_artists)])
            songs.append(song_count)
            raw_listeners.append(original * 0.05 * draws.random())
            song_count += 1
    listeners = np.asarray(raw_listeners)
    # About 38 % of MSD tracks have listeners: the rest of the long tail gets none.
    listeners = np.where(listeners >= np.quantile(listeners, 0.62), np.ceil(listeners), 0).astype(np.int64)
    order = rng.permutation(len(titles))[:n_titles]
    ids = rng.integers(0, 2**63, size=len(order), dtype=np.int64)
    items = pd.DataFrame(
        {
            "item_id": [f"SO{int(x):016X}" for x in ids],
            "title": [titles[i] for i in order],
            "artist": [artists[i] for i in order],
            "song": np.asarray(songs, dtype=np.int64)[order],
        }
    )
    return Catalog(items=items, listeners=listeners[order], n_songs=song_count)


# -- query generation --------------------------------------------------------------------------

KINDS = [
    "exact",
    "case",
    "punctuation",
    "drop_the",
    "typo1",
    "typo2",
    "swap",
    "artist",
    "feat_added",
    "feat_removed",
    "partial",
    "combined",
]
# A partial title is for latency and autocomplete: "Night" for "Night Moves" has no one answer.
ACCURACY_KINDS = [kind for kind in KINDS if kind != "partial"]


def _typo(text: str, rng: np.random.Generator) -> str:
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    if len(letters) < 3:
        return text
    i = letters[int(rng.integers(len(letters)))]
    kind = rng.integers(4)
    ch = text[i].lower()
    if kind == 0 and NEAR_KEYS.get(ch):  # neighbour key
        near = NEAR_KEYS[ch]
        return text[:i] + near[int(rng.integers(len(near)))] + text[i + 1 :]
    if kind == 1:  # dropped letter
        return text[:i] + text[i + 1 :]
    if kind == 2:  # doubled or extra letter
        extra = NEAR_KEYS.get(ch, ch) or ch
        return text[:i] + extra[int(rng.integers(len(extra)))] + text[i:]
    if i + 1 < len(text) and text[i + 1].isalpha():  # swapped letters
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + text[i + 1 :]


def _strip_version(title: str) -> str:
    """What a person would type for a song: the title without "(Live)" or "- Remastered"."""
    parts = parse_title(title)
    if not parts.is_version:
        return title
    for suffix in VERSION_SUFFIXES:
        if title.endswith(suffix):
            return title[: -len(suffix)]
    return title


def _feat_removed(title: str) -> str:
    cut = title.find(" (feat. ")
    return title[:cut] if cut >= 0 else title


# Targets tried for one query before its kind is taken as impossible for this catalog.
MAX_TRIES = 500


def make_queries(
    catalog: Catalog,
    resolver: TitleResolver | None,
    n_queries: int,
    seed: int,
    weighting: str = "listeners",
    kinds: Sequence[str] = KINDS,
) -> list[dict]:
    """Queries made from catalog songs, each with one kind of damage and its target song.

    Targets are drawn in proportion to listeners (people ask for what they play), or with
    ``weighting="sqrt"`` to the square root, which asks more often for the long tail. A kind
    the catalog cannot give (no "(feat. ...)" titles to remove it from, no title long enough
    for two typos) is left out after MAX_TRIES targets, so the list may be shorter.
    """
    rng = np.random.default_rng(seed + 7)
    items, listeners = catalog.items, catalog.listeners
    # One target per song: its most listened version (what people know and type).
    order = np.lexsort((-listeners, items["song"].to_numpy()))
    song_of = items["song"].to_numpy()[order]
    first = order[np.r_[True, song_of[1:] != song_of[:-1]]]
    first = first[listeners[first] > 0]
    weights = listeners[first].astype(np.float64)
    if weighting == "sqrt":
        weights = np.sqrt(weights)
    elif weighting != "listeners":
        raise ValueError(f"unknown weighting {weighting!r}")
    targets = rng.choice(first, size=n_queries * 3, p=weights / weights.sum())
    titles, artists = items["title"].to_numpy(), items["artist"].to_numpy()
    feat_items = np.flatnonzero(items["title"].str.contains(" (feat. ", regex=False).to_numpy() & (listeners > 0))
    queries: list[dict] = []
    kinds = [kinds[k % len(kinds)] for k in range(n_queries)]
    impossible: set[str] = set()
    t = 0
    for kind in kinds:
        if kind in impossible:
            continue
        for _ in range(MAX_TRIES):
            if kind == "feat_removed":
                item = (
                    int(feat_items[int(rng.integers(len(feat_items)))])
                    if len(feat_items)
                    else int(targets[t % len(targets)])
                )
            else:
                item = int(targets[t % len(targets)])
            t += 1
            base = _strip_version(str(titles[item]))
            artist = str(artists[item])
            words = _feat_removed(base).split()
            query: str | None = None
            if kind == "exact":
                query = base
            elif kind == "case":
                query = (
                    base.lower()
                    if rng.random() < 0.5
                    else (
                        base.upper()
                        if rng.random() < 0.4
                        else "".join(ch.upper() if rng.random() < 0.3 else ch.lower() for ch in base)
                    )
                )
            elif kind == "punctuation":
                query = "".join(ch for ch in base if ch.isalnum() or ch == " ")
                if query == base:
                    query = base + rng.choice(["!", "?", "...", "."])
            elif kind == "drop_the":
                query = base[4:] if base.lower().startswith("the ") else "the " + base
            elif kind == "typo1" and len(base) >= 4:
                query = _typo(base.lower(), rng)
            elif kind == "typo2" and len(base) >= 10:  # two slips in a short title is another title
                query = _typo(_typo(base.lower(), rng), rng)
            elif kind == "swap" and len(words) >= 2:
                i = int(rng.integers(len(words) - 1))
                words[i], words[i + 1] = words[i + 1], words[i]
                query = " ".join(words)
            elif kind == "artist":
                form = int(rng.integers(4))
                core = _feat_removed(base)
                query = [
                    f"{artist} - {core}",
                    f"{core} {artist}".lower(),
                    f"{core} by {artist}",
                    f"{artist} {core}".lower(),
                ][form]
            elif kind == "feat_added" and " (feat. " not in base:
                other = str(artists[int(rng.integers(len(artists)))])
                query = f"{base} (feat. {other})" if rng.random() < 0.5 else f"{base} ft. {other}"
            elif kind == "feat_removed" and " (feat. " in base:
                query = _feat_removed(base)
            elif kind == "partial":
                core = _feat_removed(base)
                if len(core) >= 8:
                    query = core[: max(5, int(len(core) * rng.uniform(0.6, 0.9)))]
            elif kind == "combined":
                query = f"{_typo(_feat_removed(base).lower(), rng)} {artist.lower()}"
            if query is not None:
                break
        else:
            impossible.add(kind)
            continue
        queries.append(
            {
                "kind": kind,
                "query": query,
                "target": item,
                "song": int(catalog.items["song"].iat[item]),
                "artist_in_query": kind in ("artist", "combined"),
            }
        )
    return queries


def _is_ambiguous(query: dict, resolver: TitleResolver, catalog: Catalog) -> bool:
    """True when another song with the same normalized title has more listeners and the
    query does not name the artist: no title matcher can know which one was meant."""
    if query["artist_in_query"]:
        return False
    target = query["target"]
    core = resolver.item_core[target]
    rows = resolver.title_items[resolver.title_indptr[core] : resolver.title_indptr[core + 1]]
    songs = catalog.items["song"].to_numpy()[rows]
    return bool(np.any((songs != query["song"]) & (catalog.listeners[rows] > catalog.listeners[target])))


# -- measurements ------------------------------------------------------------------------------


def _percentiles(values: list[float], cpu: list[float] | None = None) -> dict:
    """Wall-clock p50/p95/max in ms; with ``cpu`` (thread CPU seconds) also its p50/p95, which
    other processes competing for the cores do not inflate."""
    array = np.asarray(values) * 1000.0
    figures = {
        "p50_ms": round(float(np.percentile(array, 50)), 3),
        "p95_ms": round(float(np.percentile(array, 95)), 3),
        "max_ms": round(float(array.max()), 3),
        "n": len(values),
    }
    if cpu:
        cpu_ms = np.asarray(cpu) * 1000.0
        figures.update(
            cpu_p50_ms=round(float(np.percentile(cpu_ms, 50)), 3), cpu_p95_ms=round(float(np.percentile(cpu_ms, 95)), 3)
        )
    return figures


def _rss() -> int:
    import psutil

    return psutil.Process(os.getpid()).memory_info().rss


def _ranking_only(resolver: TitleResolver, query: str, limit: int = 10) -> list:
    """What resolve() did before it judged its confidence: the ranking and the candidates."""
    _, _, ranked, _ = resolver._ranked(query)
    keep = ranked[:limit]
    return resolver.candidates([item for _, _, item in keep], [score for _, score, _ in keep])


def _scan_top1(query: str, processed: list[str], listeners: np.ndarray) -> int:
    """The original approach done well: WRatio against every title, ties to the most listened."""
    from rapidfuzz import fuzz, process, utils

    scores = process.cdist(
        [utils.default_process(query)], processed, scorer=fuzz.WRatio, processor=None, workers=-1, dtype=np.uint8
    )[0]
    best = np.flatnonzero(scores == scores.max())
    return int(best[np.argmax(listeners[best])])


def run(
    n_titles: int,
    n_queries: int,
    seed: int,
    scan_queries: int = 100,
    memory_trace: bool = False,
    weighting: str = "listeners",
) -> dict:
    """Generate, build, replay; return the figures (JSON-ready)."""
    started = time.perf_counter()
    catalog = generate_catalog(n_titles, seed)
    generated_s = time.perf_counter() - started
    dataset = SimpleNamespace(items=catalog.items[["item_id", "title", "artist"]], listeners=catalog.listeners)
    resolver, build = build_index(dataset, memory_trace)
    saved_index = saved_index_figures(resolver, dataset, catalog, f"bench-{n_titles}-{seed}", seed)

    queries = make_queries(catalog, resolver, n_queries, seed, weighting)
    for q in queries[:50]:  # warm-up
        resolver.resolve(q["query"])
    replayed = replay(resolver, catalog, queries)
    rule_cost = confidence_rule_cost(resolver, queries)
    complete = autocomplete_figures(resolver, catalog, queries, n_queries, seed)
    scan = scan_baseline(resolver, catalog, queries, replayed.top1, scan_queries, seed) if scan_queries else {}
    confidence = confidence_figures(replayed, catalog, n_queries, seed)
    return {
        "machine": {"cpus": os.cpu_count(), "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "titles": len(catalog.items),
        "songs": catalog.n_songs,
        "artists": int(catalog.items["artist"].nunique()),
        "items_with_listeners": int(np.count_nonzero(catalog.listeners)),
        "unique_title_strings": len(resolver.title_index),
        "generate_s": round(generated_s, 2),
        "build_s": build["build_s"],
        "rss_delta_mb": build["rss_delta_mb"],
        "saved_index": saved_index,
        "tracemalloc_mb": build["tracemalloc_mb"],
        "tracemalloc_peak_mb": build["tracemalloc_peak_mb"],
        "queries": len(queries),
        "target_weighting": weighting,
        "resolve": replayed.overall(),
        "resolve_by_kind": replayed.per_kind(),
        "complete": complete,
        "scan_baseline": scan,
        "confidence": {**confidence, "rule_cost": rule_cost},
    }


def build_index(dataset: SimpleNamespace, memory_trace: bool) -> tuple[TitleResolver, dict]:
    """The resolver built over the catalog: how long it took and the memory it added
    (and, with ``memory_trace``, what tracemalloc sees in a second build)."""
    gc.collect()
    rss_before = _rss()
    started = time.perf_counter()
    resolver = TitleResolver.build(dataset)
    build_s = time.perf_counter() - started
    gc.collect()
    rss_delta = _rss() - rss_before
    traced_peak = traced_current = None
    if memory_trace:
        import tracemalloc

        tracemalloc.start()
        traced = TitleResolver.build(dataset)
        traced_current, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del traced
        gc.collect()
    return resolver, {
        "build_s": round(build_s, 2),
        "rss_delta_mb": round(rss_delta / 2**20, 1),
        "tracemalloc_mb": None if traced_current is None else round(traced_current / 2**20, 1),
        "tracemalloc_peak_mb": None if traced_peak is None else round(traced_peak / 2**20, 1),
    }


def saved_index_figures(
    resolver: TitleResolver, dataset: SimpleNamespace, catalog: Catalog, fingerprint: str, seed: int
) -> dict:
    """The index saved beside a dataset folder, as the bot and the CLI use it: save, then load."""
    cache: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        beside = SimpleNamespace(
            items=dataset.items, listeners=dataset.listeners, path=folder, manifest={"fingerprint": fingerprint}
        )
        started = time.perf_counter()
        resolver._save(Path(folder) / CACHE_DIR, cache_key(beside, resolver.titles, resolver.artists))
        cache["save_s"] = round(time.perf_counter() - started, 2)
        cache["size_mb"] = round(sum(p.stat().st_size for p in (Path(folder) / CACHE_DIR).iterdir()) / 2**20, 1)
        gc.collect()
        rss_before = _rss()
        started = time.perf_counter()
        loaded = TitleResolver.build(beside)
        cache["load_s"] = round(time.perf_counter() - started, 3)
        cache["rss_delta_mb"] = round((_rss() - rss_before) / 2**20, 1)
        cache["same_answers"] = all(
            loaded.resolve(t) == resolver.resolve(t) for t in catalog.items["title"].iloc[:200].tolist()
        )
        # Memory-mapped pages count once touched: resident memory after a working set of queries.
        for title in catalog.items["title"].sample(n=min(2000, len(catalog.items)), random_state=seed).tolist():
            loaded.resolve(title)
            loaded.complete(title[:5])
        cache["rss_delta_after_2000_queries_mb"] = round((_rss() - rss_before) / 2**20, 1)
        del loaded
    return cache


@dataclass
class Replay:
    """Each query resolved once, by kind of damage: time, and whether the answer was the song."""

    latency: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    cpu: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    correct: dict[str, list[bool]] = field(default_factory=lambda: {k: [] for k in KINDS})
    ambiguous: dict[str, list[bool]] = field(default_factory=lambda: {k: [] for k in KINDS})
    shown: dict[str, list[bool]] = field(default_factory=lambda: {k: [] for k in KINDS})
    # Right at the top, or not confident with the right song among the choices offered (the
    # bot then asks the person to pick): what a person experiences.
    answered: dict[str, list[bool]] = field(default_factory=lambda: {k: [] for k in KINDS})
    confident: dict[str, list[bool]] = field(default_factory=lambda: {k: [] for k in KINDS})
    top1: list[int] = field(default_factory=list)  # each query's top item index (-1: none)

    def overall(self) -> dict:
        all_latency = [x for v in self.latency.values() for x in v]
        all_cpu = [x for v in self.cpu.values() for x in v]
        all_correct = [x for k in ACCURACY_KINDS for x in self.correct[k]]
        all_ambiguous = [x for k in ACCURACY_KINDS for x in self.ambiguous[k]]
        unambiguous = [c for c, a in zip(all_correct, all_ambiguous) if not a]
        return {
            **_percentiles(all_latency, all_cpu),
            "accuracy_kinds": ACCURACY_KINDS,
            "top1": round(float(np.mean(all_correct)), 4),
            "top1_unambiguous": round(float(np.mean(unambiguous)), 4),
            "top1_or_offered": round(float(np.mean([x for k in ACCURACY_KINDS for x in self.answered[k]])), 4),
            "ambiguous_share": round(float(np.mean(all_ambiguous)), 4),
        }

    def per_kind(self) -> dict:
        return {
            kind: {
                **_percentiles(self.latency[kind], self.cpu[kind]),
                "top1": round(float(np.mean(self.correct[kind])), 4),
                "top1_unambiguous": round(
                    float(np.mean([c for c, a in zip(self.correct[kind], self.ambiguous[kind]) if not a] or [0])), 4
                ),
                "in_candidates": round(float(np.mean(self.shown[kind])), 4),
                "top1_or_offered": round(float(np.mean(self.answered[kind])), 4),
            }
            for kind in KINDS
            if self.latency[kind]
        }


def replay(resolver: TitleResolver, catalog: Catalog, queries: list[dict]) -> Replay:
    """Every query resolved and timed (wall clock and thread CPU), each answer judged."""
    songs = catalog.items["song"].to_numpy()
    replayed = Replay()
    for q in queries:
        kind = q["kind"]
        t0, c0 = time.perf_counter(), time.thread_time()
        resolution = resolver.resolve(q["query"])
        replayed.latency[kind].append(time.perf_counter() - t0)
        replayed.cpu[kind].append(time.thread_time() - c0)
        best = resolution.best.item_index if resolution.best else -1
        replayed.top1.append(best)
        replayed.correct[kind].append(best >= 0 and songs[best] == q["song"])
        replayed.shown[kind].append(any(songs[c.item_index] == q["song"] for c in resolution.candidates))
        replayed.answered[kind].append(
            replayed.correct[kind][-1] or (not resolution.confident and replayed.shown[kind][-1])
        )
        replayed.confident[kind].append(resolution.confident)
        replayed.ambiguous[kind].append(_is_ambiguous(q, resolver, catalog))
    return replayed


def confidence_rule_cost(resolver: TitleResolver, queries: list[dict]) -> dict:
    """What deciding "sure or not" costs (evidence, artist names): resolve() against the same
    ranking and candidates without it, the two timed in turn on the same queries."""
    with_rule, ranking_only = [], []
    for q in queries[: min(len(queries), 2000)]:
        c0 = time.thread_time()
        resolver.resolve(q["query"])
        c1 = time.thread_time()
        _ranking_only(resolver, q["query"])
        with_rule.append(c1 - c0)
        ranking_only.append(time.thread_time() - c1)
    return {
        "resolve_cpu_p50_ms": round(float(np.median(with_rule)) * 1000, 3),
        "ranking_only_cpu_p50_ms": round(float(np.median(ranking_only)) * 1000, 3),
        "ratio_p50": round(float(np.median(with_rule) / max(np.median(ranking_only), 1e-9)), 3),
        "n": len(with_rule),
    }


def autocomplete_figures(
    resolver: TitleResolver, catalog: Catalog, queries: list[dict], n_queries: int, seed: int
) -> dict:
    """Autocomplete: every other prefix length of some titles, as Discord sends them while typing."""
    songs = catalog.items["song"].to_numpy()
    rng = np.random.default_rng(seed + 11)
    latency: list[float] = []
    cpu: list[float] = []
    hits: list[bool] = []
    index_of_id = {item_id: i for i, item_id in enumerate(catalog.items["item_id"].tolist())}
    for q in rng.choice(len(queries), size=min(len(queries), max(20, n_queries // 10)), replace=False).tolist():
        title = _strip_version(str(catalog.items["title"].iat[queries[q]["target"]]))
        for cut in range(1, len(title) + 1, 2):
            t0, c0 = time.perf_counter(), time.thread_time()
            choices = resolver.complete(title[:cut])
            latency.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
            if cut >= min(len(title), 12):
                hits.append(any(songs[index_of_id[c[1]]] == queries[q]["song"] for c in choices))
    return {**_percentiles(latency, cpu), "target_in_choices_from_12_chars": round(float(np.mean(hits or [0])), 4)}


def scan_baseline(
    resolver: TitleResolver, catalog: Catalog, queries: list[dict], top1: list[int], scan_queries: int, seed: int
) -> dict:
    """The full-scan baseline on a subsample: same queries, same success test."""
    from rapidfuzz import utils

    songs = catalog.items["song"].to_numpy()
    processed = [utils.default_process(t) for t in catalog.items["title"].tolist()]
    eligible = [i for i, q in enumerate(queries) if q["kind"] in ACCURACY_KINDS]
    picks = np.random.default_rng(seed + 3).choice(eligible, size=min(scan_queries, len(eligible)), replace=False)
    scan_correct, ours_correct, scan_time, determinable = [], [], [], []
    for i in picks.tolist():
        t0 = time.perf_counter()
        best = _scan_top1(queries[i]["query"], processed, catalog.listeners)
        scan_time.append(time.perf_counter() - t0)
        scan_correct.append(songs[best] == queries[i]["song"])
        ours_correct.append(top1[i] >= 0 and songs[top1[i]] == queries[i]["song"])
        determinable.append(not _is_ambiguous(queries[i], resolver, catalog))
    kept = np.array(determinable, dtype=bool)
    return {
        "queries": len(picks),
        "scan_top1": round(float(np.mean(scan_correct)), 4),
        "resolver_top1_same_queries": round(float(np.mean(ours_correct)), 4),
        # The same comparison on the picks whose song the text determines.
        "determinable_queries": int(kept.sum()),
        "scan_top1_determinable": round(float(np.mean(np.array(scan_correct)[kept])), 4) if kept.any() else None,
        "resolver_top1_determinable": round(float(np.mean(np.array(ours_correct)[kept])), 4) if kept.any() else None,
        "scan_latency": _percentiles(scan_time),
        "resolver_wins": int(np.sum(np.array(ours_correct) & ~np.array(scan_correct))),
        "scan_wins": int(np.sum(~np.array(ours_correct) & np.array(scan_correct))),
    }


def confidence_figures(replayed: Replay, catalog: Catalog, n_queries: int, seed: int) -> dict:
    """When it answers without asking: of those answers, the share right; and titles held out
    of a second index (bench/resolver_confidence.py), typed the same ways, answered so."""
    from bench.resolver_confidence import held_out_outcomes, rates

    sure = [(c, r) for k in ACCURACY_KINDS for c, r in zip(replayed.confident[k], replayed.correct[k])]
    started = time.perf_counter()
    held_out = rates(held_out_outcomes(catalog, n_queries, seed))
    return {
        "confident_share": round(float(np.mean([c for c, _ in sure])), 4),
        "confident_right": round(float(np.mean([r for c, r in sure if c] or [0])), 4),
        "held_out_queries": held_out["held_out_queries"],
        "held_out_confident": held_out["held_out_confident"],
        "held_out_s": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--titles", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--scan-queries", type=int, default=100, help="queries also run through a full WRatio scan")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory-trace", action="store_true", help="also build once under tracemalloc")
    parser.add_argument(
        "--weighting",
        choices=["listeners", "sqrt"],
        default="listeners",
        help="draw query targets by listeners, or by their square root (more long tail)",
    )
    args = parser.parse_args(argv)
    result = run(
        args.titles,
        args.queries,
        args.seed,
        scan_queries=args.scan_queries,
        memory_trace=args.memory_trace,
        weighting=args.weighting,
    )
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
