"""Encoding what the reader gives: string ids to codes, per-chunk vocabularies merged, the matrix.

Id columns are turned into per-chunk codes by :func:`factorize_strings` (in the reader's worker
threads); the per-chunk vocabularies are merged once at the end (:func:`merge_vocabularies`) and
the users x items matrix is built in one go (:meth:`InteractionsBuilder.to_csr`). Catalog
columns become the dataset's items with :func:`items_frame`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from .reading import single_array

UNKNOWN_ARTIST = "Unknown artist"

# -- string columns to codes ----------------------------------------------------------------------

MAX_KEY_BYTES = 64
_KEY_MULTIPLIER = np.uint64(0xFF51AFD7ED558CCD)
_KEY_SEED = 0x9E3779B97F4A7C15


@dataclass
class Factorized:
    """Codes for a string column: ``uniques[codes[i]] == values[i]``.

    ``uniques`` are in order of first appearance. ``keys`` is a 64-bit content key of each
    unique value, present when the values are all of one width (ids usually are), so
    vocabularies can be merged by key; None otherwise.
    """

    codes: np.ndarray
    uniques: pa.Array
    keys: np.ndarray | None


def _fixed_width_words(values: pa.Array) -> tuple[np.ndarray, int] | None:
    """The values as rows of 64-bit words (zero padded), when all have one width <= 64 bytes."""
    n = len(values)
    if n == 0 or values.null_count or values.type != pa.string():
        return None
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32, count=n + 1, offset=values.offset * 4)
    width = int(offsets[1] - offsets[0])
    if not 0 < width <= MAX_KEY_BYTES or int(offsets[-1] - offsets[0]) != n * width:
        return None
    if n > 1 and np.any(np.diff(offsets) != width):
        return None
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
    padded = np.zeros((n, (width + 7) // 8 * 8), dtype=np.uint8)
    padded[:, :width] = data[offsets[0] : offsets[0] + n * width].reshape(n, width)
    return padded.view(np.uint64), width


def _keys(words: np.ndarray, width: int) -> np.ndarray:
    """A 64-bit mix of each row of words (and the width, so padding cannot collide)."""
    key = np.full(len(words), (width * _KEY_SEED) % 2**64, dtype=np.uint64)
    for column in words.T:
        key ^= column
        key *= _KEY_MULTIPLIER
        key ^= key >> np.uint64(32)
    return key


def first_positions(codes: np.ndarray) -> np.ndarray:
    """Where each code first appears, given codes numbered in order of first appearance."""
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64)
    running = np.maximum.accumulate(codes)
    return np.flatnonzero(np.diff(running, prepend=-1))


def factorize_strings(values: pa.Array | pa.ChunkedArray, *, prefer_keys: bool = True) -> Factorized:
    """Codes and distinct values of a string column, exactly.

    With ``prefer_keys`` and values of one width, the values are hashed with numpy and
    factorized by pandas (about twice as fast as Arrow's hash table when most values are
    distinct); every row is then compared with its representative, word by word, so a hash
    collision can only cost speed: it falls back to Arrow's exact ``dictionary_encode``.
    """
    values = single_array(values)
    packed = _fixed_width_words(values) if prefer_keys else None
    if packed is not None:
        words, width = packed
        keys = _keys(words, width)
        codes, unique_keys = pd.factorize(keys)
        first = first_positions(codes)
        if np.array_equal(words, words[first][codes]):
            return Factorized(codes.astype(np.int32), values.take(pa.array(first)), unique_keys)
    encoded = pc.dictionary_encode(values)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    uniques = encoded.dictionary
    packed = _fixed_width_words(uniques)
    return Factorized(codes, uniques, _keys(*packed) if packed is not None else None)


class StringEncoder:
    """Factorizes chunks of one column, learning which method suits it.

    Columns where most values in a chunk repeat (the grouped user ids) are cheapest for
    Arrow's small hash table; columns of mostly distinct values (song ids) for keys.
    """

    KEYS_ABOVE_DISTINCT_SHARE = 0.05

    def __init__(self) -> None:
        self.prefer_keys = True

    def factorize(self, values) -> Factorized:
        result = factorize_strings(values, prefer_keys=self.prefer_keys)
        if len(result.codes):
            # A hint for the next chunks; a race between workers only costs a little speed.
            self.prefer_keys = len(result.uniques) > self.KEYS_ABOVE_DISTINCT_SHARE * len(result.codes)
        return result


def merge_vocabularies(parts: list[Factorized]) -> tuple[list[np.ndarray], pa.Array]:
    """Merge per-chunk vocabularies: per part, its uniques' global codes; and the global values.

    Global values are in order of first appearance across the parts. When every part has keys
    they are merged by key and checked value by value; otherwise (or on a collision) Arrow
    merges the strings exactly.
    """
    if not parts:
        return [], pa.array([], pa.string())
    sizes = [len(p.uniques) for p in parts]
    if all(p.keys is not None for p in parts):
        codes, _ = pd.factorize(np.concatenate([p.keys for p in parts]))
        first = first_positions(codes)
        values = pa.chunked_array([p.uniques for p in parts], type=pa.string()).take(pa.array(first))
        values = values.combine_chunks()
        maps = np.split(codes.astype(np.int32), np.cumsum(sizes)[:-1])
        if all(
            len(p.uniques) == 0 or pc.all(pc.equal(p.uniques, values.take(pa.array(m)))).as_py()
            for p, m in zip(parts, maps)
        ):
            return maps, values
    encoded = pc.dictionary_encode(pa.concat_arrays([p.uniques for p in parts]))
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    return np.split(codes, np.cumsum(sizes)[:-1]), encoded.dictionary


# -- interactions --------------------------------------------------------------------------------


_NO_CODES = np.zeros(0, dtype=np.int32)


@dataclass
class _InteractionPart:
    """One chunk, encoded: users as runs (files are grouped by user), item codes, counts."""

    users: Factorized  # without codes: the runs below carry them
    run_users: np.ndarray  # local user code of each run of equal users
    run_lengths: np.ndarray
    items: Factorized  # without codes: ``item_codes`` carries them
    item_codes: np.ndarray
    counts: np.ndarray


class InteractionsBuilder:
    """Collects chunks of (user, item, count) rows and builds the users x items matrix.

    :meth:`encode` runs in reader workers (one chunk each); :meth:`add` and the rest run in the
    reading thread. Tables need ``user`` and ``item`` string columns and optionally ``count``
    (absent: each row counts one play).

    Memory: each row costs 8 bytes while reading (item slot code and count, in two arrays sized
    from the first chunk's density), users cost 8 bytes per run of equal users. When users come
    grouped (each one's rows together, as in the Taste Profile), those arrays become the CSR
    matrix in place; otherwise the row indices are expanded and scipy sorts them.
    """

    def __init__(self) -> None:
        self._user_encoder = StringEncoder()
        self._item_encoder = StringEncoder()
        self._user_vocabs: list[Factorized] = []
        self._item_vocabs: list[Factorized] = []
        self._run_users: list[np.ndarray] = []  # user slot of each run
        self._run_lengths: list[np.ndarray] = []
        self._item_slots = np.zeros(0, dtype=np.int32)  # item slot of each row (grows)
        self._counts = np.zeros(0, dtype=np.float32)
        self._user_slot_total = 0
        self._item_slot_total = 0
        self.rows = 0
        self._user_ids: pa.Array | None = None  # set by finish()
        self._item_ids: pa.Array | None = None
        self._user_slot_map = np.zeros(0, dtype=np.int32)
        self._item_slot_map = np.zeros(0, dtype=np.int32)

    @property
    def user_ids(self) -> pa.Array:
        """Every user id, in order of first appearance (once :meth:`finish` merged them)."""
        if self._user_ids is None:
            raise RuntimeError("the vocabularies are merged by finish()")
        return self._user_ids

    @property
    def item_ids(self) -> pa.Array:
        """Every item id, in order of first appearance (once :meth:`finish` merged them)."""
        if self._item_ids is None:
            raise RuntimeError("the vocabularies are merged by finish()")
        return self._item_ids

    def encode(self, table: pa.Table) -> _InteractionPart:
        users = self._user_encoder.factorize(table.column("user"))
        items = self._item_encoder.factorize(table.column("item"))
        n = table.num_rows
        starts = np.flatnonzero(np.diff(users.codes)) + 1 if n else np.zeros(0, dtype=np.int64)
        bounds = np.concatenate([[0], starts, [n]]) if n else np.zeros(1, dtype=np.int64)
        run_users = users.codes[bounds[:-1]]
        run_lengths = np.diff(bounds).astype(np.int32)
        if "count" in table.column_names:
            counts = table.column("count").to_numpy().astype(np.float32)
        else:
            counts = np.ones(n, dtype=np.float32)
        # The parts keep each chunk's vocabulary, not its codes (the runs and item codes carry them).
        return _InteractionPart(
            Factorized(_NO_CODES, users.uniques, users.keys),
            run_users,
            run_lengths,
            Factorized(_NO_CODES, items.uniques, items.keys),
            items.codes,
            counts,
        )

    def add(self, part: _InteractionPart, expected_rows: int | None = None) -> None:
        """Append a chunk; ``expected_rows`` (an estimate of the file's rows) sizes the arrays once."""
        n = len(part.counts)
        needed = self.rows + n
        if needed > len(self._counts):
            capacity = max(needed, expected_rows or 0, int(len(self._counts) * 1.25))
            self._item_slots = _grown(self._item_slots, capacity, self.rows)
            self._counts = _grown(self._counts, capacity, self.rows)
        np.add(part.item_codes, self._item_slot_total, out=self._item_slots[self.rows : needed])
        self._counts[self.rows : needed] = part.counts
        self._run_users.append(part.run_users + self._user_slot_total)
        self._run_lengths.append(part.run_lengths)
        self._user_vocabs.append(part.users)
        self._item_vocabs.append(part.items)
        self._user_slot_total += len(part.users.uniques)
        self._item_slot_total += len(part.items.uniques)
        self.rows = needed

    def finish(self) -> None:
        """Merge the vocabularies: sets ``user_ids`` and ``item_ids`` (first appearance order)."""
        maps, self._user_ids = merge_vocabularies(self._user_vocabs)
        self._user_slot_map = np.concatenate(maps) if maps else np.zeros(0, dtype=np.int32)
        maps, self._item_ids = merge_vocabularies(self._item_vocabs)
        self._item_slot_map = np.concatenate(maps) if maps else np.zeros(0, dtype=np.int32)
        self._user_vocabs, self._item_vocabs = [], []

    def to_csr(self, item_columns: np.ndarray, n_items: int) -> sp.csr_matrix:
        """The matrix with ``item_ids[j]`` in column ``item_columns[j]``; repeated pairs summed.

        Consumes the collected rows (call once).
        """
        if self._user_ids is None:
            self.finish()
        n_users = len(self.user_ids)
        slot_columns = np.asarray(item_columns, dtype=np.int32)[self._item_slot_map]
        columns = self._item_slots[: self.rows]
        for start in range(0, self.rows, REMAP_BLOCK):  # in place, a block at a time
            block = columns[start : start + REMAP_BLOCK]
            np.take(slot_columns, block, out=block, mode="clip")
        counts = self._counts[: self.rows]
        run_users = (
            self._user_slot_map[np.concatenate(self._run_users)] if self._run_users else np.zeros(0, dtype=np.int32)
        )
        run_lengths = np.concatenate(self._run_lengths) if self._run_lengths else np.zeros(0, dtype=np.int32)
        # The matrix takes these arrays over: the builder lets go of them.
        self._item_slots, self._counts = np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        self._run_users, self._run_lengths = [], []
        if np.all(run_users[1:] >= run_users[:-1]):
            # Rows already in user order: the arrays are the CSR matrix as they are.
            per_user = np.bincount(run_users, weights=run_lengths, minlength=n_users).astype(np.int64)
            indptr = np.zeros(n_users + 1, dtype=np.int64)
            np.cumsum(per_user, out=indptr[1:])
            if self.rows < 2**31:
                indptr = indptr.astype(np.int32)
            matrix = sp.csr_matrix((counts, columns, indptr), shape=(n_users, n_items))
        else:
            rows = np.repeat(run_users, run_lengths)
            matrix = sp.coo_matrix((counts, (rows, columns)), shape=(n_users, n_items))
            del rows
            matrix = matrix.tocsr()
        matrix.sum_duplicates()  # sorts each row's columns and adds up repeated (user, item) pairs
        return matrix


REMAP_BLOCK = 1 << 20


def _grown(array: np.ndarray, capacity: int, used: int) -> np.ndarray:
    bigger = np.empty(capacity, dtype=array.dtype)
    bigger[:used] = array[:used]
    return bigger


# -- items ---------------------------------------------------------------------------------------


def items_frame(item_ids: pa.Array, titles: pa.Array, artists: pa.Array) -> pd.DataFrame:
    return pa.table({"item_id": item_ids, "title": titles, "artist": artists}).to_pandas()


def text_or(values: pa.Array, fallback) -> pa.Array:
    """``values`` with empty strings replaced by ``fallback`` (an array or a scalar)."""
    empty = pc.equal(pc.binary_length(values), 0)
    if not pc.any(empty).as_py():
        return values
    return pc.if_else(empty, fallback, values)
