"""Training: weighting, the users x items orientation, BLAS threads, and nothing from evaluation."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import threadpoolctl
from planted_data import planted_counts

from recommender import training
from recommender.config import TrainParams
from recommender.training import fit, weight_interactions


# -- weighting and orientation ---------------------------------------------------------
def test_weightings():
    counts = sp.csr_matrix(np.array([[1.0, 0.0, 100.0], [0.5, 3.0, 0.0]], dtype=np.float32))
    raw = weight_interactions(counts, "raw")
    np.testing.assert_array_equal(raw.toarray(), counts.toarray())
    logged = weight_interactions(counts, "log")
    np.testing.assert_allclose(logged.toarray(), [[1.0, 0, 1 + np.log(100)], [1.0, 1 + np.log(3), 0]], rtol=1e-6)
    from implicit.nearest_neighbours import bm25_weight

    bm25 = weight_interactions(counts, "bm25", k1=1.2, b=0.75)
    expected = bm25_weight(counts, K1=1.2, B=0.75).toarray()  # on users x items, never transposed
    assert bm25.shape == counts.shape
    np.testing.assert_allclose(
        bm25.toarray()[counts.toarray() > 0], np.maximum(expected[counts.toarray() > 0], 1e-6), rtol=1e-5
    )
    assert (bm25.data > 0).all(), "implicit would read a negative confidence as a dislike"
    assert bm25.dtype == np.float32


def test_models_are_fitted_on_users_by_items():
    counts, _ = planted_counts()
    fitted = fit(TrainParams(factors=4, iterations=2, threads=1), counts)
    assert fitted.implicit_model.user_factors.shape == (counts.shape[0], 4)
    assert fitted.implicit_model.item_factors.shape == (counts.shape[1], 4)
    assert fitted.arrays()["item_factors"].shape == (counts.shape[1], 4)


@pytest.mark.parametrize("algorithm", ["als", "bpr", "lmf"])
def test_each_iteration_is_timed_and_the_median_kept_in_the_manifest(algorithm):
    counts, _ = planted_counts()
    fitted = fit(TrainParams(algorithm=algorithm, factors=4, iterations=3, threads=1), counts)
    assert len(fitted.iteration_seconds) == 3 and all(s >= 0 for s in fitted.iteration_seconds)
    assert sum(fitted.iteration_seconds) <= fitted.seconds
    training = fitted.manifest_fields()["training"]
    assert training["median_iteration_seconds"] == round(float(np.median(fitted.iteration_seconds)), 3)


@pytest.mark.parametrize("algorithm", ["als", "bpr"])
def test_no_openblas_thread_warning_while_training(algorithm):
    blas = [api for api in threadpoolctl.threadpool_info() if api["user_api"] == "blas"]
    if not blas:
        pytest.skip("no BLAS library loaded that threadpoolctl can limit")
    import implicit.utils
    from implicit.cpu.als import AlternatingLeastSquares

    counts, _ = planted_counts()
    with threadpoolctl.threadpool_limits(2, "blas"):
        # Control: with 2 BLAS threads implicit does warn, so the check below can see it.
        implicit.utils._checked_blas_config = False
        with warnings.catch_warnings(record=True) as control:
            warnings.simplefilter("always")
            AlternatingLeastSquares(factors=2)
        implicit.utils._checked_blas_config = False
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit(TrainParams(algorithm=algorithm, factors=4, iterations=2, threads=1), counts)
    assert any("threadpool" in str(w.message) for w in control)
    assert not [w for w in caught if "threadpool" in str(w.message) or "BLAS" in str(w.message)]


def test_training_imports_nothing_from_evaluation():
    """Evaluation fits models with training.fit; training never reaches back (no import cycle)."""
    tree = ast.parse(Path(training.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.update(f"{'.' * node.level}{node.module or ''}.{alias.name}" for alias in node.names)
    assert imported and not [name for name in imported if "evaluation" in name], sorted(imported)
