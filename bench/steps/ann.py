"""(j) approximate nearest neighbours: recommender.ann over 10 M x scale synthetic factor rows
beside brute force (the library's own exact top-k)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from bench.steps.context import Context, percentiles, rss_mb
from recommender import ann

ANN_DIM = 64
ANN_FULL_ROWS = 10_000_000
CHUNK_ROWS = 500_000


def ann_rows(scale: float) -> int:
    return max(2_000, round(ANN_FULL_ROWS * scale))


def ann_factors(ctx: Context, rows: int) -> np.ndarray:
    """A synthetic rows x 64 float32 factor matrix, unit rows, made in chunks into a memmap.

    Items cluster loosely (a few thousand overlapping taste groups), as trained item factors
    do; uniformly random vectors would make every index look worse than it is in practice.
    """
    path = ctx.anchor / f"ann-factors-{rows}x{ANN_DIM}.f32"
    if path.exists() and path.stat().st_size == rows * ANN_DIM * 4:
        return np.memmap(path, dtype=np.float32, mode="r", shape=(rows, ANN_DIM))
    rng = np.random.default_rng([ctx.seed, 300])
    centres = rng.standard_normal((max(16, min(4096, rows // 2000)), ANN_DIM)).astype(np.float32)
    temp = path.with_suffix(".tmp")
    out = np.memmap(temp, dtype=np.float32, mode="w+", shape=(rows, ANN_DIM))
    for start in range(0, rows, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, rows)
        chunk_rng = np.random.default_rng([ctx.seed, 301, start])
        chunk = centres[chunk_rng.integers(0, len(centres), size=stop - start)]
        chunk += chunk_rng.standard_normal(chunk.shape, dtype=np.float32) * 0.9
        chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
        out[start:stop] = chunk
    out.flush()
    del out
    os.replace(temp, path)
    return np.memmap(path, dtype=np.float32, mode="r", shape=(rows, ANN_DIM))


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    hits = sum(len(set(f.tolist()) & set(e.tolist())) for f, e in zip(found, exact))
    return hits / exact.size


def ann_setup(ctx: Context, k: int, n_queries: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, dict]:
    """The factor rows, sampled query rows, their exact top-k, and what brute force costs."""
    rows = ann_rows(ctx.scale)
    data = ann_factors(ctx, rows)
    rng = ctx.rng(9)
    query_ids = rng.choice(rows, size=n_queries, replace=False)
    queries = np.asarray(data[np.sort(query_ids)])
    started = time.perf_counter()
    exact = ann.exact_top_k(data, queries, k)
    batch_seconds = time.perf_counter() - started
    single = []
    # One query is a matrix-vector product: BLAS threads only add contention on 2 cores.
    with threadpool_limits(1, "blas"):
        for query in queries[:20]:
            started = time.perf_counter()
            ann.exact_top_k(data, query[None, :], k)
            single.append(time.perf_counter() - started)
            if sum(single) > 30:
                break
    brute = {**percentiles(single), "batched_per_query_ms": round(batch_seconds / n_queries * 1000, 3)}
    return rows, data, queries, exact, brute


def latency(query_one: Callable, queries: np.ndarray) -> dict:
    """Percentiles of ``query_one`` over the query rows, one at a time."""
    latencies = []
    for query in queries:
        started = time.perf_counter()
        query_one(query[None, :])
        latencies.append(time.perf_counter() - started)
    return percentiles(latencies)


def ann_step(ctx: Context, k: int = 10, n_queries: int = 1000) -> dict:
    """The product's switch (recommender.ann) at 10 M x scale items beside brute force."""
    rows, data, queries, exact, brute = ann_setup(ctx, k, n_queries)
    started = time.perf_counter()
    index = ann.build_index(data)
    build_seconds = time.perf_counter() - started
    found, _ = ann.query(index, queries, k)
    return {
        "rows": rows,
        "dim": ANN_DIM,
        "library": ann.LIBRARY,
        "kind": index.kind,
        "nprobe": index.nprobe,
        "calibrated_recall": index.calibrated_recall,
        "build_seconds": round(build_seconds, 2),
        f"recall_at_{k}": round(recall_at_k(found, exact), 4),
        "ann": latency(lambda q: ann.query(index, q, k), queries),
        "brute_force": brute,
        "rss_mb": round(rss_mb(), 1),
    }
