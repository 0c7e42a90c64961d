"""What every step shares: where it works, its random streams, and how figures are written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

DATASET_NAME = "msd"
RSS_MB = 1024 * 1024
PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent


class Context:
    """One step's run: the scale, the work folder (bench/work/scale-<s>), the seed, the query count."""

    def __init__(self, scale: float, work: Path, seed: int, queries: int):
        self.scale = scale
        self.work = Path(work).resolve()
        self.seed = seed
        self.queries = queries
        self.msd = self.work / "msd"
        self.data_root = self.work / "data"
        self.anchor = self.work / "anchor"
        self.anchor.mkdir(parents=True, exist_ok=True)

    @property
    def dataset_dir(self) -> Path:
        return self.data_root / "datasets" / DATASET_NAME

    def rng(self, purpose: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, 100 + purpose])


def product_env(work: Path) -> dict:
    """Environment that points the product at the bench's data root and ALS 64 x 15."""
    env = dict(os.environ)
    env.update(
        {
            "SOUNDALIKE_DATA__ROOT": str(Path(work).resolve() / "data"),
            "SOUNDALIKE_DATA__DEFAULT_DATASET": DATASET_NAME,
            "SOUNDALIKE_TRAINING__ALGORITHM": "als",
            "SOUNDALIKE_TRAINING__FACTORS": "64",
            "SOUNDALIKE_TRAINING__ITERATIONS": "15",
            "SOUNDALIKE_BOT__DATABASE": str(Path(work).resolve() / "soundalike.sqlite3"),
            "PYTHONPATH": str(PROJECT_ROOT),
        }
    )
    return env


def rss_mb() -> float:
    """This process's resident memory in MB."""
    # Imported here, not above: train-implicit, whose peak memory is a reported figure, never asks.
    import psutil

    return psutil.Process().memory_info().rss / RSS_MB


def percentiles(seconds: list[float]) -> dict:
    """p50/p95/p99/max in milliseconds."""
    if not seconds:
        return {"count": 0}
    ms = np.asarray(seconds) * 1000.0
    return {
        "count": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "max_ms": round(float(ms.max()), 3),
        "mean_ms": round(float(ms.mean()), 3),
    }


def jsonable(value):
    """``value`` as JSON would give it back (dates and paths as strings)."""
    return json.loads(json.dumps(value, default=str))
