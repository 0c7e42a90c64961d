"""recommender.ann: the approximate index finds what brute force finds, and says so when it cannot run."""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("faiss", reason="faiss-cpu is in requirements.txt; this environment lacks it")

from recommender import ann


def clustered_unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((64, dim)).astype(np.float32)
    rows = centres[rng.integers(0, 64, size=n)] + 0.8 * rng.standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def exact(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(queries @ data.T), axis=1)[:, :k]


@pytest.fixture(scope="module")
def large():
    data = clustered_unit_rows(ann.EXACT_BELOW + 10_000, 16, seed=3)
    return data, ann.build_index(data, seed=5)


def test_large_catalog_gets_an_ivf_index_meeting_the_recall_target(large):
    data, index = large
    assert index.kind == "ivf" and index.n_items == len(data)
    assert index.calibrated_recall >= ann.DEFAULT_TARGET_RECALL
    queries = data[np.random.default_rng(9).choice(len(data), size=300, replace=False)]
    ids, scores = ann.query(index, queries, 10)
    assert ids.shape == scores.shape == (300, 10) and ids.dtype == np.int64
    truth = exact(data, queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids.tolist(), truth.tolist())])
    assert recall >= 0.95
    assert np.all(np.diff(scores, axis=1) <= 1e-6), "best first"
    np.testing.assert_allclose(scores[:, 0], np.einsum("ij,ij->i", queries, data[ids[:, 0]]), rtol=1e-5)


def test_small_catalog_is_exact_and_pads_when_asked_for_more_than_it_has():
    data = clustered_unit_rows(7, 8, seed=1)
    index = ann.build_index(data)
    assert index.kind == "exact"
    ids, scores = ann.query(index, data[2], 10)
    assert ids.shape == (1, 10)
    assert ids[0, 0] == 2 and sorted(ids[0, :7].tolist()) == list(range(7))
    assert (ids[0, 7:] == -1).all() and np.isneginf(scores[0, 7:]).all()


def test_save_and_load_round_trip(large, tmp_path):
    data, index = large
    path = tmp_path / "items.faiss"
    ann.save_index(index, path)
    loaded = ann.load_index(path)
    assert (loaded.kind, loaded.nprobe, loaded.n_items) == (index.kind, index.nprobe, index.n_items)
    queries = data[:20]
    np.testing.assert_array_equal(ann.query(loaded, queries, 5)[0], ann.query(index, queries, 5)[0])
    assert not list(tmp_path.glob("*.tmp"))


def test_missing_index_file_is_a_clear_model_error(tmp_path):
    with pytest.raises(ann.ModelError, match="no saved nearest-neighbour index"):
        ann.load_index(tmp_path / "nothing.faiss")


def test_exact_top_k_is_brute_force_best_first_across_row_and_query_blocks():
    # More rows than one block (131,072) and more queries than one batch (128), so the
    # running merge of the blocks' bests and the query batches are both exercised.
    data = clustered_unit_rows(140_000, 4, seed=11)
    queries = data[np.random.default_rng(2).choice(len(data), size=130, replace=False)]
    found = ann.exact_top_k(data, queries, 5)
    scores = queries @ data.T
    expected = np.argsort(-scores, axis=1)[:, :5]
    assert found.shape == (130, 5)
    np.testing.assert_array_equal(
        np.take_along_axis(scores, found, axis=1), np.take_along_axis(scores, expected, axis=1)
    )
    assert (found[:, 0] == expected[:, 0]).all()


def test_without_faiss_the_message_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss now raises ImportError
    with pytest.raises(ann.AnnUnavailable, match="faiss-cpu"):
        ann.build_index(np.eye(3, dtype=np.float32))
