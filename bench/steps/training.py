"""(c) training: implicit's ALS with its defaults, the anchor beside ``recommender train`` (which
runs as a command, see :mod:`bench.steps.commands`); its factors serve the compute anchors."""

from __future__ import annotations

import statistics
import time

import implicit
import numpy as np
import scipy.sparse as sp
from implicit.als import AlternatingLeastSquares
from implicit.cpu.als import AlternatingLeastSquares as CpuAlternatingLeastSquares

from bench.steps.context import Context
from recommender.dataset import Dataset


def train_implicit(ctx: Context) -> dict:
    """implicit's ALS with its defaults as installed (no thread limit), 64 factors, 15 iterations."""
    dataset = Dataset.load(ctx.dataset_dir)
    per_iteration: list[float] = []
    model = AlternatingLeastSquares(factors=64, iterations=15, random_state=ctx.seed)
    started = time.perf_counter()
    model.fit(
        sp.csr_matrix(dataset.interactions),
        show_progress=False,
        callback=lambda iteration, elapsed, loss: per_iteration.append(elapsed),
    )
    seconds = time.perf_counter() - started
    model = model.to_cpu() if hasattr(model, "to_cpu") else model
    np.savez(
        ctx.anchor / "implicit-als.npz",
        item_factors=model.item_factors,
        user_factors=model.user_factors,
        item_ids=np.asarray(dataset.item_ids, dtype=str),
    )
    return {
        "seconds": round(seconds, 3),
        "iterations": len(per_iteration),
        "per_iteration_s": round(statistics.median(per_iteration), 4) if per_iteration else None,
        "implicit_version": implicit.__version__,
    }


def implicit_anchor_model(ctx: Context, dataset: Dataset) -> CpuAlternatingLeastSquares:
    """implicit's ALS with the factors the train-implicit step saved (trained here if missing)."""
    path = ctx.anchor / "implicit-als.npz"
    if not path.exists():
        train_implicit(ctx)
    with np.load(path, allow_pickle=False) as saved:
        if saved["item_factors"].shape[0] != dataset.n_items:
            raise ValueError("implicit's saved factors are for another dataset; rerun train-implicit")
        model = CpuAlternatingLeastSquares(factors=saved["item_factors"].shape[1])
        model.item_factors = saved["item_factors"]
        model.user_factors = saved["user_factors"]
    return model
