"""Planted-genre listening with a strong popularity skew inside each genre and two artists per
genre, so the novelty knob and the artist cap both have something to change and the right
direction of each is known (the knob and calibration tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recommender.dataset import Dataset, write_dataset

GENRES, ITEMS_PER_GENRE, USERS_PER_GENRE, ITEMS_PER_USER = 3, 24, 80, 6


def skewed_counts(seed: int = 0) -> sp.csr_matrix:
    """Listeners play only their genre; within it, song r is chosen with weight 1 / (r + 1)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, ITEMS_PER_GENRE + 1)
    weights /= weights.sum()
    rows, cols = [], []
    for genre in range(GENRES):
        for member in range(USERS_PER_GENRE):
            songs = rng.choice(ITEMS_PER_GENRE, size=ITEMS_PER_USER, replace=False, p=weights)
            rows.extend([genre * USERS_PER_GENRE + member] * ITEMS_PER_USER)
            cols.extend((songs + genre * ITEMS_PER_GENRE).tolist())
    values = rng.integers(1, 40, size=len(rows)).astype(np.float32)
    return sp.csr_matrix((values, (rows, cols)), shape=(GENRES * USERS_PER_GENRE, GENRES * ITEMS_PER_GENRE))


def write_skewed_dataset(datasets_dir, name: str = "skewed") -> Dataset:
    counts = skewed_counts()
    n_items = counts.shape[1]
    items = pd.DataFrame(
        {
            "item_id": [f"song{i}" for i in range(n_items)],
            "title": [f"Song {i}" for i in range(n_items)],
            # Two artists per genre: any in-genre list of 5 has 3 by one artist unless capped.
            "artist": [f"Artist {i // ITEMS_PER_GENRE}{'ab'[i % 2]}" for i in range(n_items)],
        }
    )
    write_dataset(
        datasets_dir / name,
        name=name,
        interactions=counts,
        items=items,
        user_ids=[f"user{u}" for u in range(counts.shape[0])],
    )
    return Dataset.open(datasets_dir, name)
