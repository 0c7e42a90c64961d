"""Training: weighting play counts and fitting implicit's models on them.

implicit expects a **users x items** matrix (a row per listener); ``Dataset.interactions``
already is one, and nothing here transposes it (the original project passed songs x users).

Weighting turns play counts into confidences before fitting:

- ``raw``: the counts as they are (a 300 000-play outlier dominates everything);
- ``log``: ``1 + log(count)`` (counts below 1 count as 1);
- ``bm25``: ``implicit.nearest_neighbours.bm25_weight(counts, K1, B)`` on the users x items
  matrix: long histories are damped and ubiquitous items weigh less.

For the ``bm25`` kNN algorithm BM25 is its own weighting, so ``weighting = "bm25"`` there
means "let the algorithm weigh" (never twice).

BLAS threads are limited to one with ``threadpoolctl`` around model construction and
fitting, as implicit asks: its solvers parallelise themselves and a threaded OpenBLAS
underneath makes them many times slower.

The ``train`` command is :mod:`recommender.cli.train`; ``--tune`` is
:mod:`recommender.evaluation.tuning`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from .config import WEIGHTINGS, TrainParams
from .dataset import Dataset
from .errors import ConfigError
from .model import FACTOR_ALGORITHMS, LoadedModel

# Weighted values must stay positive: implicit reads a negative value as "disliked".
_MIN_CONFIDENCE = 1e-6


# -- weighting -------------------------------------------------------------------------
def weight_interactions(counts: sp.spmatrix, weighting: str, k1: float = 1.2, b: float = 0.75) -> sp.csr_matrix:
    """Users x items play counts -> users x items confidences (float32 CSR, same pattern)."""
    matrix = sp.csr_matrix(counts, dtype=np.float32, copy=True)
    matrix.eliminate_zeros()
    if weighting == "raw":
        pass
    elif weighting == "log":
        matrix.data = 1.0 + np.log(np.maximum(matrix.data, 1.0))
    elif weighting == "bm25":
        from implicit.nearest_neighbours import bm25_weight

        matrix = bm25_weight(matrix, K1=k1, B=b).tocsr().astype(np.float32)
        # An item played by (nearly) everyone gets idf <= 0; keep it a (tiny) positive.
        np.maximum(matrix.data, _MIN_CONFIDENCE, out=matrix.data)
    else:
        raise ConfigError(f"weighting {weighting!r} is not one of {', '.join(WEIGHTINGS)}")
    matrix.sort_indices()
    return matrix


def training_matrix(counts: sp.spmatrix, params: TrainParams) -> sp.csr_matrix:
    weighting = params.weighting
    if params.algorithm == "bm25" and weighting == "bm25":
        weighting = "raw"  # BM25Recommender weighs by BM25 itself
    return weight_interactions(counts, weighting, params.bm25_k1, params.bm25_b)


# -- fitting ---------------------------------------------------------------------------
def make_model(params: TrainParams) -> Any:
    """The implicit model for ``params`` (CPU; call inside ``threadpool_limits``)."""
    import implicit.als
    import implicit.bpr
    import implicit.lmf
    import implicit.nearest_neighbours as knn

    if params.algorithm == "als":
        return implicit.als.AlternatingLeastSquares(
            factors=params.factors,
            regularization=params.regularization,
            alpha=params.alpha,
            iterations=params.iterations,
            random_state=params.random_state,
            num_threads=params.threads,
            use_gpu=False,
        )
    if params.algorithm == "bpr":
        return implicit.bpr.BayesianPersonalizedRanking(
            factors=params.factors,
            learning_rate=params.learning_rate,
            regularization=params.regularization,
            iterations=params.iterations,
            random_state=params.random_state,
            num_threads=params.threads,
            use_gpu=False,
        )
    if params.algorithm == "lmf":
        return implicit.lmf.LogisticMatrixFactorization(
            factors=params.factors,
            learning_rate=params.learning_rate,
            regularization=params.regularization,
            iterations=params.iterations,
            random_state=params.random_state,
            num_threads=params.threads,
        )
    if params.algorithm == "cosine":
        return knn.CosineRecommender(K=params.neighbours, num_threads=params.threads)
    return knn.BM25Recommender(K=params.neighbours, K1=params.bm25_k1, B=params.bm25_b, num_threads=params.threads)


@dataclass
class FittedModel:
    """A fitted implicit model plus what the store and serving need to know about it."""

    params: TrainParams
    implicit_model: Any  # an implicit recommender (implicit ships no type information)
    weighted: sp.csr_matrix  # the users x items confidences it was fitted on
    seconds: float  # implicit's whole fit: its set-up (a transpose) and every iteration
    iteration_seconds: list[float] = field(default_factory=list)  # implicit's own, per iteration
    spark: dict = field(default_factory=dict)  # engine "spark": where and how Spark fitted it

    @property
    def typical_weight(self) -> float:
        """Mean confidence of the training data: fold-in weight 1.0 means this much."""
        data = self.weighted.data
        return float(data.mean()) if data.size else 1.0

    def arrays(self) -> dict[str, object]:
        if self.params.algorithm in FACTOR_ALGORITHMS:
            return {"item_factors": np.ascontiguousarray(self.implicit_model.item_factors, dtype=np.float32)}
        return {"similarity": sp.csr_matrix(self.implicit_model.similarity, dtype=np.float32)}

    def manifest_fields(self) -> dict:
        n_users, n_items = self.weighted.shape
        return {
            "algorithm": self.params.algorithm,
            "engine": self.params.engine,
            "weighting": self.params.weighting,
            "parameters": self.params.to_dict(),
            "typical_weight": self.typical_weight,
            "n_items": int(n_items),
            "training": {
                "users": int(n_users),
                "interactions": int(self.weighted.nnz),
                "seconds": round(self.seconds, 3),
                **(
                    {"median_iteration_seconds": round(float(np.median(self.iteration_seconds)), 3)}
                    if self.iteration_seconds
                    else {}
                ),
                **({"spark": self.spark} if self.spark else {}),
            },
        }

    def loaded(self, version: str = "unpublished") -> LoadedModel:
        """The serving view of this fit, without a trip through the store."""
        return LoadedModel.from_arrays(self.arrays(), self.manifest_fields(), version=version)


def fit(
    params: TrainParams,
    counts: sp.spmatrix,
    *,
    show_progress: bool = False,
    progress: Callable[[float], None] | None = None,
) -> FittedModel:
    """Weigh ``counts`` (users x items) and fit the implicit model for ``params``.

    ``progress`` (0..1) is called after each iteration of the factor models (at the end
    for the spark engine, which fits on ``params.spark_master``: recommender.spark.training).
    """
    weighted = training_matrix(counts, params)
    if params.engine == "spark":
        from .spark.training import fit_matrix

        model, seconds, details = fit_matrix(params, weighted, progress=progress)
        return FittedModel(params=params, implicit_model=model, weighted=weighted, seconds=seconds, spark=details)
    iteration_seconds: list[float] = []
    callback = None
    if params.algorithm in FACTOR_ALGORITHMS:
        total = max(params.iterations, 1)

        def callback(iteration: int, elapsed: float, *_: object) -> None:
            iteration_seconds.append(elapsed)
            if progress is not None:
                progress(min(1.0, (iteration + 1) / total))

    started = time.perf_counter()
    # implicit checks BLAS threads when the model is built, so build it inside the limit too.
    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        # implicit's kNN models hand their own COO product to fit() and then warn about it.
        warnings.filterwarnings("ignore", message="Method expects CSR input")
        model = make_model(params)
        if callback is not None:
            model.fit(weighted, show_progress=show_progress, callback=callback)
        else:
            model.fit(weighted, show_progress=show_progress)
    if progress is not None and callback is None:
        progress(1.0)  # kNN models fit in one step
    return FittedModel(
        params=params,
        implicit_model=model,
        weighted=weighted,
        seconds=time.perf_counter() - started,
        iteration_seconds=iteration_seconds,
    )


# -- what a model's manifest records about its data -------------------------------------
def dataset_fields(dataset: Dataset) -> dict:
    """The dataset a model was trained on, as its manifest records it (the fingerprint is checked at load)."""
    return {
        "name": dataset.name,
        "fingerprint": dataset.fingerprint,
        "users": int(dataset.n_users),
        "items": int(dataset.n_items),
        "interactions": dataset.n_interactions,
    }
