"""A dataset whose interactions are a Parquet folder (what a Spark import writes) loads, serves and
builds its matrix only when asked; no Java needed (the folder is written here with pyarrow)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recommender.dataset import Dataset
from recommender.errors import DataError


def write_parquet_dataset(path):
    path.mkdir()
    parts = path / "interactions.parquet"
    parts.mkdir()
    pq.write_table(
        pa.table(
            {
                "user": pa.array([0, 0], pa.int32()),
                "item": pa.array([0, 2], pa.int32()),
                "count": pa.array([3.0, 1.0], pa.float32()),
            }
        ),
        parts / "part-00000.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "user": pa.array([1], pa.int32()),
                "item": pa.array([2], pa.int32()),
                "count": pa.array([5.0], pa.float32()),
            }
        ),
        parts / "part-00001.parquet",
    )
    pq.write_table(
        pa.table({"item_id": ["a", "b", "c"], "title": ["A", "B", "C"], "artist": ["x", "y", "z"]}),
        path / "items.parquet",
    )
    pq.write_table(pa.table({"user_id": ["u1", "u2"]}), path / "users.parquet")
    np.save(path / "listeners.npy", np.array([1, 0, 2]))
    np.save(path / "item_users_indptr.npy", np.array([0, 1, 1, 3], dtype=np.int32))
    np.save(path / "item_users_indices.npy", np.array([0, 0, 1], dtype=np.int32))
    manifest = {
        "format_version": 1,
        "storage": "parquet",
        "name": "p",
        "users": 2,
        "items": 3,
        "interactions": 3,
        "fingerprint": "f",
    }
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def test_a_parquet_dataset_serves_without_its_matrix_and_builds_it_on_demand(tmp_path):
    write_parquet_dataset(tmp_path / "p")
    dataset = Dataset.load(tmp_path / "p")
    assert dataset.is_parquet and (dataset.n_users, dataset.n_items, dataset.n_interactions) == (2, 3, 3)
    assert dataset.listeners.tolist() == [1, 0, 2] and dataset.item_user.of(2).tolist() == [0, 1]
    assert dataset._interactions is None  # serving's reads did not build the matrix
    assert dataset.interactions.toarray().tolist() == [[3.0, 0.0, 1.0], [0.0, 0.0, 5.0]]


def test_a_parquet_dataset_without_its_interactions_is_refused(tmp_path):
    write_parquet_dataset(tmp_path / "p")
    for part in (tmp_path / "p" / "interactions.parquet").iterdir():
        part.unlink()
    (tmp_path / "p" / "interactions.parquet").rmdir()
    with pytest.raises(DataError, match=r"interactions.parquet is missing; import the dataset again"):
        Dataset.load(tmp_path / "p")
