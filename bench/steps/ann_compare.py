"""``ann-compare`` (run on request): hnswlib's HNSW beside faiss's IVF-Flat and HNSW on the ann
step's rows and queries; it chose recommender.ann's library (bench/README.md)."""

from __future__ import annotations

import os
import time

import faiss
import numpy as np

from bench.steps.ann import ANN_DIM, CHUNK_ROWS, ann_setup, latency, recall_at_k
from bench.steps.context import Context


def ann_compare(ctx: Context, k: int = 10, n_queries: int = 1000) -> dict:
    """hnswlib's HNSW beside faiss's IVF-Flat and HNSW, to choose recommender.ann's library."""
    rows, data, queries, exact, brute = ann_setup(ctx, k, n_queries)
    threads = os.cpu_count() or 1
    results: dict = {"rows": rows, "brute_force": brute}
    results["hnswlib"] = hnswlib_sweep(ctx, data, queries, exact, k, threads)
    results["faiss_ivf_flat"] = faiss_ivf_sweep(ctx, data, queries, exact, k, threads)
    results["faiss_hnsw_flat"] = faiss_hnsw_sweep(data, queries, exact, k, threads)
    return results


def hnswlib_sweep(ctx: Context, data, queries, exact, k: int, threads: int) -> dict:
    try:
        import hnswlib  # not in requirements.txt: a candidate measured, then not chosen
    except ImportError:
        return {"status": "not installed"}
    rows = len(data)
    index = hnswlib.Index(space="ip", dim=ANN_DIM)
    started = time.perf_counter()
    index.init_index(max_elements=rows, ef_construction=100, M=16, random_seed=ctx.seed)
    for start in range(0, rows, CHUNK_ROWS):
        index.add_items(
            np.asarray(data[start : start + CHUNK_ROWS]),
            np.arange(start, min(start + CHUNK_ROWS, rows)),
            num_threads=threads,
        )
    build = time.perf_counter() - started
    sweep = {}
    for ef in (16, 32, 64, 128, 256):
        index.set_ef(max(ef, k))
        index.set_num_threads(1)
        found, _ = index.knn_query(queries, k=k)
        sweep[f"ef={ef}"] = {
            "recall": round(recall_at_k(found, exact), 4),
            **latency(lambda q: index.knn_query(q, k=k), queries[:300]),
        }
    return {"build_seconds": round(build, 2), "M": 16, "ef_construction": 100, "sweep": sweep}


def faiss_ivf_sweep(ctx: Context, data, queries, exact, k: int, threads: int) -> dict:
    rows = len(data)
    faiss.omp_set_num_threads(threads)
    nlist = int(np.clip(2 * np.sqrt(rows), 16, 8192))
    quantizer = faiss.IndexFlatIP(ANN_DIM)
    index = faiss.IndexIVFFlat(quantizer, ANN_DIM, nlist, faiss.METRIC_INNER_PRODUCT)
    started = time.perf_counter()
    sample = np.asarray(data[ctx.rng(10).choice(rows, size=min(rows, 40 * nlist), replace=False)])
    index.train(sample)
    for start in range(0, rows, CHUNK_ROWS):
        index.add(np.asarray(data[start : start + CHUNK_ROWS]))
    build = time.perf_counter() - started
    sweep = {}
    faiss.omp_set_num_threads(1)
    for nprobe in (4, 8, 16, 32, 64):
        index.nprobe = nprobe
        _, found = index.search(queries, k)
        sweep[f"nprobe={nprobe}"] = {
            "recall": round(recall_at_k(found, exact), 4),
            **latency(lambda q: index.search(q, k), queries[:300]),
        }
    return {"build_seconds": round(build, 2), "nlist": nlist, "sweep": sweep}


def faiss_hnsw_sweep(data, queries, exact, k: int, threads: int) -> dict:
    rows = len(data)
    faiss.omp_set_num_threads(threads)
    index = faiss.IndexHNSWFlat(ANN_DIM, 16, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 100
    started = time.perf_counter()
    for start in range(0, rows, CHUNK_ROWS):
        index.add(np.asarray(data[start : start + CHUNK_ROWS]))
    build = time.perf_counter() - started
    faiss.omp_set_num_threads(1)
    sweep = {}
    for ef in (16, 32, 64, 128, 256):
        index.hnsw.efSearch = max(ef, k)
        _, found = index.search(queries, k)
        sweep[f"ef={ef}"] = {
            "recall": round(recall_at_k(found, exact), 4),
            **latency(lambda q: index.search(q, k), queries[:300]),
        }
    return {"build_seconds": round(build, 2), "M": 16, "ef_construction": 100, "sweep": sweep}
