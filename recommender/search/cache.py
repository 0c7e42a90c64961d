"""The title index saved beside its dataset, so later starts load it instead of building it.

A folder ``resolver-index/`` inside the dataset folder holds plain arrays (``.npy``, read with
``allow_pickle=False``), string tables (Arrow IPC files) and ``manifest.json``. It is written
whole into a temporary sibling and renamed into place (:func:`recommender.atomic.atomic_directory`),
so a reader finds the old index, the new one, or none. Loaded arrays are memory-mapped: pages
load on demand and are shared by every process serving the dataset.

The manifest's key (:func:`cache_key`) covers the dataset, its titles and artists, and the code
that builds the index, so any change to them rebuilds it. This module knows arrays and strings
only; :class:`recommender.search.resolver.TitleResolver` says which ones make an index.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa

from recommender.atomic import atomic_directory

log = logging.getLogger(__name__)

# The saved index: a folder inside the dataset folder, rebuilt when its key changes.
CACHE_DIR = "resolver-index"
CACHE_FORMAT = 2  # 2: version groups saved under "versions." (they were the resolver's own arrays)
MANIFEST = "manifest.json"
# Arrays smaller than this are read into memory; a memory map of a few bytes costs more.
MMAP_FROM_BYTES = 4096

# The code an index depends on: normalization, version groups and the index layout.
_SOURCES = (
    "search/strings.py",
    "search/scoring.py",
    "search/cache.py",
    "search/index.py",
    "search/resolver.py",
    "versions.py",
    "text.py",
)

Built = TypeVar("Built")


@dataclass(frozen=True)
class SavedIndex:
    """What a saved index holds: arrays (memory-mapped) and string tables, by name."""

    arrays: dict[str, np.ndarray]
    strings: dict[str, list]


def cache_key(dataset: object, titles: pa.Array, artists: pa.Array) -> str:
    """What the saved index depends on: the dataset's fingerprint, its titles and artists, and
    the code that builds the index, so any change to them rebuilds it."""
    digest = hashlib.blake2b(digest_size=16)
    manifest = getattr(dataset, "manifest", None) or {}
    digest.update(str(manifest.get("fingerprint")).encode())
    for column in (titles, artists):
        digest.update(f"{len(column)}:{column.offset}".encode())
        for buffer in column.buffers():
            if buffer is not None:
                digest.update(buffer)
    package = Path(__file__).resolve().parent.parent  # recommender/
    for source in _SOURCES:
        digest.update((package / source).read_bytes())
    return digest.hexdigest()


def save_index(
    folder: Path, key: str, arrays: Mapping[str, np.ndarray], strings: Mapping[str, Sequence[str | None]], items: int
) -> None:
    """Write the index into ``folder`` atomically; a failure only costs the next start a build."""
    try:
        with atomic_directory(folder) as temp:
            _write(temp, key, arrays, strings, items)
    except OSError as error:  # read-only dataset folder, full disk, a concurrent writer
        log.warning("could not save the title index in %s (%s); it will be built again next time", folder, error)


def _write(
    temp: Path, key: str, arrays: Mapping[str, np.ndarray], strings: Mapping[str, Sequence[str | None]], items: int
) -> None:
    """The arrays, string tables and manifest, into the empty folder ``temp``."""
    for name, array in arrays.items():
        np.save(temp / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
    for name, values in strings.items():
        table = pa.table({"value": pa.array(values, type=pa.large_string())})
        with pa.OSFile(str(temp / f"{name}.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
    manifest = {
        "format": CACHE_FORMAT,
        "key": key,
        "items": items,
        "arrays": sorted(arrays),
        "strings": sorted(strings),
    }
    (temp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def load_index(folder: Path, key: str, assemble: Callable[[SavedIndex], Built]) -> Built | None:
    """``assemble`` of the index saved in ``folder`` when it was saved under ``key``; None when
    there is none, it is stale, or it is damaged (logged), and the caller builds it again.

    ``assemble`` raises KeyError for a part it misses and ValueError for parts that do not fit.
    """
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("format") != CACHE_FORMAT or manifest.get("key") != key:
            return None
        saved = SavedIndex(
            arrays={name: _array(folder, name) for name in manifest["arrays"]},
            strings={name: _strings(folder, name) for name in manifest["strings"]},
        )
        return assemble(saved)
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as error:
        log.warning("ignoring the saved title index in %s (%s); building it again", folder, error)
        return None


def _array(folder: Path, name: str) -> np.ndarray:
    path = folder / f"{name}.npy"
    # Memory-mapped: pages load on demand and are shared by every process.
    array = np.load(path, mmap_mode="r" if path.stat().st_size > MMAP_FROM_BYTES else None, allow_pickle=False)
    # A plain view of the map: np.memmap pays Python overhead on every indexing.
    return array.view(np.ndarray) if isinstance(array, np.memmap) else array


def _strings(folder: Path, name: str) -> list:
    with pa.memory_map(str(folder / f"{name}.arrow")) as source:
        return pa.ipc.open_file(source).read_all().column("value").to_pylist()
