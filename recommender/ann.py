"""Approximate nearest neighbours for "similar to" over very large catalogs ([serving] index = "ann").

Brute force (one matrix-vector product over all item factors) costs about 3 ms per query at
the MSD's 384 k songs and grows linearly: about a second at 10 M songs. This module builds an
inverted-file index (faiss-cpu ``IndexIVFFlat``, inner product on unit rows, i.e. cosine)
that answers in a few milliseconds at 10 M with recall@10 >= 0.95.

Why IVF-Flat: measured with ``python -m bench.steps ann-compare`` (bench/README figures),
HNSW graphs (hnswlib, faiss HNSW) reach the same recall but build 8-10x slower on 2 cores
(a 10 M catalog would take well over 10 minutes); IVF-Flat trains on a sample and adds rows
at memory speed. ``nprobe`` (lists searched per query) is calibrated at build time against
exact answers for a sample of items, so the recall target holds at any catalog size.

Small catalogs (under ``EXACT_BELOW`` items) get an exact flat index: no approximation where
it buys nothing. Indexes are saved with faiss's own format (no pickle).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recommender.atomic import write_text_atomically

from .errors import ModelError, SoundalikeError

LIBRARY = "faiss-cpu IndexIVFFlat (inner product)"
# Below this many items an exact index is as fast as any approximate one.
EXACT_BELOW = 50_000
DEFAULT_TARGET_RECALL = 0.95
# [serving] index = "auto" uses an index from this many scanned items up: at the MSD's 384 k
# songs brute force costs 3.4 ms per answer and the index 0.35 ms at recall@10 0.9997
# (bench/README.md); below 200 k brute force stays within the 5 ms budget.
AUTO_FROM_ITEMS = 200_000
CALIBRATION_QUERIES = 200
CALIBRATION_K = 10
QUERY_THREADS = 1


class AnnUnavailable(SoundalikeError):
    """[serving] index = "ann" needs faiss-cpu, which is not installed."""


def _faiss():
    try:
        import faiss
    except ImportError:
        raise AnnUnavailable(
            '[serving] index = "ann" needs faiss-cpu: pip install -r requirements.txt '
            '(or set [serving] index = "brute")'
        ) from None
    return faiss


@dataclass
class AnnIndex:
    """A built index and how to query it."""

    index: Any  # the faiss index (faiss ships no type information)
    n_items: int
    kind: str  # "ivf" or "exact"
    nprobe: int = 1
    calibrated_recall: float | None = None  # recall@10 measured at build time


def _as_rows(vectors: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(f"{what} must be 2-D (rows x factors), got shape {array.shape}")
    return np.ascontiguousarray(array)


def build_index(
    normalized_factors: np.ndarray,
    *,
    target_recall: float = DEFAULT_TARGET_RECALL,
    seed: int = 1,
    threads: int | None = None,
) -> AnnIndex:
    """Index unit-length item rows (items x factors) for inner-product search.

    Large arrays (a memmap included) are added in chunks, so only the index holds a copy.
    """
    faiss = _faiss()
    n_items, dim = np.shape(normalized_factors)
    if n_items == 0:
        raise ModelError("cannot build a nearest-neighbour index over no items")
    faiss.omp_set_num_threads(threads or os.cpu_count() or 1)
    try:
        return _build(faiss, normalized_factors, n_items, dim, target_recall, seed)
    finally:
        # Queries come one at a time from the bot's worker threads: OpenMP threads per query
        # only spin against each other (on 2 busy cores a 0.1 ms search took 30 ms).
        faiss.omp_set_num_threads(QUERY_THREADS)


def _build(faiss, normalized_factors, n_items: int, dim: int, target_recall: float, seed: int) -> AnnIndex:
    if n_items < EXACT_BELOW:
        index = faiss.IndexFlatIP(dim)
        index.add(_as_rows(normalized_factors, "normalized_factors"))
        return AnnIndex(index=index, n_items=n_items, kind="exact", calibrated_recall=1.0)

    # About 2 sqrt(n) lists; k-means trains on 40 points per list (faiss's own advice).
    nlist = int(np.clip(round(2 * np.sqrt(n_items)), 16, 65_536))
    rng = np.random.default_rng(seed)
    sample_ids = np.sort(rng.choice(n_items, size=min(n_items, 40 * nlist), replace=False))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    index.train(_as_rows(normalized_factors[sample_ids], "normalized_factors"))
    for start in range(0, n_items, 500_000):
        index.add(_as_rows(normalized_factors[start : start + 500_000], "normalized_factors"))
    built = AnnIndex(index=index, n_items=n_items, kind="ivf")
    _calibrate(built, normalized_factors, target_recall, rng)
    return built


def exact_top_k(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Ids of the ``k`` rows of ``data`` with the largest inner product with each query row,
    best first (queries x k): the exact answer an index is judged against.

    Works in blocks (128 queries x 131,072 rows) so the score matrix stays small (~70 MB) and
    ``data`` may be a memmap larger than memory.
    """
    if len(queries) > 128:
        return np.concatenate(
            [exact_top_k(data, queries[start : start + 128], k) for start in range(0, len(queries), 128)]
        )
    best = np.empty((len(queries), 0), dtype=np.int64)
    best_scores = np.empty((len(queries), 0), dtype=np.float32)
    for start in range(0, len(data), 131_072):
        scores = queries @ np.asarray(data[start : start + 131_072], dtype=np.float32).T
        top = np.argpartition(scores, -min(k, scores.shape[1]), axis=1)[:, -k:]
        best = np.concatenate([best, top + start], axis=1)
        best_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, axis=1)], axis=1)
        keep = np.argsort(-best_scores, axis=1)[:, :k]
        best = np.take_along_axis(best, keep, axis=1)
        best_scores = np.take_along_axis(best_scores, keep, axis=1)
    return best


def _calibrate(built: AnnIndex, data: np.ndarray, target_recall: float, rng: np.random.Generator) -> None:
    """Smallest nprobe (doubling) whose recall@10 on sampled items meets the target."""
    ids = np.sort(rng.choice(built.n_items, size=min(built.n_items, CALIBRATION_QUERIES), replace=False))
    queries = _as_rows(data[ids], "normalized_factors")
    exact = exact_top_k(data, queries, CALIBRATION_K)
    nlist = built.index.nlist
    nprobe = 8
    while True:
        built.index.nprobe = built.nprobe = min(nprobe, nlist)
        _, found = built.index.search(queries, CALIBRATION_K)
        hits = sum(len(set(f.tolist()) & set(e.tolist())) for f, e in zip(found, exact))
        built.calibrated_recall = round(hits / exact.size, 4)
        # A small margin over the target: the sample is only a sample.
        if built.calibrated_recall >= min(1.0, target_recall + 0.02) or nprobe >= nlist:
            return
        nprobe *= 2


def query(index: AnnIndex, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` items for each query row: (ids int64, scores float32), each (queries x k).

    Fewer than ``k`` found (tiny catalogs) are padded with id -1 and score -inf.
    """
    rows = _as_rows(vectors, "vectors")
    if index.kind == "ivf":
        index.index.nprobe = index.nprobe
    scores, ids = index.index.search(rows, int(min(k, index.n_items)))
    if ids.shape[1] < k:
        pad = k - ids.shape[1]
        ids = np.pad(ids, ((0, 0), (0, pad)), constant_values=-1)
        scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
    scores = np.where(ids >= 0, scores, -np.inf).astype(np.float32)
    return ids.astype(np.int64), scores


def save_index(index: AnnIndex, path: str | Path) -> None:
    """Write the index (faiss format) beside a small JSON of its settings; temp then rename."""
    import json

    faiss = _faiss()
    path = Path(path)
    temp = path.with_name(path.name + ".tmp")
    faiss.write_index(index.index, str(temp))
    os.replace(temp, path)
    settings = {
        "n_items": index.n_items,
        "kind": index.kind,
        "nprobe": index.nprobe,
        "calibrated_recall": index.calibrated_recall,
    }
    write_text_atomically(path.with_name(path.name + ".json"), json.dumps(settings) + "\n")


def load_index(path: str | Path) -> AnnIndex:
    import json

    faiss = _faiss()
    path = Path(path)
    side = path.with_name(path.name + ".json")
    if not path.exists() or not side.exists():
        raise ModelError(f"{path}: no saved nearest-neighbour index (or its settings) here")
    settings = json.loads(side.read_text(encoding="utf-8"))
    index = faiss.read_index(str(path))
    if index.ntotal != settings["n_items"]:
        raise ModelError(f"{path}: index holds {index.ntotal} items, its settings say {settings['n_items']}")
    return AnnIndex(
        index=index,
        n_items=settings["n_items"],
        kind=settings["kind"],
        nprobe=settings["nprobe"],
        calibrated_recall=settings["calibrated_recall"],
    )
