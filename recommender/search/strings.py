"""The string index: unique normalized strings (titles, or artist names) and their look-ups.

:class:`StringIndex` keeps its strings ordered by (length, text), so "strings of about this
length" is one id range, and answers three questions without scanning:

- exactly this string? (:meth:`~StringIndex.find`: bisection of the alphabetical order);
- which strings start with this? (:meth:`~StringIndex.prefixed`, most popular first);
- which strings share the most character trigrams with this, typos and all?
  (:meth:`~StringIndex.similar`: a numpy CSR inverted index, trigram -> ids sorted by id, read
  within a bounded budget of postings, rarest trigrams first).

Everything is plain arrays (:meth:`~StringIndex.arrays`), so the index is saved and
memory-mapped as it is (:mod:`recommender.search.cache`).
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _sorted_unique_in_place(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting in place (numpy's hash-based unique is slower on big int arrays)."""
    values.sort()
    if not len(values):
        return values
    return values[np.r_[True, values[1:] != values[:-1]]]


def sorted_distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values; for the small arrays of one query, sorting beats hashing."""
    values = np.sort(values)
    if len(values) < 2:
        return values
    return values[np.r_[True, values[1:] != values[:-1]]]


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
        keys = _sorted_unique_in_place(grams)  # sorted by (trigram, id), duplicates gone
        del grams
        posting = (keys % n).astype(np.int32)
        keys //= n  # now the trigram of each posting
        gram_of_key = keys
    else:  # huge alphabets (many scripts): rank the trigrams first
        gram_values, gram_rank = np.unique(grams, return_inverse=True)
        keys = _sorted_unique_in_place(gram_rank.astype(np.int64) * n + owner)
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


class StringIndex:
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

    def __init__(self, strings: list[str], arrays: Mapping[str, np.ndarray]):
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
        """The index as plain arrays (with :attr:`strings`, everything needed to rebuild it)."""
        return {name: getattr(self, name) for name in self.ARRAYS}

    @classmethod
    def build(cls, strings: Sequence[str], popularity: np.ndarray) -> tuple[StringIndex, np.ndarray]:
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
        arrays: dict[str, np.ndarray] = {
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
        return sorted_distinct(np.concatenate(picked))

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
        above = sorted_distinct(ids[shared > cut])
        at_cut = sorted_distinct(ids[shared == cut])
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
            found = sorted_distinct(ids[keep]).astype(np.int64)
            if len(found) > self.LONGER_CANDIDATES:
                # Shortest first: the least left untyped.
                found = found[np.argsort(self.lengths[found], kind="stable")[: self.LONGER_CANDIDATES]]
            picked.append(found)
        shorter = ids < low
        if shorter.any():
            keep = shorter & (shared >= 2)
            keep[keep] = shared[keep] >= 0.5 * self.lengths[ids[keep]]
            found = sorted_distinct(ids[keep]).astype(np.int64)
            if len(found) > self.SHORTER_CANDIDATES:
                found = found[np.argsort(-self.lengths[found], kind="stable")[: self.SHORTER_CANDIDATES]]
            picked.append(found)
        return np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)
