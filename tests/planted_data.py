"""Small synthetic listening data with a known answer, shared by the training-side tests.

Listeners come in genres: each plays only songs of their own genre, so a sound model puts
every song's neighbours in its genre and folds a genre's fans into that genre.
"""

from __future__ import annotations

from pathlib import Path

import environment
import numpy as np
import pandas as pd
import scipy.sparse as sp

from recommender.dataset import Dataset, write_dataset

GENRES = 4
ITEMS_PER_GENRE = 10
USERS_PER_GENRE = 40
ITEMS_PER_USER = 6


def planted_counts(
    seed: int = 0,
    genres: int = GENRES,
    items_per_genre: int = ITEMS_PER_GENRE,
    users_per_genre: int = USERS_PER_GENRE,
    items_per_user: int = ITEMS_PER_USER,
):
    """(users x items play counts, genre of each item)."""
    rng = np.random.default_rng(seed)
    rows, cols, values = [], [], []
    for genre in range(genres):
        for member in range(users_per_genre):
            user = genre * users_per_genre + member
            items = rng.choice(items_per_genre, size=items_per_user, replace=False) + genre * items_per_genre
            rows.extend([user] * items_per_user)
            cols.extend(items.tolist())
            values.extend(rng.integers(1, 60, size=items_per_user).tolist())
    counts = sp.csr_matrix(
        (np.asarray(values, dtype=np.float32), (rows, cols)),
        shape=(genres * users_per_genre, genres * items_per_genre),
    )
    return counts, np.repeat(np.arange(genres), items_per_genre)


def write_planted_dataset(datasets_dir: Path, name: str = "planted", seed: int = 0) -> Dataset:
    counts, genre = planted_counts(seed)
    items = pd.DataFrame(
        {
            "item_id": [f"song{i}" for i in range(counts.shape[1])],
            "title": [f"Song {i}" for i in range(counts.shape[1])],
            "artist": [f"Artist {g}" for g in genre],
        }
    )
    write_dataset(
        Path(datasets_dir) / name,
        name=name,
        interactions=counts,
        items=items,
        user_ids=[f"user{u}" for u in range(counts.shape[0])],
    )
    return Dataset.open(datasets_dir, name)


def write_config(root: Path, extra: str = "") -> Path:
    """A config.toml with its data root and database under ``root`` (fast test settings)."""
    return environment.write_config(
        root, "[training]\nfactors = 8\niterations = 10\nthreads = 1\n" + extra, dataset="planted"
    )


def write_genre_dataset(datasets_dir: Path, name: str = "genres") -> Dataset:
    """Planted listening with each song's genre in the catalog (as the demo catalog has)."""
    counts, genre = planted_counts(seed=3)
    items = pd.DataFrame(
        {
            "item_id": [f"song{i}" for i in range(counts.shape[1])],
            "title": [f"Song {i}" for i in range(counts.shape[1])],
            "artist": [f"Artist {i}" for i in range(counts.shape[1])],
            "genre": [f"genre {g}" for g in genre],
        }
    )
    write_dataset(
        Path(datasets_dir) / name,
        name=name,
        interactions=counts,
        items=items,
        user_ids=[f"user{u}" for u in range(counts.shape[0])],
    )
    return Dataset.open(datasets_dir, name)
