"""TitleResolver: find the song a person means, in a catalog of a million titles.

People type "hey ya", "Hey Ya!", "hye ya", "heya outkast", "Crazy in Love (feat. Jay-Z)",
"Beyonce - Halo". Every title and query goes through :mod:`recommender.text`, so case,
accents, punctuation, a leading "the" and version extras stop mattering. A query then
costs a few hundred string comparisons, never a scan of the catalog:

1. candidate generation, over unique normalized titles (:class:`_StringIndex`):
   an exact look-up and a prefix range (both by bisection of a sorted list), and a
   character-trigram inverted index (numpy CSR: trigram -> title ids, ids ordered by title
   length, so "about this long" is one id range) that counts, within a bounded budget of
   postings, which titles share the query's rarest trigrams (partial queries and queries
   with extra words get a smaller pool of much longer or shorter titles);
2. rescoring of those candidates with rapidfuzz (:func:`match_scores`: OSA edit similarity,
   sorted words, prefix and containment, through ``process.cdist`` with ``processor=None``
   on the pre-normalized strings), blended with artist agreement when
   an artist was given or found inside the query ("OutKast - Hey Ya", "hey ya outkast");
3. versions of one song (same core title, same primary artist) collapse to one candidate,
   shown as its most listened version, and equal matches are ordered by listeners, so
   the original beats a cover few people played.

``confident`` (:class:`ConfidenceRule`) is True only when the best match is within the
typing slips its title's length allows ("let it go" is two slips from "let it be": too many
for nine letters) and no other song is as close; otherwise the candidates are a "did you
mean ...?" list (``close_call`` when they match about equally well, as several songs called
"Hello" do), or empty when nothing matched. A query that names an artist alone ("Adele",
"the beatles") comes back with ``kind`` "artist" and the artist's most listened songs. The
rule is calibrated on damaged catalog titles and on titles held out of the index
(``bench/resolver_confidence.py``).

The index is built once per dataset (about 10 s for a million titles) and saved beside it
as plain arrays (``resolver-index/``: .npy files and Arrow string tables, no pickle),
which later starts load, memory-mapped, in a fraction of a second.
"""

from __future__ import annotations

import bisect
import ctypes
import ctypes.util
import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from recommender.atomic import atomic_directory
from recommender.dataset import arrow_strings
from recommender.results import Candidate, Resolution
from recommender.text import (
    MAX_CATALOG_CHARS,
    MAX_QUERY_CHARS,
    TitleParts,
    clean,
    dash_parts,
    drop_leading_the,
    fold,
    parse_artist,
    parse_title,
    primary_artist_display,
)

log = logging.getLogger(__name__)

# The saved index: a folder inside the dataset folder, rebuilt when its key changes.
CACHE_DIR = "resolver-index"
CACHE_FORMAT = 1

# -- ranking knobs ---------------------------------------------------------------------------
# Below this match score (0-100) a title is not offered as a match at all.
MIN_SCORE = 60.0
# -- when a match is taken without asking (calibrated: bench/resolver_confidence.py) -----------
# The best match is taken without asking only when all of these hold; otherwise the person is
# asked "did you mean ...?". Chosen on generated queries: damaged forms of catalog titles and
# titles held out of the index (see ConfidenceRule and the README's resolver table).
# The values are the first rule `python -m bench.resolver_confidence --titles 1000000
# --queries 4000 --calibrate` lists (README, "Finding the song you mean").
# Below this match score the best match is shown but not taken without asking.
MIN_CONFIDENT_SCORE = 70.0
# Typing slips (edits: a wrong, missing, extra or swapped letter; swapped words count one)
# forgiven between what was typed and the title: none in titles shorter than ONE_EDIT_FROM
# characters, one from there, two from TWO_EDITS_FROM characters on ("let it go" is two
# slips from the 9-letter "let it be", "stay" seven from "stayin alive": both are asked about).
ONE_EDIT_FROM = 3
TWO_EDITS_FROM = 10
# Ranking adds POPULARITY_WEIGHT points per tenfold listeners, so between equal matches the
# song more people played wins, and a one-character typo still loses to an exact title.
POPULARITY_WEIGHT = 2.0
# Candidates within this many ranking points of the best are "close": the person picks.
CLOSE_MARGIN = 2.0
# When an artist was given or found, the match is this share title, the rest artist.
ARTIST_SHARE = 0.2
# An artist found inside the query is a guess: it never quite beats an exact full title.
EMBEDDED_ARTIST_PENALTY = 1.0
# "Beyonce - Halo": the part before the dash alone is probably not the title.
DASH_CORE_PENALTY = 3.0
# "teh scientist": read as "the scientist" (whose "the" is dropped) at this cost.
MISTYPED_THE_PENALTY = 2.0
# "hey ya live": the title without the typed version words, scored this much less.
VERSION_TAIL_PENALTY = 2.0
TYPED_VERSION_WORDS = frozenset(
    "live remix acoustic remastered remaster demo instrumental edit version unplugged mix mono stereo".split()
)
# Candidates after the best whose typing slips are compared with the best's.
RIVALS = 4
# A given artist "agrees" with a song's credits from this similarity on.
ARTIST_AGREES = 80.0
# A featured artist in the query ("(feat. Jay-Z)") that the song credits adds this much.
FEATURED_BONUS = 3.0

# -- work bounds (each query costs at most about this much) ------------------------------------
MAX_RESULTS = 50  # candidates a resolve may return
MAX_CHOICES = 25  # Discord's limit on autocomplete choices and select options
MAX_LABEL = 100  # Discord's limit on a choice label
ITEMS_PER_TITLE = 25  # most listened items taken per matching title string
ITEMS_PER_ARTIST = 3000  # most listened items taken per matching artist
MAX_ARTIST_TOKENS = 4  # longest artist name looked for inside a query, in words
MAX_EMBEDDED = 4  # artist readings of one query ("<artist> <title>", "<title> <artist>")
MAX_FEATURED = 3  # featured artists of a query checked against credits
# A query word that ends artist names ("lennon") reads as the SURNAME_ARTISTS most listened
# of them, agreeing less than the full name would.
MIN_SURNAME_CHARS, SURNAME_ARTISTS, SURNAME_AGREEMENT = 4, 3, 90.0


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when something was cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…"


def make_label(title: str, artist: str, limit: int = MAX_LABEL) -> str:
    """ "Title — Artist" in at most ``limit`` characters; the artist keeps up to 40."""
    title, artist = " ".join(str(title).split()), " ".join(str(artist).split())
    label = f"{title} — {artist}"
    if len(label) <= limit:
        return label
    artist = shorten(artist, min(len(artist), 40))
    return f"{shorten(title, limit - len(artist) - 3)} — {artist}"


# -- match score --------------------------------------------------------------------------------
# Swapped words ("spirit teen smells like") score their sorted-word similarity less this.
SWAP_PENALTY = 4.0
# Compared without spaces, a match scores this much less than the same match with them.
SPACE_PENALTY = 3.0
# A title that starts with the query ("smells like te"): PREFIX_BASE + PREFIX_SPAN * share typed.
PREFIX_BASE, PREFIX_SPAN = 85.0, 10.0
# Whole words of one inside the other ("hey ya outkats" holds "hey ya"): CONTAINED_BASE +
# CONTAINED_SPAN * share of the longer string covered.
CONTAINED_BASE, CONTAINED_SPAN = 62.0, 25.0
MIN_AFFIX_CHARS = 4  # shorter queries are too common as prefixes to mean anything


def match_scores(query: str, strings: Sequence[str], partial: bool = False) -> np.ndarray:
    """0-100 similarity of a normalized query to each normalized string.

    The best of: edit similarity with transpositions (rapidfuzz OSA: "hye ya" is one edit
    from "hey ya"), the same on sorted words (swapped words), "starts with what was typed"
    and whole-word containment either way. Unlike WRatio it never gives a one-word title
    90 for appearing somewhere in a long query. ``partial`` (autocomplete) also forgives a
    typo in what was typed so far.
    """
    if not len(strings):
        return np.zeros(0, dtype=np.float64)
    scores = (
        process.cdist([query], strings, scorer=OSA.normalized_similarity, processor=None, dtype=np.float32)[0].astype(
            np.float64
        )
        * 100.0
    )
    if " " in query or any(" " in string for string in strings):
        # Missing or extra spaces ("heya" for "hey ya") cost less than wrong letters.
        despaced = (
            process.cdist(
                [query.replace(" ", "")],
                [string.replace(" ", "") for string in strings],
                scorer=OSA.normalized_similarity,
                processor=None,
                dtype=np.float32,
            )[0].astype(np.float64)
            * 100.0
            - SPACE_PENALTY
        )
        np.maximum(scores, despaced, out=scores)
    if " " in query:
        swapped = (
            process.cdist([query], strings, scorer=fuzz.token_sort_ratio, processor=None, dtype=np.float32)[0].astype(
                np.float64
            )
            - SWAP_PENALTY
        )
        np.maximum(scores, swapped, out=scores)
    if partial:
        # What was typed so far against each title's start, one character either way.
        for cut in (len(query) - 1, len(query), len(query) + 1):
            if cut >= MIN_AFFIX_CHARS:
                heads = [s[:cut] for s in strings]
                typed = (
                    process.cdist([query], heads, scorer=OSA.normalized_similarity, processor=None, dtype=np.float32)[
                        0
                    ].astype(np.float64)
                    * 100.0
                    - 2.0
                )
                np.maximum(scores, typed, out=scores)
    if partial or len(query) >= MIN_AFFIX_CHARS:
        spaced = f" {query} "
        affixes = len(query) >= MIN_AFFIX_CHARS
        for position, string in enumerate(strings):
            if string.startswith(query):
                # While typing, any title starting with what was typed is a full match.
                bonus = 100.0 if partial else PREFIX_BASE + PREFIX_SPAN * len(query) / len(string)
            elif affixes and len(string) >= MIN_AFFIX_CHARS and (f" {string} " in spaced or spaced in f" {string} "):
                longer = max(len(string), len(query))
                bonus = CONTAINED_BASE + CONTAINED_SPAN * min(len(string), len(query)) / longer
            else:
                continue
            if bonus > scores[position]:
                scores[position] = bonus
    return scores


def typed_edits(typed: str, title: str) -> int:
    """Typing slips between two normalized strings: optimal string alignment distance (a
    transposition is one slip) with spaces not counted ("heya" for "hey ya" is one slip), or
    one slip for putting the words in another order plus those left after sorting the words
    ("spirit teen smells like")."""
    edits = OSA.distance(typed, title)
    if edits and (" " in typed or " " in title):
        edits = min(edits, OSA.distance(typed.replace(" ", ""), title.replace(" ", "")))
        if edits > 1 and " " in typed and " " in title:
            edits = min(edits, 1 + OSA.distance(" ".join(sorted(typed.split())), " ".join(sorted(title.split()))))
    return edits


@dataclass(frozen=True)
class MatchEvidence:
    """How well the best candidate fits what was typed: what the confidence rule judges."""

    score: float  # its match score, 0-100
    margin: float  # ranking points ahead of the next candidate (inf when it is alone)
    edits: int  # typing slips between the typed title (best reading) and its title
    length: int  # characters of that (normalized) title
    artist_agreed: bool  # a typed artist matches its credits (True when none was typed)
    # The fewest slips of the next RIVALS candidates with another title ("hey yo": "Hey You"
    # and "Hey Ya!" are both one slip away); MAX_QUERY_CHARS when there is none.
    rival_edits: int = MAX_QUERY_CHARS


@dataclass(frozen=True)
class ConfidenceRule:
    """When the best candidate is taken without asking. The defaults are the module's knobs,
    calibrated by ``bench/resolver_confidence.py``; the bench sweeps other rules through this."""

    min_score: float = MIN_CONFIDENT_SCORE
    close_margin: float = CLOSE_MARGIN
    one_edit_from: int = ONE_EDIT_FROM
    two_edits_from: int = TWO_EDITS_FROM

    def allowed_edits(self, length: int) -> int:
        return 0 if length < self.one_edit_from else 1 if length < self.two_edits_from else 2

    def good_match(self, evidence: MatchEvidence) -> bool:
        """The best candidate itself is close enough to what was typed to be meant."""
        return (
            evidence.artist_agreed
            and evidence.score >= self.min_score
            and evidence.edits <= self.allowed_edits(evidence.length)
        )

    def confident(self, evidence: MatchEvidence | None) -> bool:
        """A good match that no other candidate comes close to: ahead by ``close_margin``
        ranking points and, when what was typed has slips, no other song as few slips away
        (between exact titles, the most listened wins by the margin)."""
        return (
            evidence is not None
            and self.good_match(evidence)
            and evidence.margin >= self.close_margin
            and not (evidence.edits and evidence.rival_edits <= evidence.edits)
        )


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting in place (numpy's hash-based unique is slower on big int arrays)."""
    values.sort()
    if not len(values):
        return values
    return values[np.r_[True, values[1:] != values[:-1]]]


def _unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values; for the small arrays of one query, sorting beats hashing."""
    values = np.sort(values)
    if len(values) < 2:
        return values
    return values[np.r_[True, values[1:] != values[:-1]]]


def _csr(keys: np.ndarray, values: np.ndarray, n_keys: int, order_within: np.ndarray | None = None):
    """Group ``values`` by ``keys`` into (indptr, values); ``order_within`` sorts each row
    (ascending), ties keep ``values`` order."""
    if order_within is None:
        order = np.argsort(keys, kind="stable")
    else:
        order = np.lexsort((values, order_within, keys))
    indptr = np.zeros(n_keys + 1, dtype=np.int32 if len(values) < 2**31 else np.int64)
    np.cumsum(np.bincount(keys, minlength=n_keys), out=indptr[1:])
    return indptr, values[order]


def _trigram_arrays(strings: list[str], lengths: np.ndarray) -> dict[str, np.ndarray]:
    """The trigram inverted index of ``strings`` (padded " s "), as plain arrays.

    Vectorized: all strings become one array of code points, each trigram one integer
    (three alphabet ranks), and a single sort of (trigram, id) keys yields the CSR rows,
    each sorted by id with duplicates gone.
    """
    n = len(strings)
    if n == 0:
        return {
            "alphabet": np.zeros(1, dtype=np.uint32),
            "gram_codes": np.zeros(0, dtype=np.int64),
            "indptr": np.zeros(1, dtype=np.int64),
            "postings": np.zeros(0, dtype=np.int32),
        }
    # "\0" ends each string (folded strings never contain it), so no trigram spans two
    # and "\0", the smallest code point, always gets alphabet rank 0.
    joined = "".join(f" {s} \0" for s in strings)
    points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    del joined
    present = np.flatnonzero(np.bincount(points)).astype(np.uint32)
    lookup = np.zeros(int(present[-1]) + 1, dtype=np.int32)
    lookup[present] = np.arange(len(present))  # "\0" gets rank 0
    codes = lookup[points]
    del points, lookup
    size = len(present)
    # Arrays here have one entry per character of the catalog (13 M for 1 M titles): keep
    # them narrow, update in place, and free each as soon as it is used.
    first, second, third = codes[:-2], codes[1:-1], codes[2:]
    valid = (first != 0) & (second != 0) & (third != 0)
    grams = first[valid].astype(np.int64)
    grams *= size
    grams += second[valid]
    grams *= size
    grams += third[valid]
    del codes, first, second, third
    owner = np.repeat(np.arange(n, dtype=np.int32), lengths.astype(np.int64) + 3)[:-2][valid]
    del valid
    if size**3 * n < 2**62:
        grams *= n
        grams += owner
        del owner
        keys = _sorted_unique(grams)  # sorted by (trigram, id), duplicates gone
        del grams
        posting = (keys % n).astype(np.int32)
        keys //= n  # now the trigram of each posting
        gram_of_key = keys
    else:  # huge alphabets (many scripts): rank the trigrams first
        gram_values, gram_rank = np.unique(grams, return_inverse=True)
        keys = _sorted_unique(gram_rank.astype(np.int64) * n + owner)
        posting = (keys % n).astype(np.int32)
        gram_of_key = gram_values[keys // n]
    starts = (
        np.flatnonzero(np.r_[True, gram_of_key[1:] != gram_of_key[:-1]]) if len(keys) else np.zeros(0, dtype=np.int64)
    )
    return {
        "alphabet": present,
        "gram_codes": gram_of_key[starts].astype(np.int64),
        "indptr": np.r_[starts, len(keys)].astype(np.int64),
        "postings": posting,
    }


def _cache_key(dataset, titles: pa.Array, artists: pa.Array) -> str:
    """What the saved index depends on: the dataset, its titles and artists, and this code
    (normalization and index layout), so any change to them rebuilds it."""
    digest = hashlib.blake2b(digest_size=16)
    manifest = getattr(dataset, "manifest", None) or {}
    digest.update(str(manifest.get("fingerprint")).encode())
    for column in (titles, artists):
        digest.update(f"{len(column)}:{column.offset}".encode())
        for buffer in column.buffers():
            if buffer is not None:
                digest.update(buffer)
    for module in (__file__, _text_module_file()):
        digest.update(Path(module).read_bytes())
    return digest.hexdigest()


def _text_module_file() -> str:
    from recommender import text

    return text.__file__


def _release_free_heap() -> None:
    """Hand the build's freed scratch memory back to the OS.

    The build's temporary arrays (tens of MB each) are freed into the C heap, which glibc
    keeps for reuse; on a 1 M-title catalog that is hundreds of MB of resident memory the
    bot would carry for nothing. ``malloc_trim`` returns it; elsewhere this does nothing.
    """
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _factorize(array: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(code of each row, distinct values)."""
    encoded = pc.dictionary_encode(array)
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary


def _iter_strings(array: pa.Array, block: int = 1 << 16) -> Iterator[str]:
    """The values as Python strings, a block at a time."""
    for start in range(0, len(array), block):
        yield from array.slice(start, block).to_pylist()


class _StringIndex:
    """Unique normalized strings with exact, prefix and trigram (typo-tolerant) look-ups.

    Ids are positions in ``strings``, which is ordered by (length, text), so "titles of
    about this length" is a contiguous id range and each trigram's posting list, sorted by
    id, can be cut to that range with a bisection.
    """

    # Postings read per query. The GUARANTEED rarest trigrams are always read: a title that
    # lost fewer of the query's trigrams than that (two typos cost up to six) contains one
    # of them, so it is always counted. Commoner trigrams (" lo", "ove": in 80,000 titles)
    # are added while the budget lasts, to rank what was found.
    GUARANTEED = 7
    MAX_GRAMS = 250
    WINDOW_BUDGET = 25_000
    OUTSIDE_ALWAYS = 2  # rarest trigrams read for much longer / shorter titles
    OUTSIDE_BUDGET = 8_000
    OUTSIDE_CAP = 50_000  # ... unless one alone is this big
    WINDOW_CANDIDATES = 100
    LONGER_CANDIDATES = 40
    SHORTER_CANDIDATES = 30

    # Arrays that make up an index, as saved in the resolver cache.
    ARRAYS = ("lengths", "popularity", "len_start", "alpha_ids", "alphabet", "gram_codes", "indptr", "postings")

    def __init__(self, strings: list[str], arrays: dict[str, np.ndarray]):
        """An index from its parts (see :meth:`build` and :meth:`arrays`)."""
        self.strings = strings
        self.lengths = arrays["lengths"]
        self.popularity = arrays["popularity"]
        self.len_start = arrays["len_start"]  # len_start[L] = first id whose string has length >= L
        self.alpha_ids = arrays["alpha_ids"]  # ids in alphabetical order, for exact and prefix look-ups
        self.alpha: list[str] = [strings[i] for i in self.alpha_ids.tolist()]
        self.alpha_popularity = self.popularity[self.alpha_ids]
        self.alphabet = arrays["alphabet"]  # code points of every character, "\0" first
        self.alphabet_size = max(1, len(self.alphabet))
        self.char_code = {chr(int(p)): i for i, p in enumerate(self.alphabet.tolist())}
        self.gram_codes = arrays["gram_codes"]  # sorted trigram codes; row r's postings are
        self.indptr = arrays["indptr"]  # postings[indptr[r]:indptr[r + 1]], sorted ids
        self.postings = arrays["postings"]
        self._scratch = threading.local()

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self.ARRAYS}

    @classmethod
    def build(cls, strings: Sequence[str], popularity: np.ndarray) -> tuple[_StringIndex, np.ndarray]:
        """Index distinct ``strings``; also returns the new id of each input position."""
        strings = list(strings)
        n = len(strings)
        lengths = np.fromiter((len(s) for s in strings), dtype=np.int64, count=n)
        # Order by (length, text). Arrow sorts UTF-8 bytes, which is code point order: the
        # order bisect sees in Python.
        text_rank = np.empty(n, dtype=np.int64)
        if n:
            text_rank[pc.array_sort_indices(pa.array(strings, type=pa.string())).to_numpy()] = np.arange(n)
        order = np.lexsort((text_rank, lengths))
        id_of_input = np.empty(n, dtype=np.int64)
        id_of_input[order] = np.arange(n)
        ordered = [strings[i] for i in order.tolist()]
        del strings
        lengths = lengths[order].astype(np.int32)
        max_len = int(lengths.max()) if n else 0
        arrays = {
            "lengths": lengths,
            "popularity": np.asarray(popularity, dtype=np.float32)[order],
            "len_start": np.searchsorted(lengths, np.arange(max_len + 2)).astype(np.int32),
            "alpha_ids": text_rank[order].argsort(kind="stable").astype(np.int32),
            **_trigram_arrays(ordered, lengths),
        }
        return cls(ordered, arrays), id_of_input

    # -- look-ups ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.strings)

    def find(self, text: str) -> int:
        """Id of exactly ``text``, or -1."""
        position = bisect.bisect_left(self.alpha, text)
        if position < len(self.alpha) and self.alpha[position] == text:
            return int(self.alpha_ids[position])
        return -1

    def prefixed(self, text: str, limit: int) -> np.ndarray:
        """Ids of the most popular strings that start with ``text`` (all strings for "")."""
        low = bisect.bisect_left(self.alpha, text)
        high = bisect.bisect_left(self.alpha, text + "\U0010ffff", lo=low)
        if high - low <= limit:
            picked = np.arange(low, high)
        else:
            picked = low + np.argpartition(-self.alpha_popularity[low:high], limit - 1)[:limit]
        picked = picked[np.argsort(-self.alpha_popularity[picked], kind="stable")]
        return self.alpha_ids[picked].astype(np.int64)

    def _query_rows(self, text: str) -> np.ndarray:
        """Posting rows of the trigrams of " text " that occur in the index."""
        padded = f" {text} "
        codes = [self.char_code.get(ch, -1) for ch in padded]
        size = self.alphabet_size
        known = {
            (codes[i] * size + codes[i + 1]) * size + codes[i + 2]
            for i in range(len(padded) - 2)
            if codes[i] > 0 and codes[i + 1] > 0 and codes[i + 2] > 0
        }
        if not known or not len(self.gram_codes):
            return np.zeros(0, dtype=np.int64)
        wanted = np.fromiter(known, dtype=np.int64, count=len(known))
        rows = np.searchsorted(self.gram_codes, wanted)
        inside = rows < len(self.gram_codes)
        rows, wanted = rows[inside], wanted[inside]
        return rows[self.gram_codes[rows] == wanted].astype(np.int64)

    def similar(self, text: str) -> np.ndarray:
        """Ids of strings sharing the most trigrams with ``text``: typo-tolerant candidates.

        Three bounded pools. Strings of about the query's length: the GUARANTEED rarest
        trigrams are always read (so a title that lost fewer trigrams than that to typos is
        always found), commoner ones while WINDOW_BUDGET lasts, and the WINDOW_CANDIDATES
        sharing the most are kept. Much longer strings holding half the rarest trigrams read
        for them (partial queries) and much shorter ones mostly held in the query (extra
        words) come from a smaller budget.
        """
        rows = self._query_rows(text)
        if not len(rows):
            return np.zeros(0, dtype=np.int64)
        df = self.indptr[rows + 1] - self.indptr[rows]
        # Rarest first; at most MAX_GRAMS of them, so a count never overflows the uint8 counter.
        rows = rows[np.argsort(df, kind="stable")][: self.MAX_GRAMS]
        length = len(text)
        # Typos and swaps change the length by a character or two; a title much longer or
        # shorter than the query is searched for separately (partial queries, extra words).
        slack = 2 + length // 8
        low_len, high_len = max(1, length - slack), min(length + slack, len(self.len_start) - 2)
        low = int(self.len_start[min(low_len, len(self.len_start) - 1)])
        high = int(self.len_start[high_len + 1]) if high_len >= low_len else low
        inside: list[np.ndarray] = []
        outside: list[np.ndarray] = []
        inside_budget, outside_budget = self.WINDOW_BUDGET, self.OUTSIDE_BUDGET
        outside_grams = 0
        postings = self.postings
        bounds = np.array((low, high), dtype=postings.dtype)
        starts, ends = self.indptr[rows].tolist(), self.indptr[rows + 1].tolist()
        for position, (start, end) in enumerate(zip(starts, ends)):
            plist = postings[start:end]
            cut_low, cut_high = plist.searchsorted(bounds).tolist()
            size = cut_high - cut_low
            if position < self.GUARANTEED or size <= inside_budget:
                inside.append(plist[cut_low:cut_high])
                inside_budget -= size
            rest = end - start - size
            if rest <= outside_budget or (position < self.OUTSIDE_ALWAYS and rest <= self.OUTSIDE_CAP):
                outside.append(plist[:cut_low])
                outside.append(plist[cut_high:])
                outside_budget -= rest
                outside_grams += 1
            if position >= self.GUARANTEED and inside_budget <= 0 and outside_budget <= 0:
                break
        picked = [self._best_inside(inside, low, high, length)]
        if outside_grams:
            picked.append(self._best_outside(outside, low, high, outside_grams))
        return _unique(np.concatenate(picked))

    def _counter(self) -> np.ndarray:
        """This thread's zeroed scratch array of per-string counts (left zeroed after use)."""
        counter = getattr(self._scratch, "counter", None)
        if counter is None:
            counter = self._scratch.counter = np.zeros(len(self.strings), dtype=np.uint8)
        return counter

    def _count_shared(self, slices: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, shared): every posting of ``slices`` and, for each, how many slices hold its
        id, i.e. how many of the query's trigrams that string shares. Ids repeat once per
        trigram. Costs O(postings + id range), or O(postings) for a wide range of few ids.
        """
        slices = [part for part in slices if len(part)]
        if not slices:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        ids = np.concatenate(slices)
        low = min(int(part[0]) for part in slices)  # posting lists are sorted
        span = max(int(part[-1]) for part in slices) + 1 - low
        if span <= 8 * len(ids):
            return ids, np.bincount(ids - low, minlength=span)[ids - low]
        counter = self._counter()  # ids are unique within one posting list, so += counts right
        for part in slices:
            counter[part] += 1
        shared = counter[ids]
        counter[ids] = 0
        return ids, shared

    def _most_shared(self, ids: np.ndarray, shared: np.ndarray, limit: int, length: int) -> np.ndarray:
        """The ``limit`` distinct ids sharing the most trigrams; at the cut, the closest length."""
        if not len(ids):
            return np.zeros(0, dtype=np.int64)
        # A string sharing k trigrams appears k times: distinct strings per count level.
        per_level = np.bincount(shared)
        per_level = per_level // np.maximum(np.arange(len(per_level)), 1)
        reached = np.cumsum(per_level[::-1])[::-1]  # distinct strings sharing >= k
        cut = int(np.flatnonzero(reached >= limit)[-1]) if reached[1] >= limit else 1
        above = _unique(ids[shared > cut])
        at_cut = _unique(ids[shared == cut])
        room = limit - len(above)
        if len(at_cut) > room:
            at_cut = at_cut[np.argsort(np.abs(self.lengths[at_cut] - length), kind="stable")[:room]]
        return np.concatenate([above, at_cut]).astype(np.int64)

    def _best_inside(self, slices: list[np.ndarray], low: int, high: int, length: int) -> np.ndarray:
        """The titles of about the query's length that share the most trigrams with it."""
        if high <= low:
            return np.zeros(0, dtype=np.int64)
        ids, shared = self._count_shared(slices)
        return self._most_shared(ids, shared, self.WINDOW_CANDIDATES, length)

    def _best_outside(self, slices: list[np.ndarray], low: int, high: int, n_grams: int) -> np.ndarray:
        """Much longer titles holding most of the query's trigrams (partial queries) and much
        shorter ones mostly held in the query (extra words)."""
        ids, shared = self._count_shared(slices)
        if not len(ids):
            return np.zeros(0, dtype=np.int64)
        picked = []
        longer = ids >= high
        if longer.any():
            need = max(2, math.ceil(n_grams / 2))
            keep = longer & (shared >= need)
            found = _unique(ids[keep]).astype(np.int64)
            if len(found) > self.LONGER_CANDIDATES:
                # Shortest first: the least left untyped.
                found = found[np.argsort(self.lengths[found], kind="stable")[: self.LONGER_CANDIDATES]]
            picked.append(found)
        shorter = ids < low
        if shorter.any():
            keep = shorter & (shared >= 2)
            keep[keep] = shared[keep] >= 0.5 * self.lengths[ids[keep]]
            found = _unique(ids[keep]).astype(np.int64)
            if len(found) > self.SHORTER_CANDIDATES:
                found = found[np.argsort(-self.lengths[found], kind="stable")[: self.SHORTER_CANDIDATES]]
            picked.append(found)
        return np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)


@dataclass
class _Scored:
    """Match scores for candidate items: parallel arrays."""

    items: np.ndarray
    scores: np.ndarray


_EMPTY = _Scored(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))


def _merge(parts: Iterable[_Scored]) -> _Scored:
    """One score per item: the best of all readings of the query."""
    parts = [p for p in parts if len(p.items)]
    if not parts:
        return _EMPTY
    items = np.concatenate([p.items for p in parts])
    scores = np.concatenate([p.scores for p in parts])
    order = np.lexsort((-scores, items))
    items, scores = items[order], scores[order]
    first = np.r_[True, items[1:] != items[:-1]]
    return _Scored(items[first], scores[first])


class TitleResolver:
    """Typo-tolerant title look-up with version groups; read-only and thread-safe once built."""

    def __init__(self) -> None:  # use build()
        self.titles: pa.Array  # raw, for display: compact, and one take() per answer
        self.artists: pa.Array
        self.item_ids: pa.Array
        self.listeners: np.ndarray

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def build(cls, dataset, cache: bool = True) -> TitleResolver:
        """Index ``dataset.items`` (item_id, title, artist) with ``dataset.listeners``.

        With ``cache`` and a dataset folder, the index is saved beside the dataset as plain
        arrays (``resolver-index/``) and loaded from there next time, as long as the
        dataset, its titles and artists, and this code are unchanged.
        """
        items = dataset.items
        columns = (
            arrow_strings(items["item_id"]),
            arrow_strings(items["title"]),
            arrow_strings(items["artist"]),
            np.asarray(dataset.listeners, dtype=np.int64),
        )
        folder = getattr(dataset, "path", None)
        if not cache or folder is None or not len(columns[0]):
            return cls.from_columns(*columns)
        cache_dir = Path(folder) / CACHE_DIR
        key = _cache_key(dataset, *columns[1:3])
        started = time.perf_counter()
        resolver = cls._load(cache_dir, key, columns)
        if resolver is not None:
            log.info("title index loaded from %s in %.2f s", cache_dir, time.perf_counter() - started)
            return resolver
        resolver = cls.from_columns(*columns)
        log.info("title index of %s songs built in %.2f s", f"{len(resolver):,}", time.perf_counter() - started)
        resolver._save(cache_dir, key)
        return resolver

    # -- the cache beside the dataset -----------------------------------------------------------
    # Arrays of the resolver itself (the display columns and listeners come from the dataset).
    ARRAYS = (
        "item_is_version",
        "item_group",
        "group_indptr",
        "group_items",
        "group_rep",
        "item_core",
        "title_indptr",
        "title_items",
        "item_primary",
        "artist_indptr",
        "artist_items",
        "credit_indptr",
        "credit_artists",
        "_popular_groups",
    )

    def _save(self, folder: Path, key: str) -> None:
        """Write the index into ``folder`` atomically; a failure only costs the next start."""
        try:
            with atomic_directory(folder) as temp:
                self._write(temp, key)
        except OSError as error:  # read-only dataset folder, full disk, a concurrent writer
            log.warning("could not save the title index in %s (%s); it will be built again next time", folder, error)

    def _write(self, temp: Path, key: str) -> None:
        """The index's arrays, string tables and manifest, into the empty folder ``temp``."""
        arrays = {name: getattr(self, name) for name in self.ARRAYS}
        for prefix, index in (("title.", self.title_index), ("artist.", self.artist_index)):
            arrays.update({prefix + name: array for name, array in index.arrays().items()})
        for name, array in arrays.items():
            np.save(temp / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        strings = {
            "title_strings": self.title_index.strings,
            "artist_strings": self.artist_index.strings,
            "artist_display": self.artist_display,
        }
        for name, values in strings.items():
            table = pa.table({"value": pa.array(values, type=pa.large_string())})
            with pa.OSFile(str(temp / f"{name}.arrow"), "wb") as sink:
                with pa.ipc.new_file(sink, table.schema) as writer:
                    writer.write_table(table)
        manifest = {
            "format": CACHE_FORMAT,
            "key": key,
            "items": len(self),
            "arrays": sorted(arrays),
            "strings": sorted(strings),
        }
        (temp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def _load(cls, folder: Path, key: str, columns) -> TitleResolver | None:
        """The saved index when it matches ``key``, else None (and it gets rebuilt)."""
        manifest_path = folder / "manifest.json"
        if not manifest_path.exists():
            return None
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            if manifest.get("format") != CACHE_FORMAT or manifest.get("key") != key:
                return None

            def array(name: str) -> np.ndarray:
                path = folder / f"{name}.npy"
                # Memory-mapped: pages load on demand and are shared by every process.
                array = np.load(path, mmap_mode="r" if path.stat().st_size > 4096 else None, allow_pickle=False)
                # A plain view of the map: np.memmap pays Python overhead on every indexing.
                return array.view(np.ndarray) if isinstance(array, np.memmap) else array

            def strings(name: str) -> list:
                with pa.memory_map(str(folder / f"{name}.arrow")) as source:
                    return pa.ipc.open_file(source).read_all().column("value").to_pylist()

            self = cls()
            self.item_ids, self.titles, self.artists, self.listeners = columns
            for name in cls.ARRAYS:
                setattr(self, name, array(name))
            self.title_index = _StringIndex(
                strings("title_strings"), {name: array(f"title.{name}") for name in _StringIndex.ARRAYS}
            )
            self.artist_index = _StringIndex(
                strings("artist_strings"), {name: array(f"artist.{name}") for name in _StringIndex.ARRAYS}
            )
            self.artist_display = strings("artist_display")
            self._index_artist_surnames()
            if len(self.item_group) != len(self.titles) or len(self.artist_display) != len(self.artist_index):
                raise ValueError("index sizes do not match the dataset")
            return self
        except (OSError, ValueError, KeyError, pa.ArrowException) as error:
            log.warning("ignoring the saved title index in %s (%s); building it again", folder, error)
            return None

    @classmethod
    def from_columns(cls, item_ids, titles, artists, listeners) -> TitleResolver:
        """Index parallel columns (any sequence, pandas or arrow) of ids, titles and artists."""
        self = cls()
        # Raw columns stay as compact arrow strings: one take() per answer shows them.
        self.item_ids = arrow_strings(item_ids)
        self.titles = arrow_strings(titles)
        self.artists = arrow_strings(artists)
        self.listeners = np.asarray(listeners, dtype=np.int64)
        n = len(self.titles)
        if not (len(self.item_ids) == len(self.artists) == len(self.listeners) == n):
            raise ValueError("item ids, titles, artists and listeners differ in length")
        popularity = self.listeners.astype(np.float64)

        # Parse each distinct raw title and artist once (catalogs repeat them a lot), keeping
        # only ids: a million small objects alive at once would fragment the heap.
        title_codes, title_uniques = _factorize(self.titles)
        artist_codes, artist_uniques = _factorize(self.artists)
        name_of: dict[str, int] = {}  # title string -> provisional id
        artist_of: dict[str, int] = {}  # artist string -> provisional id
        n_titles, n_raw_artists = len(title_uniques), len(artist_uniques)
        core_of_title = np.empty(n_titles, dtype=np.int32)
        # The title with its subtitle kept in place, when the bracket is a subtitle rather
        # than a version ("i cant get no satisfaction"): both spellings find the song.
        alias_of_title = np.full(n_titles, -1, dtype=np.int32)
        version_of_title = np.zeros(n_titles, dtype=bool)
        featured_of_title: dict[int, list[int]] = {}
        for code, raw in enumerate(_iter_strings(title_uniques)):
            parts = parse_title(raw, MAX_CATALOG_CHARS)
            core_of_title[code] = name_of.setdefault(parts.core, len(name_of))
            if parts.extras and not parts.is_version and parts.full != parts.core:
                alias_of_title[code] = name_of.setdefault(parts.full, len(name_of))
            version_of_title[code] = parts.is_version
            if parts.featured:
                featured_of_title[code] = [artist_of.setdefault(name, len(artist_of)) for name in parts.featured]
        primary_of_artist = np.empty(n_raw_artists, dtype=np.int32)
        featured_of_artist: dict[int, list[int]] = {}
        for code, raw in enumerate(_iter_strings(artist_uniques)):
            credit = parse_artist(raw, MAX_CATALOG_CHARS)
            primary_of_artist[code] = artist_of.setdefault(credit.primary, len(artist_of))
            if credit.featured:
                featured_of_artist[code] = [artist_of.setdefault(name, len(artist_of)) for name in credit.featured]
        item_core = core_of_title[title_codes]
        item_alias = alias_of_title[title_codes]
        self.item_is_version = version_of_title[title_codes]
        item_primary = primary_of_artist[artist_codes]

        # Credits: the primary artist of every item, and everyone featured (artist or title).
        credit_items: list[np.ndarray] = [np.arange(n, dtype=np.int32)]
        credit_names: list[np.ndarray] = [item_primary]
        for featured_sets, codes in ((featured_of_artist, artist_codes), (featured_of_title, title_codes)):
            if featured_sets:
                has = np.flatnonzero(np.isin(codes, np.fromiter(featured_sets, dtype=np.int64)))
                pairs = [(item, name) for item in has.tolist() for name in featured_sets[int(codes[item])]]
                credit_items.append(np.array([p[0] for p in pairs], dtype=np.int32))
                credit_names.append(np.array([p[1] for p in pairs], dtype=np.int32))
        del title_uniques, artist_uniques, title_codes

        # Version groups: same core title and same primary artist.
        group_key = item_core.astype(np.int64) * max(1, len(artist_of)) + item_primary
        _, item_group = np.unique(group_key, return_inverse=True)
        del group_key
        self.item_group = item_group.astype(np.int32)
        n_groups = int(self.item_group.max()) + 1 if n else 0
        # Most listened first; a plain studio title before a live one on equal listeners.
        self.group_indptr, self.group_items = _csr(
            self.item_group,
            np.arange(n, dtype=np.int32),
            n_groups,
            order_within=-(self.listeners * 2) + self.item_is_version,
        )
        self.group_rep = self.group_items[self.group_indptr[:-1]] if n_groups else np.zeros(0, np.int32)
        group_listeners = self.listeners[self.group_rep] if n_groups else np.zeros(0, np.int64)

        # Title index: popularity of a title string = its most listened song.
        has_alias = item_alias >= 0
        pair_names = np.r_[item_core, item_alias[has_alias]]
        pair_items = np.r_[np.arange(n, dtype=np.int32), np.flatnonzero(has_alias).astype(np.int32)]
        title_popularity = np.zeros(len(name_of), dtype=np.float64)
        np.maximum.at(title_popularity, pair_names, popularity[pair_items])
        self.title_index, title_id = _StringIndex.build(list(name_of), title_popularity)
        del name_of
        pair_names = title_id[pair_names]
        self.item_core = title_id[item_core].astype(np.int32)
        self.title_indptr, self.title_items = _csr(
            pair_names, pair_items, len(self.title_index), order_within=-self.listeners[pair_items]
        )

        # Artist index: popularity = listeners summed over the artist's credited songs.
        credit_items_all = np.concatenate(credit_items)
        credit_names_all = np.concatenate(credit_names)
        artist_popularity = np.bincount(
            credit_names_all, weights=popularity[credit_items_all], minlength=len(artist_of)
        )
        self.artist_index, artist_id = _StringIndex.build(list(artist_of), artist_popularity)
        credit_names_all = artist_id[credit_names_all].astype(np.int32)
        self.item_primary = artist_id[item_primary].astype(np.int32)
        self.artist_indptr, self.artist_items = _csr(
            credit_names_all, credit_items_all, len(artist_of), order_within=-self.listeners[credit_items_all]
        )
        self.credit_indptr, self.credit_artists = _csr(credit_items_all, credit_names_all, n)

        # How each artist is shown: the raw primary credit of its most listened song.
        self.artist_display: list[str | None] = [None] * len(artist_of)
        primary_rows = np.lexsort((-self.listeners, self.item_primary))
        firsts = (
            primary_rows[np.r_[True, self.item_primary[primary_rows][1:] != self.item_primary[primary_rows][:-1]]]
            if n
            else np.zeros(0, np.int64)
        )
        raw_names = self.artists.take(pa.array(firsts)).to_pylist()
        for item, raw in zip(firsts.tolist(), raw_names):
            self.artist_display[int(self.item_primary[item])] = primary_artist_display(raw or "")

        # Empty autocomplete: the most listened songs.
        self._popular_groups = np.argsort(-group_listeners, kind="stable")[:MAX_CHOICES].astype(np.int64)
        self._index_artist_surnames()
        _release_free_heap()
        return self

    def _index_artist_surnames(self) -> None:
        """Last word of multi-word artist names -> the most listened such artists, so
        "imagine lennon" finds John Lennon ("the" and short words excepted)."""
        by_word: dict[str, list[int]] = {}
        for artist_id, name in enumerate(self.artist_index.strings):
            words = name.split()
            if len(words) > 1 and len(words[-1]) >= MIN_SURNAME_CHARS and self.artist_display[artist_id]:
                by_word.setdefault(words[-1], []).append(artist_id)
        popularity = self.artist_index.popularity
        self._artists_by_surname = {
            word: np.array(sorted(ids, key=lambda i: -popularity[i])[:SURNAME_ARTISTS], dtype=np.int64)
            for word, ids in by_word.items()
        }

    # -- version groups ---------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.item_ids)

    def version_group(self, item_index: int) -> int:
        """The id shared by every version of this item's song."""
        return int(self.item_group[item_index])

    def group_members(self, group: int) -> np.ndarray:
        """Item indices of every version of the song, most listened first."""
        return self.group_items[self.group_indptr[group] : self.group_indptr[group + 1]]

    def representative(self, group: int) -> int:
        """The most listened version of the song: the one shown for the group."""
        return int(self.group_rep[group])

    def display(self, items: Sequence[int]) -> list[tuple[str, str, str]]:
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

    def candidates(self, items: Sequence[int], scores: Sequence[float]) -> list[Candidate]:
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

    # -- scoring helpers ----------------------------------------------------------------------
    def _title_scores(self, query: str, name_ids: np.ndarray, partial: bool = False) -> np.ndarray:
        strings = [self.title_index.strings[i] for i in name_ids.tolist()]
        return match_scores(query, strings, partial)

    def _items_of_titles(self, name_ids: np.ndarray, scores: np.ndarray, floor: float) -> _Scored:
        """Expand matching title strings to their most listened items."""
        keep = scores >= floor
        name_ids, scores = name_ids[keep], scores[keep]
        if not len(name_ids):
            return _EMPTY
        starts = self.title_indptr[name_ids]
        counts = np.minimum(self.title_indptr[name_ids + 1] - starts, ITEMS_PER_TITLE)
        offsets = np.repeat(starts - np.r_[0, np.cumsum(counts)[:-1]], counts)
        items = self.title_items[offsets + np.arange(int(counts.sum()))]
        return _Scored(items, np.repeat(scores, counts))

    def _artist_ids(self, folded_artist: str, floor: float = ARTIST_AGREES) -> tuple[np.ndarray, np.ndarray]:
        """Artists matching a typed artist name: (ids, similarity), exact match first."""
        index = self.artist_index
        exact = index.find(folded_artist)
        candidates = index.similar(folded_artist)
        if exact >= 0:
            candidates = _unique(np.r_[candidates, exact])
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
        return _unique(np.concatenate(chunks)) if chunks else np.zeros(0, dtype=np.int64)

    def _score_titles_of_items(self, query: str, items: np.ndarray, partial: bool = False) -> np.ndarray:
        """Title match of ``query`` against each item's core title."""
        if not len(items):
            return np.zeros(0)
        names = self.item_core[items]
        unique, inverse = np.unique(names, return_inverse=True)
        return self._title_scores(query, unique, partial)[inverse]

    # -- readings of a query ------------------------------------------------------------------
    def _title_candidates(self, query: str, partial: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Title string ids that may be meant by ``query`` and their match scores."""
        index = self.title_index
        pools = [index.similar(query), index.prefixed(query, 40 if partial else 10)]
        exact = index.find(query)
        if exact >= 0:
            pools.append(np.array([exact], dtype=np.int64))
        ids = _unique(np.concatenate(pools))
        return ids, self._title_scores(query, ids, partial)

    @staticmethod
    def _plain_texts(parts: TitleParts, dashed: bool, version_tail: str) -> list[tuple[str, float, int]]:
        """The whole query read as a title: (text, score penalty, typing slips it stands for)."""
        readings = [(parts.core, DASH_CORE_PENALTY if dashed else 0.0, 0)]
        if parts.full != parts.core:
            readings.append((parts.full, 0.0, 0))
        if version_tail:
            readings.append((parts.core[: -len(version_tail)].rstrip(), VERSION_TAIL_PENALTY, 0))
        first, _, rest = parts.core.partition(" ")
        if rest and first != "the" and OSA.distance(first, "the", score_cutoff=1) <= 1:
            readings.append((rest, MISTYPED_THE_PENALTY, 1))  # "teh scientist", "tyhe scientist"
        return readings

    def _plain_reading(
        self, parts: TitleParts, dashed: bool, version_tail: str, floor: float, partial: bool
    ) -> _Scored:
        """The whole query as a title (and without a trailing "live" or "remix")."""
        scored = []
        for text, penalty, _ in self._plain_texts(parts, dashed, version_tail):
            ids, scores = self._title_candidates(text, partial)
            scored.append(self._items_of_titles(ids, scores - penalty, floor))
        return _merge(scored)

    def _artist_reading(
        self,
        title: str,
        artist_ids: np.ndarray,
        artist_similarity: np.ndarray,
        penalty: float,
        floor: float,
        partial: bool,
    ) -> _Scored:
        """``title`` among the songs of the given artists."""
        if not title or not len(artist_ids):
            return _EMPTY
        items = self._items_of_artists(artist_ids)
        if not len(items):
            return _EMPTY
        title_scores = self._score_titles_of_items(title, items, partial)
        # Each item's agreement with the matched artist(s).
        credits_sim = dict(zip(artist_ids.tolist(), artist_similarity.tolist()))
        agreement = np.array([credits_sim.get(int(a), 0.0) for a in self.item_primary[items].tolist()])
        missing = agreement == 0
        if missing.any():  # credited as featured, not primary
            agreement[missing] = max(credits_sim.values())
        scores = (1 - ARTIST_SHARE) * title_scores + ARTIST_SHARE * agreement - penalty
        keep = title_scores >= floor
        return _Scored(items[keep], scores[keep])

    def _embedded_artists(self, query: str, parts: TitleParts) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """Readings "<artist> - <title>", "<title> - <artist>", "<title> by <artist>",
        "<title> <artist>", "<artist> <title>": (title, artist ids, artist similarity)."""
        readings: list[tuple[str, np.ndarray, np.ndarray]] = []
        dash = [piece for piece in dash_parts(query) if fold(piece)]
        if len(dash) >= 2:
            left, right = dash[0], " ".join(dash[1:])
            for title, artist in ((right, left), (left, right)):
                folded_artist = drop_leading_the(fold(artist))
                if folded_artist:
                    ids, similarity = self._artist_ids(folded_artist)
                    if len(ids):
                        readings.append((parse_title(title).core, ids, similarity))
            return readings[:MAX_EMBEDDED]
        words = parts.core.split()
        if len(words) < 2:
            return readings
        found: list[tuple[str, np.ndarray, np.ndarray]] = []
        for size in range(min(MAX_ARTIST_TOKENS, len(words) - 1), 0, -1):
            for artist_last in (True, False):
                artist_words, title_words = (
                    (words[-size:], words[:-size]) if artist_last else (words[:size], words[size:])
                )
                artist_id = self.artist_index.find(" ".join(artist_words))
                if artist_id >= 0:
                    ids, similarity = np.array([artist_id], dtype=np.int64), np.array([100.0])
                elif size == 1 and artist_words[0] in self._artists_by_surname:  # "imagine lennon"
                    ids = self._artists_by_surname[artist_words[0]]
                    similarity = np.full(len(ids), SURNAME_AGREEMENT)
                else:
                    continue
                # "hey ya by outkast", "yesterday the beatles", "outkast by ...": drop the joining word.
                if artist_last:
                    while len(title_words) > 1 and title_words[-1] in ("by", "the", "from", "of"):
                        title_words = title_words[:-1]
                elif title_words and title_words[0] == "by":
                    title_words = title_words[1:]
                title = drop_leading_the(" ".join(title_words))
                if title:
                    found.append((title, ids, similarity))
        readings.extend(found[:MAX_EMBEDDED])
        return readings

    # -- ranking ------------------------------------------------------------------------------
    def _ranked(
        self,
        title: object,
        artist: object = None,
        *,
        floor: float = MIN_SCORE,
        partial: bool = False,
        readings_out: list | None = None,
    ) -> tuple[str, str | None, list[tuple[float, float, int]], bool]:
        """(query, artist, [(rank score, match score, item to show)], artist agreed).

        ``readings_out`` receives each way the query was read as (title text, typing slips
        that reading stands for, the artist ids it names or None), for the confidence rule.
        """
        query = " ".join(clean(title, MAX_QUERY_CHARS).split())
        artist_text = " ".join(clean(artist, MAX_QUERY_CHARS).split()) if artist is not None else ""
        parts = parse_title(query)
        folded_artist = parse_artist(artist_text).primary if artist_text else ""
        shown_artist = artist_text or None
        if not parts.core:
            return query, shown_artist, [], True
        # "Beyonce - Halo" may be artist - title; "Hey Ya - Live at Wembley" is only a version.
        dashed = bool(dash_parts(query)[1:]) and not parts.is_version
        version_tail = "" if partial else _version_tail(parts.core)
        extras = parts.extras + ((version_tail,) if version_tail else ())
        readings = [self._plain_reading(parts, dashed, version_tail, floor, partial)]
        if readings_out is not None:
            readings_out.extend(
                (text, slips, None) for text, _, slips in self._plain_texts(parts, dashed, version_tail)
            )
        if folded_artist:
            # A given artist: its songs are read first, everything else must agree with it.
            ids, similarity = self._artist_ids(folded_artist)
            readings.append(self._artist_reading(parts.core, ids, similarity, 0.0, floor, partial))
            if parts.full != parts.core:
                readings.append(self._artist_reading(parts.full, ids, similarity, 0.0, floor, partial))
        else:
            for reading_title, ids, similarity in self._embedded_artists(query, parts):
                if readings_out is not None:
                    readings_out.append((reading_title, 0, ids))
                readings.append(
                    self._artist_reading(reading_title, ids, similarity, EMBEDDED_ARTIST_PENALTY, floor, partial)
                )
        scored = _merge(readings)
        items, scores = scored.items, scored.scores
        artist_agreed = True
        if folded_artist and len(items):
            agreement = self._artist_agreement(items, folded_artist)
            agrees = agreement >= ARTIST_AGREES
            # Plain-reading items get their artist blended in too (no-op for artist-reading items,
            # whose score already includes it: keep the larger).
            blended = (1 - ARTIST_SHARE) * scores + ARTIST_SHARE * agreement
            scores = np.where(agrees, np.maximum(scores, blended), blended)
            if agrees.any():
                items, scores = items[agrees], scores[agrees]  # the artist narrows
            else:
                artist_agreed = False
        if parts.featured and len(items):
            for name in list(dict.fromkeys(parts.featured))[:MAX_FEATURED]:
                agreement = self._artist_agreement(items, name)
                scores = np.where(agreement >= 90, np.minimum(100.0, scores + FEATURED_BONUS), scores)
        keep = scores >= floor
        items, scores = items[keep], scores[keep]
        if not len(items):
            return query, shown_artist, [], artist_agreed
        # One candidate per song: its best score, shown as its most listened version (or, for
        # "hey ya live", the version whose extras match what was typed).
        groups = self.item_group[items]
        order = np.lexsort((-scores, groups))
        first = np.r_[True, groups[order][1:] != groups[order][:-1]]
        groups, scores = groups[order][first], scores[order][first]
        shown = self.group_rep[groups]
        rank_scores = scores + POPULARITY_WEIGHT * np.log10(1.0 + self.listeners[shown])
        order = np.lexsort((shown, -rank_scores))[: MAX_RESULTS * 4]
        ranked = [(float(rank_scores[i]), float(min(100.0, scores[i])), int(shown[i])) for i in order.tolist()]
        if extras:  # only the songs that can be shown look among their versions
            ranked[:MAX_CHOICES] = [
                (rank, score, self._version_matching(item, extras)) for rank, score, item in ranked[:MAX_CHOICES]
            ]
        return query, shown_artist, ranked, artist_agreed

    def _version_matching(self, representative: int, extras: tuple[str, ...]) -> int:
        """The version of the song whose extras best match the typed ones ("live"), else
        the representative."""
        members = self.group_members(self.version_group(representative))[:50]
        if len(members) < 2:
            return representative
        wanted = " ".join(extras)
        best, best_score = representative, 70.0  # a weaker likeness is no reason to switch
        for item, (_, title, _) in zip(members.tolist(), self.display(members)):
            item_extras = " ".join(parse_title(title, MAX_CATALOG_CHARS).extras)
            score = fuzz.token_set_ratio(wanted, item_extras) if item_extras else 0.0
            if score > best_score:
                best, best_score = item, score
        return best

    # -- public API ---------------------------------------------------------------------------
    def resolve(self, title: object, artist: object = None, limit: int = 10, closest: int = 0) -> Resolution:
        """Rank the songs ``title`` (and ``artist``) may mean; never raises on odd input.

        Confident only when :class:`ConfidenceRule` takes the best match without asking. A
        query that names an artist rather than a title ("Adele", "the beatles") comes back
        with ``kind`` "artist" and that artist's most listened songs to pick from. When nothing
        matched, ``closest`` > 0 adds that many of the nearest titles (a wider second look).
        """
        resolution = self.resolve_with_evidence(title, artist, limit)[0]
        if closest > 0 and not resolution.found:
            resolution = replace(resolution, closest=self.closest_titles(title, closest))
        return resolution

    def resolve_with_evidence(
        self, title: object, artist: object = None, limit: int = 10, rule: ConfidenceRule | None = None
    ) -> tuple[Resolution, MatchEvidence | None]:
        """:meth:`resolve`, and the evidence about its best song match that ``rule`` (default:
        the module's knobs) judged; None when no song matched. The calibration bench sweeps
        rules over this evidence."""
        rule = rule or ConfidenceRule()
        limit = max(1, min(int(limit), MAX_RESULTS))
        readings: list = []
        query, shown_artist, ranked, artist_agreed = self._ranked(title, artist, readings_out=readings)
        artist_matched = artist_agreed if shown_artist else None
        evidence = self._evidence(ranked, readings, artist_agreed) if ranked else None
        if not shown_artist and query:
            # "Adele": an artist, unless the typed text is also exactly a title.
            title_typed_exactly = evidence is not None and evidence.edits == 0 and rule.good_match(evidence)
            if not title_typed_exactly:
                named = self._named_artist(query, rule, fuzzy=not rule.confident(evidence))
                if named is not None:
                    return self._artist_resolution(query, *named, limit=limit), evidence
        if not ranked:
            return Resolution(
                query=query, artist=shown_artist, candidates=[], confident=False, artist_matched=artist_matched
            ), None
        confident = rule.confident(evidence)
        close = [entry for entry in ranked if ranked[0][0] - entry[0] < rule.close_margin]
        keep = ranked[:limit] if confident else ranked[: max(limit, min(len(close), MAX_CHOICES))]
        candidates = self.candidates([item for _, _, item in keep], [score for _, score, _ in keep])
        return Resolution(
            query=query,
            artist=shown_artist,
            candidates=candidates,
            confident=confident,
            close_call=not confident and rule.good_match(evidence),
            artist_matched=artist_matched,
        ), evidence

    def _evidence(self, ranked: list[tuple[float, float, int]], readings: list, artist_agreed: bool) -> MatchEvidence:
        """What the confidence rule judges about the best of ``ranked``: its score, its lead,
        the fewest typing slips between a reading of the query and its title, and the fewest
        of the next RIVALS candidates."""
        _, score, item = ranked[0]
        margin = ranked[0][0] - ranked[1][0] if len(ranked) > 1 else math.inf
        edits, length = self._slips(item, readings)
        # Rivals have another title: between songs of one title (a cover), listeners decide.
        rival_edits = min(
            (
                self._slips(other, readings)[0]
                for _, _, other in ranked[1 : 1 + RIVALS]
                if self.item_core[other] != self.item_core[item]
            ),
            default=MAX_QUERY_CHARS,
        )
        return MatchEvidence(
            score=score, margin=margin, edits=edits, length=length, artist_agreed=artist_agreed, rival_edits=rival_edits
        )

    def _slips(self, item: int, readings: list) -> tuple[int, int]:
        """(fewest typing slips between a reading of the query and the item's title, that
        title's length)."""
        parts = parse_title(self.titles[item].as_py() or "", MAX_CATALOG_CHARS)
        names = {name for name in (parts.core, parts.full) if name}
        credits: set[int] | None = None
        edits, length = MAX_QUERY_CHARS, len(parts.core)
        for text, slips, artist_ids in readings:
            if not text:
                continue
            if artist_ids is not None:  # "halo beyonce" reads "halo" only for Beyoncé's songs
                if credits is None:
                    credits = set(self.credit_artists[self.credit_indptr[item] : self.credit_indptr[item + 1]].tolist())
                if credits.isdisjoint(artist_ids.tolist()):
                    continue
            for name in names:
                found = slips + typed_edits(text, name)
                if found < edits or (found == edits and len(name) > length):
                    edits, length = found, len(name)
        return edits, length

    def _named_artist(self, query: str, rule: ConfidenceRule, fuzzy: bool) -> tuple[int, float] | None:
        """(artist id, match score) when the whole query names an artist with songs of their
        own: exactly, or (``fuzzy``) within the slips ``rule`` forgives for a name that long."""
        folded = drop_leading_the(fold(query))
        if not folded:
            return None
        index = self.artist_index
        exact = index.find(folded)
        if exact >= 0 and self.artist_display[exact]:
            return exact, 100.0
        if not fuzzy:
            return None
        best: tuple[int, float, int] | None = None  # (slips, -popularity, id)
        for artist_id in index.similar(folded).tolist():
            name = index.strings[artist_id]
            if not self.artist_display[artist_id]:
                continue
            slips = typed_edits(folded, name)
            if slips <= rule.allowed_edits(len(name)):
                key = (slips, -float(index.popularity[artist_id]), artist_id)
                best = key if best is None or key < best else best
        if best is None:
            return None
        return best[2], float(match_scores(folded, [index.strings[best[2]]])[0])

    def _artist_resolution(self, query: str, artist_id: int, score: float, limit: int) -> Resolution:
        """The artist's most listened songs (one per song, versions collapsed) to pick from."""
        items = self._items_of_artists(np.array([artist_id], dtype=np.int64))
        reps = self.group_rep[_unique(self.item_group[items])]
        reps = reps[np.lexsort((reps, -self.listeners[reps]))][:limit]
        return Resolution(
            query=query,
            artist=None,
            candidates=self.candidates(reps.tolist(), [score] * len(reps)),
            confident=False,
            kind="artist",
            named_artist=self.artist_display[artist_id],
        )

    def closest_titles(self, query: object, limit: int = 5) -> list[str]:
        """Labels of the nearest titles, however weak, for a "no match" message."""
        limit = max(1, min(int(limit), MAX_CHOICES))
        _, _, ranked, _ = self._ranked(query, floor=35.0)
        return [make_label(title, artist) for _, title, artist in self.display([item for _, _, item in ranked[:limit]])]

    def complete(self, partial: object, artist: object = None, limit: int = MAX_CHOICES) -> list[tuple[str, str]]:
        """Autocomplete choices (label, item id) for a half-typed title, best first.

        Titles starting with what was typed come first (by popularity), then fuzzy
        matches; versions collapse; labels are "Title — Artist" in <= 100 characters.
        """
        limit = max(1, min(int(limit), MAX_CHOICES))
        text = " ".join(clean(partial, MAX_QUERY_CHARS).split())
        artist_text = " ".join(clean(artist, MAX_QUERY_CHARS).split()) if artist is not None else ""
        if not parse_title(text).core:
            shown = self._popular_items(artist_text, limit)
        else:
            _, _, ranked, _ = self._ranked(text, artist_text or None, partial=True)
            shown = [item for _, _, item in ranked[:limit]]
        return [(make_label(title, artist), item_id) for item_id, title, artist in self.display(shown)]

    def _popular_items(self, artist_text: str, limit: int) -> list[int]:
        folded = parse_artist(artist_text).primary if artist_text else ""
        if not folded:
            return [int(self.group_rep[g]) for g in self._popular_groups[:limit].tolist()]
        ids, _ = self._artist_ids(folded)
        items = self._items_of_artists(ids)
        groups = _unique(self.item_group[items])
        reps = self.group_rep[groups]
        reps = reps[np.argsort(-self.listeners[reps], kind="stable")]
        return [int(i) for i in reps[:limit].tolist()]

    def complete_artist(self, partial: object, limit: int = MAX_CHOICES) -> list[str]:
        """Artist names for the artist option's autocomplete, best match then most listened."""
        limit = max(1, min(int(limit), MAX_CHOICES))
        index = self.artist_index
        folded = drop_leading_the(fold(clean(partial, MAX_QUERY_CHARS)))
        if not folded:
            ids = index.prefixed("", limit * 4)  # some are featured-only names, not shown
            scores = np.full(len(ids), 100.0)
        else:
            ids = _unique(np.r_[index.prefixed(folded, limit * 2), index.similar(folded)])
            scores = match_scores(folded, [index.strings[i] for i in ids.tolist()], partial=True)
        keep = scores >= MIN_SCORE
        ids, scores = ids[keep], scores[keep]
        rank = scores + POPULARITY_WEIGHT * np.log10(1.0 + index.popularity[ids])
        names: list[str] = []
        for i in ids[np.argsort(-rank, kind="stable")].tolist():
            name = self.artist_display[i]
            if name and name not in names:  # featured-only names have no display spelling
                names.append(shorten(name, MAX_LABEL))
            if len(names) >= limit:
                break
        return names


def _version_tail(core: str) -> str:
    """ "hey ya live" -> "live": version words typed after the title, without brackets."""
    words = core.split()
    tail = 0
    while tail < min(2, len(words) - 1) and words[-1 - tail] in TYPED_VERSION_WORDS:
        tail += 1
    return " ".join(words[len(words) - tail :]) if tail else ""


def candidate_to_dict(candidate: Candidate) -> dict:
    """A candidate as plain JSON-ready values."""
    return {
        "item_id": candidate.item_id,
        "title": candidate.title,
        "artist": candidate.artist,
        "score": round(float(candidate.score), 1),
        "listeners": int(candidate.listeners),
    }


def resolution_to_dict(resolution: Resolution) -> dict:
    """A resolution as plain JSON-ready values: query, artist, confident, close_call, kind
    ("song", or "artist" with artist_name: the query named an artist), candidates."""
    result = {
        "query": resolution.query,
        "artist": resolution.artist,
        "confident": resolution.confident,
        "close_call": resolution.close_call,
        "kind": resolution.kind,
    }
    if resolution.kind == "artist":
        result["artist_name"] = resolution.named_artist
    result["candidates"] = [candidate_to_dict(c) for c in resolution.candidates]
    return result


def resolve_batch(resolver: TitleResolver, lines: Iterable[str]) -> Iterator[dict]:
    """Resolve one query per line (``title`` or ``title<TAB>artist``); blank lines are skipped.

    Each result is :func:`resolution_to_dict` of it.
    """
    for line in lines:
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        title, _, artist = line.partition("\t")
        artist = artist.strip() or None
        yield resolution_to_dict(resolver.resolve(title, artist=artist))
