"""bench.steps.ann: the product's index beside brute force, the library's own exact top-k."""

from __future__ import annotations

import numpy as np

from bench.steps import ann as ann_step
from bench.steps.context import Context
from recommender import ann


def test_the_index_is_judged_against_the_librarys_exact_top_k(tmp_path, monkeypatch):
    calls = []
    library_top_k = ann.exact_top_k

    def exact_top_k(data, queries, k):
        calls.append((len(data), len(queries), k))
        return library_top_k(data, queries, k)

    monkeypatch.setattr(ann, "exact_top_k", exact_top_k)
    ctx = Context(scale=0.0001, work=tmp_path, seed=2012, queries=50)
    figures = ann_step.ann_step(ctx, k=10, n_queries=50)
    assert calls[0] == (2000, 50, 10), "the exact answers for every query, from recommender.ann"
    assert len(calls) > 1 and all(call[1] == 1 for call in calls[1:]), "brute force one query at a time"
    assert figures["rows"] == 2000 and figures["kind"] == "exact"
    assert figures["recall_at_10"] == 1.0 and figures["brute_force"]["count"] == len(calls) - 1


def test_synthetic_factors_are_unit_rows_made_once(tmp_path):
    ctx = Context(scale=0.0001, work=tmp_path, seed=2012, queries=1)
    rows = ann_step.ann_factors(ctx, 2000)
    assert rows.shape == (2000, ann_step.ANN_DIM) and rows.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, rtol=1e-5)
    again = ann_step.ann_factors(ctx, 2000)
    np.testing.assert_array_equal(again, rows)


def test_recall_counts_the_exact_neighbours_found():
    exact = np.array([[1, 2, 3], [4, 5, 6]])
    assert ann_step.recall_at_k(np.array([[3, 2, 1], [4, 9, 8]]), exact) == 4 / 6
