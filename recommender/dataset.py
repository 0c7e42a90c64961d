"""The imported dataset: a compact binary form that loads in about a second.

A dataset folder ``data/datasets/<name>/`` holds:

- ``interactions.npz``: users x items CSR matrix of play counts (float32), written by
  :func:`scipy.sparse.save_npz` uncompressed and read back with ``allow_pickle=False``.
- ``items.parquet``: one row per item index: ``item_id``, ``title``, ``artist`` and any
  extra catalog columns (the demo has ``genre`` and ``year``).
- ``users.parquet``: one row per user index: ``user_id``. Loaded only when asked for
  (the bot never needs it).
- ``manifest.json``: name, counts, source, creation time, and a fingerprint that models
  record so a model trained on other data is refused.

Nothing here is ever unpickled. Datasets are written to a temporary sibling folder and
renamed into place, so a failed import never leaves a half-written dataset.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp

from .errors import DatasetNotFound, DataError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
INTERACTIONS = "interactions.npz"
ITEMS = "items.parquet"
USERS = "users.parquet"


def fingerprint(interactions: sp.csr_matrix, item_ids: np.ndarray) -> str:
    """A short content hash of the matrix and item vocabulary.

    Hashes the CSR arrays themselves; blake2b runs at about 1 GB/s, so 48 M triplets
    (about 400 MB of arrays) cost well under a second, paid once at import.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.asarray(interactions.shape, dtype=np.int64).tobytes())
    for array in (interactions.indptr, interactions.indices, interactions.data):
        digest.update(np.ascontiguousarray(array).view(np.uint8))
    for item_id in item_ids:
        digest.update(str(item_id).encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass
class Dataset:
    """A loaded dataset. ``interactions[u, i]`` is user u's play count of item i."""

    name: str
    path: Path
    interactions: sp.csr_matrix
    items: pd.DataFrame
    manifest: dict = field(default_factory=dict)

    # -- loading -----------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> "Dataset":
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
        interactions = sp.load_npz(path / INTERACTIONS).tocsr()  # allow_pickle=False inside
        items = pq.read_table(path / ITEMS).to_pandas()
        if interactions.shape[1] != len(items):
            raise DataError(
                f"{interactions.shape[1]} item columns but {len(items)} catalog rows",
                path=path,
            )
        return cls(name=manifest["name"], path=path, interactions=interactions,
                   items=items, manifest=manifest)

    @classmethod
    def open(cls, datasets_dir: str | Path, name: str) -> "Dataset":
        path = Path(datasets_dir) / name
        if not (path / MANIFEST).exists():
            known = sorted(p.name for p in Path(datasets_dir).glob("*/") if (p / MANIFEST).exists()) \
                if Path(datasets_dir).exists() else []
            hint = f" Known datasets: {', '.join(known)}." if known else ""
            raise DatasetNotFound(
                f"No dataset named {name!r} in {datasets_dir}.{hint} Build the demo with "
                "`python -m recommender data demo` or import one with `data import-msd`/`import-csv`."
            )
        return cls.load(path)

    # -- shape and vocabularies --------------------------------------------------------
    @property
    def n_users(self) -> int:
        return self.interactions.shape[0]

    @property
    def n_items(self) -> int:
        return self.interactions.shape[1]

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

    @cached_property
    def listeners(self) -> np.ndarray:
        """Number of distinct users who played each item (the popularity used for ties)."""
        return np.bincount(self.interactions.indices, minlength=self.n_items).astype(np.int64)

    @cached_property
    def item_user(self) -> sp.csc_matrix:
        """Column-major view for "who played this item" lookups (co-listener reasons)."""
        return self.interactions.tocsc()

    def title(self, index: int) -> str:
        return str(self.items.at[index, "title"])

    def artist(self, index: int) -> str:
        return str(self.items.at[index, "artist"])


@contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it replaces ``final`` in one rename.

    On any exception the temporary folder is removed and ``final`` is left as it was.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        yield temp
        if final.exists():
            # Move the old one aside first, so the swap is two renames and never a merge.
            old = final.with_name(f".{final.name}.old-{os.getpid()}-{time.time_ns()}")
            os.replace(final, old)
            os.replace(temp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temp, final)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


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
        raise ValueError(
            f"matrix shape {interactions.shape} != ({len(user_ids)} users, {len(items)} items)"
        )
    items = items.reset_index(drop=True)
    dest = Path(dest)
    manifest = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "users": int(interactions.shape[0]),
        "items": int(interactions.shape[1]),
        "interactions": int(interactions.nnz),
        "items_with_listeners": int(np.count_nonzero(np.diff(interactions.tocsc().indptr))),
        "fingerprint": fingerprint(interactions, items["item_id"].to_numpy()),
        "source": source or {},
    }
    with atomic_directory(dest) as temp:
        sp.save_npz(temp / INTERACTIONS, interactions, compressed=False)
        pq.write_table(pa.Table.from_pandas(items, preserve_index=False), temp / ITEMS)
        users = user_ids if isinstance(user_ids, pa.Array) else pa.array(np.asarray(user_ids, dtype=object).astype(str))
        pq.write_table(pa.table({"user_id": users}), temp / USERS)
        (temp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return dest
