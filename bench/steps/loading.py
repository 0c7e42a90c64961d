"""(b) load: the imported dataset read back (``Dataset.load``), its matrix included."""

from __future__ import annotations

import time

from bench.steps.context import Context, rss_mb
from recommender.dataset import Dataset


def load(ctx: Context) -> dict:
    if not (ctx.dataset_dir / "manifest.json").exists():
        raise FileNotFoundError(f"no dataset at {ctx.dataset_dir} (the import step did not make one)")
    before = rss_mb()
    started = time.perf_counter()
    dataset = Dataset.load(ctx.dataset_dir)
    catalog_seconds = time.perf_counter() - started
    interactions = dataset.interactions  # read on first use since the bot does not need it: count it here
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 4),
        "catalog_only_seconds": round(catalog_seconds, 4),
        "users": dataset.n_users,
        "items": dataset.n_items,
        "nnz": int(interactions.nnz),
        "rss_added_mb": round(rss_mb() - before, 1),
    }
