"""The imported dataset: a compact binary form that loads in about a second.

A dataset folder ``data/datasets/<name>/`` holds:

- ``interactions.npz``: users x items CSR matrix of play counts (float32), written by
  :func:`scipy.sparse.save_npz` uncompressed and read back with ``allow_pickle=False``.
- ``items.parquet``: one row per item index: ``item_id``, ``title``, ``artist`` and any
  extra catalog columns (the demo has ``genre`` and ``year``).
- ``users.parquet``: one row per user index: ``user_id``. Loaded only when asked for
  (the bot never needs it).
- ``listeners.npy``, ``item_users_indptr.npy``, ``item_users_indices.npy``: each item's
  listener count and listeners (the matrix by columns), derived at import so the bot can
  memory-map them instead of reading and transposing the whole matrix at start (at MSD
  scale that was 3 s and 400 MB). Older datasets without them are derived on first use.
- ``manifest.json``: name, counts, source, creation time, and a fingerprint that models
  record so a model trained on other data is refused.

A dataset imported by Spark (``data import-* --engine spark``, recommender.spark.importing) has
``"storage": "parquet"`` in its manifest and ``interactions.parquet/`` (a folder of Parquet
parts: user, item, count; written by Spark) instead of ``interactions.npz``; the derived arrays
and the catalog are the same files, so serving reads it as any other. Spark trains on the
Parquet folder directly; the matrix is built here only if evaluation or /retrain ask for it.

Nothing here is ever unpickled. Datasets are written to a temporary sibling folder and
renamed into place, so a failed import never leaves a half-written dataset.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import scipy.sparse as sp

from .atomic import atomic_directory
from .errors import DataError, DatasetNotFound

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
INTERACTIONS = "interactions.npz"
INTERACTIONS_PARQUET = "interactions.parquet"
PARQUET_STORAGE = "parquet"
ITEMS = "items.parquet"
USERS = "users.parquet"
LISTENERS = "listeners.npy"
ITEM_USERS_INDPTR = "item_users_indptr.npy"
ITEM_USERS_INDICES = "item_users_indices.npy"


def dataset_name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a dataset (its folder under datasets/ and models/), or None.

    A name is one folder: not empty, no "/", not starting with "." (no "..", no hidden or
    temporary folder), no NUL. Dataset.open and ModelStore.for_dataset both go by this."""
    if not isinstance(name, str) or not name:
        return "is empty"
    if "/" in name:
        return "holds a '/'"
    if name.startswith("."):
        return "starts with '.'"
    if "\0" in name:
        return "holds a NUL character"
    return None


def fingerprint(interactions: sp.csr_matrix, item_ids: np.ndarray) -> str:
    """A short content hash of the matrix and item vocabulary.

    Hashes the CSR arrays themselves; blake2b runs at about 1 GB/s, so 48 M triplets
    (about 400 MB of arrays) cost well under a second, paid once at import.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.asarray(interactions.shape, dtype=np.int64).tobytes())
    for array in (interactions.indptr, interactions.indices, interactions.data):
        digest.update(np.ascontiguousarray(array).view(np.uint8).data)  # the bytes, not copied
    for item_id in item_ids:
        digest.update(str(item_id).encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class ItemUsers:
    """Who played each item: ``indices[indptr[i]:indptr[i + 1]]`` are item i's users."""

    indptr: np.ndarray
    indices: np.ndarray

    def of(self, item: int) -> np.ndarray:
        return self.indices[self.indptr[item] : self.indptr[item + 1]]


class Dataset:
    """A dataset. ``interactions[u, i]`` is user u's play count of item i.

    Loaded from disk, the interactions matrix is read on first use only: serving needs the
    catalog and the memory-mapped item-major arrays, training and evaluation the matrix.
    """

    def __init__(
        self,
        *,
        name: str,
        path: str | Path,
        items: pd.DataFrame,
        interactions: sp.csr_matrix | None = None,
        manifest: dict | None = None,
    ):
        self.name = name
        self.path = Path(path)
        self.items = items
        self.manifest = manifest or {}
        self._interactions = interactions
        # Derived arrays on disk describe the stored matrix, never one given by a caller
        # (evaluation passes its training part and must not see the held-out plays).
        self._derived_on_disk = interactions is None

    def __repr__(self) -> str:
        return f"Dataset(name={self.name!r}, users={self.n_users}, items={self.n_items})"

    # -- loading -----------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Dataset:
        path = Path(path)
        manifest_path = path / MANIFEST
        if not manifest_path.exists():
            raise DatasetNotFound(
                f"No dataset at {path} (no {MANIFEST}). Build one with "
                "`python -m recommender data demo` or an import command."
            )
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("format_version") != FORMAT_VERSION:
            raise DataError(
                f"dataset format {manifest.get('format_version')!r} is not the supported "
                f"{FORMAT_VERSION}; import it again",
                path=manifest_path,
            )
        stored = INTERACTIONS_PARQUET if manifest.get("storage") == PARQUET_STORAGE else INTERACTIONS
        if not (path / stored).exists():
            raise DataError(f"{stored} is missing; import the dataset again", path=path)
        items = pq.read_table(path / ITEMS).to_pandas()
        if "items" in manifest and manifest["items"] != len(items):
            raise DataError(f"{manifest['items']} items in {MANIFEST} but {len(items)} catalog rows", path=path)
        return cls(name=manifest["name"], path=path, items=items, manifest=manifest)

    @property
    def interactions(self) -> sp.csr_matrix:
        if self._interactions is None:
            interactions = (
                self._parquet_matrix()
                if self.is_parquet
                else sp.load_npz(self.path / INTERACTIONS).tocsr()  # allow_pickle=False inside
            )
            if interactions.shape[1] != len(self.items):
                raise DataError(
                    f"{interactions.shape[1]} item columns but {len(self.items)} catalog rows", path=self.path
                )
            self._interactions = interactions
        return self._interactions

    @property
    def is_parquet(self) -> bool:
        """Imported by Spark: its interactions are a Parquet folder Spark trains on directly."""
        return self.manifest.get("storage") == PARQUET_STORAGE

    @property
    def interactions_parquet(self) -> Path:
        return self.path / INTERACTIONS_PARQUET

    def _parquet_matrix(self) -> sp.csr_matrix:
        """The Parquet interactions as the users x items matrix (only when a caller needs it)."""
        table = pq.read_table(self.interactions_parquet, columns=["user", "item", "count"])
        users, items = int(self.manifest["users"]), len(self.items)
        matrix = sp.csr_matrix(
            (
                table.column("count").to_numpy().astype(np.float32),
                (table.column("user").to_numpy(), table.column("item").to_numpy()),
            ),
            shape=(users, items),
        )
        matrix.sort_indices()
        return matrix

    @property
    def n_interactions(self) -> int:
        """Stored (user, item) pairs: from the manifest when the matrix is not loaded."""
        if self._interactions is None and "interactions" in self.manifest:
            return int(self.manifest["interactions"])
        return int(self.interactions.nnz)

    @classmethod
    def open(cls, datasets_dir: str | Path, name: str) -> Dataset:
        problem = dataset_name_problem(name)
        if problem is not None:
            # Path(datasets_dir) / "/etc" is "/etc", and "../x" leaves the folder: refuse both.
            raise DatasetNotFound(f"{str(name)[:60]!r} is not a dataset name: it {problem}")
        path = Path(datasets_dir) / name
        if not (path / MANIFEST).exists():
            known = (
                sorted(p.name for p in Path(datasets_dir).glob("*/") if (p / MANIFEST).exists())
                if Path(datasets_dir).exists()
                else []
            )
            hint = f" Known datasets: {', '.join(known)}." if known else ""
            raise DatasetNotFound(
                f"No dataset named {name!r} in {datasets_dir}.{hint} Build the demo with "
                "`python -m recommender data demo` or import one with `data import-msd`/`import-csv`."
            )
        return cls.load(path)

    # -- shape and vocabularies --------------------------------------------------------
    @property
    def n_users(self) -> int:
        if self._interactions is None and "users" in self.manifest:
            return int(self.manifest["users"])
        return self.interactions.shape[0]

    @property
    def n_items(self) -> int:
        return len(self.items) if self._interactions is None else self._interactions.shape[1]

    @property
    def fingerprint(self) -> str:
        return self.manifest["fingerprint"]

    @cached_property
    def item_ids(self) -> np.ndarray:
        return self.items["item_id"].to_numpy(dtype=object)

    @cached_property
    def _item_index(self) -> dict[str, int]:
        return {item_id: index for index, item_id in enumerate(self.item_ids)}

    def item_index(self, item_id: str) -> int | None:
        """Index of an item id, or None when the catalog does not have it."""
        return self._item_index.get(item_id)

    @cached_property
    def user_ids(self) -> np.ndarray:
        return pq.read_table(self.path / USERS).column("user_id").to_numpy(zero_copy_only=False)

    def _derived(self, name: str) -> np.ndarray | None:
        """A derived array saved at import, memory-mapped (pages load on demand)."""
        file = self.path / name
        if not self._derived_on_disk or not file.exists():
            return None
        # A plain view of the map: np.memmap pays Python overhead on every indexing.
        return np.load(file, mmap_mode="r", allow_pickle=False).view(np.ndarray)

    @cached_property
    def listeners(self) -> np.ndarray:
        """Number of distinct users who played each item (the popularity used for ties)."""
        saved = self._derived(LISTENERS)
        if saved is not None and len(saved) == self.n_items:
            return np.asarray(saved, dtype=np.int64)
        return np.bincount(self.interactions.indices, minlength=self.n_items).astype(np.int64)

    @cached_property
    def item_user(self) -> ItemUsers:
        """Each item's listeners, for "who played this item" lookups (co-listener reasons)."""
        indptr, indices = self._derived(ITEM_USERS_INDPTR), self._derived(ITEM_USERS_INDICES)
        if indptr is not None and indices is not None and len(indptr) == self.n_items + 1:
            return ItemUsers(indptr=indptr, indices=indices)
        return _item_major(self.interactions)

    # An answer looks up about twenty titles and artists; pandas' ``.at`` costs ~14 us a
    # lookup at MSD scale (a quarter of a millisecond per answer), an arrow array under 1 us.
    @cached_property
    def _titles(self) -> pa.Array:
        return arrow_strings(self.items["title"])

    @cached_property
    def _artists(self) -> pa.Array:
        return arrow_strings(self.items["artist"])

    def title(self, index: int) -> str:
        return self._titles[index].as_py()

    def artist(self, index: int) -> str:
        return self._artists[index].as_py()


def arrow_strings(column) -> pa.Array:
    """A column as one arrow string array, nulls as "" (zero-copy when already arrow)."""
    if isinstance(column, pd.Series):
        column = column.to_numpy(dtype=object) if column.dtype == object else column.array
    array = column if isinstance(column, (pa.Array, pa.ChunkedArray)) else pa.array(column, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
        array = pc.cast(array, pa.string())
    return pc.fill_null(array, "") if array.null_count else array


def distinct_strings(array: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(code of each row, the distinct values), codes in order of first appearance: catalogs
    repeat titles and artists a lot, so each distinct one is parsed once."""
    encoded = pc.dictionary_encode(array)
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary


def iter_strings(array: pa.Array, block: int = 1 << 16) -> Iterator[str]:
    """The values as Python strings, a block at a time (never a million objects at once)."""
    for start in range(0, len(array), block):
        yield from array.slice(start, block).to_pylist()


def _item_major(interactions: sp.csr_matrix) -> ItemUsers:
    """Each item's users (the CSC structure), without carrying the play counts along."""
    pattern = sp.csr_matrix(
        (np.ones(interactions.nnz, dtype=np.int8), interactions.indices, interactions.indptr), shape=interactions.shape
    )
    by_item = pattern.tocsc()
    return ItemUsers(indptr=by_item.indptr, indices=by_item.indices)


def write_dataset(
    dest: str | Path,
    *,
    name: str,
    interactions: sp.csr_matrix,
    items: pd.DataFrame,
    user_ids: np.ndarray | pa.Array | list,
    source: dict | None = None,
) -> Path:
    """Write a dataset folder atomically. ``items`` needs item_id, title, artist columns."""
    missing = {"item_id", "title", "artist"} - set(items.columns)
    if missing:
        raise ValueError(f"items lacks columns {sorted(missing)}")
    interactions = sp.csr_matrix(interactions, dtype=np.float32)
    interactions.sort_indices()
    if interactions.shape != (len(user_ids), len(items)):
        raise ValueError(f"matrix shape {interactions.shape} != ({len(user_ids)} users, {len(items)} items)")
    items = items.reset_index(drop=True)
    dest = Path(dest)
    # The item-major copy (a transpose of every play) and the content hash each take a second
    # or two at MSD scale and release the GIL: they run while the matrix and catalog are written.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="write-dataset") as pool:
        by_item_later = pool.submit(_item_major, interactions)
        fingerprint_later = pool.submit(fingerprint, interactions, items["item_id"].to_numpy())
        with atomic_directory(dest) as temp:
            sp.save_npz(temp / INTERACTIONS, interactions, compressed=False)
            pq.write_table(pa.Table.from_pandas(items, preserve_index=False), temp / ITEMS)
            users = (
                user_ids if isinstance(user_ids, pa.Array) else pa.array(np.asarray(user_ids, dtype=object).astype(str))
            )
            pq.write_table(pa.table({"user_id": users}), temp / USERS)
            by_item = by_item_later.result()
            listeners = np.diff(by_item.indptr)
            np.save(temp / LISTENERS, listeners.astype(np.int64), allow_pickle=False)
            np.save(temp / ITEM_USERS_INDPTR, by_item.indptr, allow_pickle=False)
            np.save(temp / ITEM_USERS_INDICES, by_item.indices, allow_pickle=False)
            manifest = {
                "format_version": FORMAT_VERSION,
                "name": name,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "users": int(interactions.shape[0]),
                "items": int(interactions.shape[1]),
                "interactions": int(interactions.nnz),
                "items_with_listeners": int(np.count_nonzero(listeners)),
                "fingerprint": fingerprint_later.result(),
                "source": source or {},
            }
            (temp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return dest
