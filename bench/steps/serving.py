"""What the serving steps (d)-(h) share: the service as the bot opens it, and the titles people type."""

from __future__ import annotations

import time

import numpy as np

from bench.steps.context import Context
from recommender.config import load_config
from recommender.dataset import Dataset
from recommender.service import SoundalikeService, wants_ann_index


def open_service() -> SoundalikeService:
    """The service over the bench's dataset and model (product_env points the config there)."""
    return SoundalikeService.open(load_config())


def steady(service: SoundalikeService, limit_s: float = 120.0) -> dict:
    """Wait (bounded) for the background nearest-neighbour index the service builds at start
    on large catalogs ([serving] index = "auto"/"ann"): serving figures are for a bot that
    has been up a few seconds, not for its first seconds."""
    setting = service.config.serving.index
    wanted = wants_ann_index(service.config, service.model)
    started = time.perf_counter()
    while wanted and service.model.ann_index is None and time.perf_counter() - started < limit_s:
        time.sleep(0.1)
    return {
        "index": setting,
        "ann_ready": service.model.ann_index is not None,
        "waited_s": round(time.perf_counter() - started, 2),
    }


def titles_and_listeners(service: SoundalikeService) -> tuple[np.ndarray, np.ndarray, Dataset]:
    """Every catalog title, each song's listener count, and the dataset they come from."""
    dataset = service.dataset
    return dataset.items["title"].astype(str).to_numpy(), dataset.listeners, dataset


def query_songs(ctx: Context, titles: np.ndarray, listeners: np.ndarray, count: int, purpose: int) -> np.ndarray:
    """Item indices people would ask about: half by popularity, half uniformly."""
    rng = ctx.rng(purpose)
    having = np.flatnonzero(listeners > 0)
    weights = listeners[having] / listeners[having].sum()
    popular = rng.choice(having, size=count // 2, p=weights)
    anything = rng.choice(having, size=count - count // 2)
    picked = np.concatenate([popular, anything])
    rng.shuffle(picked)
    return picked


def as_typed(title: str, rng: np.random.Generator) -> str:
    """A title as a person types it: sometimes lower case, sometimes without punctuation."""
    roll = rng.random()
    if roll < 0.3:
        return title.lower()
    if roll < 0.4:
        return "".join(ch for ch in title if ch.isalnum() or ch.isspace())
    return title
