"""The dataset folder's derived serving arrays agree with the matrix they come from."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recommender.dataset import ITEM_USERS_INDICES, LISTENERS, Dataset, write_dataset
from recommender.errors import DatasetNotFound, ModelError
from recommender.store import ModelStore


def _small(tmp_path) -> tuple[Dataset, sp.csr_matrix]:
    rng = np.random.default_rng(5)
    matrix = sp.random(40, 12, density=0.3, format="csr", random_state=rng, dtype=np.float32)
    matrix.data = np.ceil(matrix.data * 9)
    items = pd.DataFrame(
        {"item_id": [f"S{i}" for i in range(12)], "title": [f"Song {i}" for i in range(12)], "artist": ["A"] * 12}
    )
    dest = write_dataset(
        tmp_path / "small", name="small", interactions=matrix, items=items, user_ids=[f"u{u}" for u in range(40)]
    )
    return Dataset.load(dest), matrix


def test_saved_listeners_and_item_users_match_the_matrix(tmp_path):
    dataset, matrix = _small(tmp_path)
    assert dataset._interactions is None, "serving arrays must not need the matrix"
    by_item = matrix.tocsc()
    np.testing.assert_array_equal(dataset.listeners, np.diff(by_item.indptr))
    for item in range(12):
        np.testing.assert_array_equal(np.sort(dataset.item_user.of(item)), np.sort(by_item[:, item].indices))
    assert dataset._interactions is None
    assert (dataset.n_users, dataset.n_items) == matrix.shape
    assert abs(dataset.interactions - matrix).sum() == 0


def test_a_dataset_without_the_derived_arrays_derives_them(tmp_path):
    dataset, matrix = _small(tmp_path)
    (dataset.path / LISTENERS).unlink()
    (dataset.path / ITEM_USERS_INDICES).unlink()
    again = Dataset.load(dataset.path)
    np.testing.assert_array_equal(again.listeners, np.diff(matrix.tocsc().indptr))
    np.testing.assert_array_equal(np.sort(again.item_user.of(3)), np.sort(matrix.tocsc()[:, 3].indices))


def test_a_matrix_given_by_the_caller_is_never_mixed_with_the_saved_arrays(tmp_path):
    # Evaluation passes its training part with the dataset's path: the held-out plays
    # (in the saved arrays) must not leak into popularity or co-listener counts.
    dataset, matrix = _small(tmp_path)
    training = matrix.copy()
    training[:, 0] = 0
    training.eliminate_zeros()
    part = Dataset(name="small", path=dataset.path, interactions=training, items=dataset.items)
    assert part.listeners[0] == 0 and dataset.listeners[0] > 0
    assert len(part.item_user.of(0)) == 0


def test_titles_and_artists_read_back_as_written_and_a_missing_one_as_empty(tmp_path):
    matrix = sp.csr_matrix(np.ones((2, 3), dtype=np.float32))
    items = pd.DataFrame(
        {"item_id": ["S0", "S1", "S2"], "title": ["Hey Ya!", None, "Café 👩‍🎤"], "artist": ["OutKast", "Björk", None]}
    )
    dataset = Dataset.load(
        write_dataset(tmp_path / "titles", name="titles", interactions=matrix, items=items, user_ids=["u0", "u1"])
    )
    assert [dataset.title(i) for i in range(3)] == ["Hey Ya!", "", "Café 👩‍🎤"]
    assert [dataset.artist(i) for i in range(3)] == ["OutKast", "Björk", ""]


@pytest.mark.parametrize(
    "name, problem",
    [
        ("", "is empty"),
        ("../small", "holds a '/'"),
        ("a/b", "holds a '/'"),
        ("..", "starts with '.'"),
        (".tmp-1", "starts with '.'"),
        ("small\0", "holds a NUL character"),
    ],
)
def test_open_takes_a_dataset_name_not_a_path(tmp_path, name, problem):
    _small(tmp_path / "datasets")
    assert Dataset.open(tmp_path / "datasets", "small").n_items == 12
    with pytest.raises(DatasetNotFound, match=re.escape(f"is not a dataset name: it {problem}")):
        Dataset.open(tmp_path / "datasets", name)
    with pytest.raises(ModelError, match=re.escape(f"is not a dataset name: it {problem}")):
        ModelStore.for_dataset(tmp_path / "models", name)


def test_open_never_reads_a_dataset_outside_its_folder(tmp_path):
    outside = _small(tmp_path / "elsewhere")[0].path
    (tmp_path / "datasets").mkdir()
    for name in (str(outside), f"../elsewhere/{outside.name}"):
        with pytest.raises(DatasetNotFound, match="is not a dataset name"):
            Dataset.open(tmp_path / "datasets", name)
