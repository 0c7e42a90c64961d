"""ALS on Apache Spark: ``pyspark.ml.recommendation.ALS(implicitPrefs=True)`` with the project's
parameters mapped onto Spark's, giving the same model artifact as implicit's ALS.

Both fit Hu, Koren & Volinsky's implicit-feedback ALS; they differ in two conventions, mapped
here so that ``[training]`` means one model whichever engine fits it:

- **Confidence.** implicit weighs an observed (user, item) by ``c = alpha * w`` (w the weighted
  play count; unobserved pairs weigh 1). Spark weighs it by ``1 + alpha_s * r`` for the rating
  ``r`` it is given, and counts it as a preference only when ``r > 0``. Passing
  ``r = max(w - 1/alpha, 1e-6)`` with ``alpha_s = alpha`` gives Spark ``c = alpha * w`` exactly
  whenever ``alpha * w > 1`` (and ``c`` just above 1 otherwise, where implicit would weigh a
  play below an unobserved pair).
- **Regularization.** implicit adds ``lambda * I`` to every user's and item's solve; Spark adds
  ``regParam * n * I``, n being that row's number of plays (ALS-WR). One ``regParam`` cannot
  match every row; ``regParam = lambda / mean plays per row`` (over users and items that have
  plays) makes the total penalty over all rows the same. The Last.fm test
  (tests/recommender/spark) checks the result is as good as implicit's on the same split.

The item factors come back keyed by Spark's integer item id, which is the catalog index
(importers give items their index as id), so rows line up with the catalog; an item without
plays keeps a zero row, as in implicit. Fitted on an in-memory matrix (``engine = "spark"``
through :func:`recommender.training.fit`: evaluation, ``--tune``, calibration and /retrain),
the result is a :class:`~recommender.training.FittedModel` whose "implicit model" is implicit's
CPU ALS holding Spark's factors, so the evaluation scores it exactly as it scores implicit's.
A dataset imported by Spark is fitted from its Parquet interactions (:func:`fit_dataset`)
without the matrix ever being in this process.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recommender.config import TrainParams
from recommender.errors import ConfigError

from .session import spark_session

MIN_RATING = 1e-6


@dataclass(frozen=True)
class SparkALSSettings:
    """Spark's ALS parameters for the project's ``params`` on data of this shape."""

    rank: int
    max_iter: int
    reg_param: float
    alpha: float
    seed: int
    blocks: int

    def describe(self) -> dict:
        return {
            "rank": self.rank,
            "maxIter": self.max_iter,
            "regParam": self.reg_param,
            "alpha": self.alpha,
            "seed": self.seed,
            "numBlocks": self.blocks,
            "rating": "max(weight - 1/alpha, 1e-6)",
        }


def als_settings(params: TrainParams, *, rows_with_plays: int, plays: int, blocks: int) -> SparkALSSettings:
    """Map implicit's regularization and alpha onto Spark's (module docstring)."""
    if params.algorithm != "als":
        raise ConfigError(f"the spark engine trains als only, not {params.algorithm!r}")
    mean_plays_per_row = (2.0 * plays / rows_with_plays) if rows_with_plays else 1.0
    return SparkALSSettings(
        rank=params.factors,
        max_iter=params.iterations,
        reg_param=params.regularization / mean_plays_per_row,
        alpha=params.alpha,
        seed=params.random_state % (2**31),
        blocks=max(2, blocks),
    )


def _als(settings: SparkALSSettings) -> Any:
    from pyspark.ml.recommendation import ALS

    return ALS(
        rank=settings.rank,
        maxIter=settings.max_iter,
        regParam=settings.reg_param,
        alpha=settings.alpha,
        implicitPrefs=True,
        nonnegative=False,
        seed=settings.seed,
        numUserBlocks=settings.blocks,
        numItemBlocks=settings.blocks,
        userCol="user",
        itemCol="item",
        ratingCol="rating",
        checkpointInterval=10,
    )


@contextmanager
def quiet_pandas() -> Iterator[None]:
    """pyspark 4.3 warns on every pandas conversion that it does not "fully support" pandas 3;
    the conversions used here (numbers, arrays of floats) are checked by the tests."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"pyspark\.")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pyspark\.")
        warnings.filterwarnings("ignore", message=r"The copy keyword is deprecated")
        yield


def factor_matrix(frame: Any, rows: int, rank: int) -> np.ndarray:
    """Spark's (id, features) factors as a rows x rank float32 array, row = id (zero when absent)."""
    with quiet_pandas():
        table = frame.toPandas()
    matrix = np.zeros((rows, rank), dtype=np.float32)
    if len(table):
        ids = table["id"].to_numpy(dtype=np.int64)
        if ids.min() < 0 or ids.max() >= rows:
            raise ValueError(f"Spark returned factor ids outside 0..{rows - 1}")
        matrix[ids] = np.stack(table["features"].to_numpy()).astype(np.float32)
    return matrix


def _session_details(session: Any, master: str, settings: SparkALSSettings, seconds: float) -> dict:
    return {
        "master": master,
        "spark_version": session.version,
        "default_parallelism": int(session.sparkContext.defaultParallelism),
        "als": settings.describe(),
        "fit_seconds": round(seconds, 3),
    }


# -- an in-memory matrix (evaluation, --tune, /retrain, small datasets) -------------------------
def fit_matrix(
    params: TrainParams,
    weighted: sp.csr_matrix,
    *,
    progress: Callable[[float], None] | None = None,
    conf: dict[str, str] | None = None,
) -> tuple[Any, float, dict]:
    """Fit Spark's ALS on users x items confidences; (implicit CPU ALS holding the factors, seconds, details)."""
    from implicit.cpu.als import AlternatingLeastSquares

    session = spark_session(params.spark_master, conf=conf)
    coo = weighted.tocoo()
    n_users, n_items = weighted.shape
    rows_with_plays = int(np.count_nonzero(np.diff(weighted.indptr))) + int(np.count_nonzero(np.bincount(coo.col)))
    settings = als_settings(
        params,
        rows_with_plays=rows_with_plays,
        plays=int(weighted.nnz),
        blocks=int(session.sparkContext.defaultParallelism),
    )
    ratings = pd.DataFrame(
        {
            "user": coo.row.astype(np.int32),
            "item": coo.col.astype(np.int32),
            "rating": np.maximum(coo.data.astype(np.float64) - 1.0 / params.alpha, MIN_RATING).astype(np.float32),
        }
    )
    started = time.perf_counter()
    with quiet_pandas():
        frame = session.createDataFrame(ratings)
    fitted = _als(settings).fit(frame)
    item_factors = factor_matrix(fitted.itemFactors, n_items, settings.rank)
    user_factors = factor_matrix(fitted.userFactors, n_users, settings.rank)
    seconds = time.perf_counter() - started
    if progress is not None:
        progress(1.0)
    with threadpool_limits(1, "blas"):  # implicit checks BLAS threads when built
        model = AlternatingLeastSquares(
            factors=settings.rank,
            regularization=params.regularization,
            alpha=params.alpha,
            iterations=params.iterations,
            random_state=params.random_state,
            num_threads=1,
        )
    model.item_factors = item_factors
    model.user_factors = user_factors
    return model, seconds, _session_details(session, params.spark_master, settings, seconds)


# -- a dataset imported by Spark (Parquet interactions, never in this process) ----------------
def weighted_ratings(plays: Any, params: TrainParams, n_users: int) -> Any:
    """(user, item, count) -> (user, item, weight, rating): the project's weighting in Spark SQL,
    then Spark's rating for implicit's confidence. ``bm25`` is implicit's ``bm25_weight`` on the
    users x items matrix: N = users, idf = log N - log1p(item listeners), length = the user's plays."""
    from pyspark.sql import functions as F

    count = F.col("count").cast("double")
    if params.weighting == "raw":
        weighted = plays.withColumn("weight", count)
    elif params.weighting == "log":
        weighted = plays.withColumn("weight", 1.0 + F.log(F.greatest(count, F.lit(1.0))))
    else:
        k1, b = params.bm25_k1, params.bm25_b
        idf = plays.groupBy("item").agg((F.lit(math.log(n_users)) - F.log1p(F.count("*"))).alias("idf"))
        lengths = plays.groupBy("user").agg(F.sum(count).alias("length"))
        average = plays.agg(F.sum(count)).first()[0] / max(n_users, 1)
        norm = (1.0 - b) + b * F.col("length") / F.lit(average)
        weighted = (
            plays.join(F.broadcast(idf), "item")
            .join(lengths, "user")
            .withColumn("weight", count * (k1 + 1.0) / (k1 * norm + count) * F.col("idf"))
            .withColumn("weight", F.greatest(F.col("weight"), F.lit(1e-6)))
        )
    rating = F.greatest(F.col("weight") - F.lit(1.0 / params.alpha), F.lit(MIN_RATING))
    return weighted.select("user", "item", "weight", rating.cast("float").alias("rating"))


@dataclass
class SparkFit:
    """A Spark fit of a Parquet dataset: what the store and serving need (as FittedModel gives)."""

    params: TrainParams
    item_factors: np.ndarray
    typical_weight: float
    users: int
    interactions: int
    seconds: float
    details: dict = field(default_factory=dict)

    def arrays(self) -> dict[str, object]:
        return {"item_factors": np.ascontiguousarray(self.item_factors, dtype=np.float32)}

    def manifest_fields(self) -> dict:
        return {
            "algorithm": self.params.algorithm,
            "engine": self.params.engine,
            "weighting": self.params.weighting,
            "parameters": self.params.to_dict(),
            "typical_weight": self.typical_weight,
            "n_items": int(self.item_factors.shape[0]),
            "training": {
                "users": self.users,
                "interactions": self.interactions,
                "seconds": round(self.seconds, 3),
                "spark": self.details,
            },
        }

    def loaded(self, version: str = "unpublished") -> Any:
        from recommender.model import LoadedModel

        return LoadedModel.from_arrays(self.arrays(), self.manifest_fields(), version=version)


def fit_parquet(
    params: TrainParams,
    interactions_url: str,
    *,
    n_users: int,
    n_items: int,
    conf: dict[str, str] | None = None,
) -> SparkFit:
    """Fit Spark's ALS on a Parquet (user, item, count) folder any Spark node can read."""
    session = spark_session(params.spark_master, conf=conf)
    started = time.perf_counter()
    fitted, settings, summary = fit_plays(session, params, session.read.parquet(interactions_url), n_users)
    item_factors = factor_matrix(fitted.itemFactors, n_items, settings.rank)
    seconds = time.perf_counter() - started
    return SparkFit(
        params=params,
        item_factors=item_factors,
        typical_weight=float(summary["typical"] or 1.0),
        users=n_users,
        interactions=int(summary["plays"]),
        seconds=seconds,
        details=_session_details(session, params.spark_master, settings, seconds),
    )


def fit_plays(session: Any, params: TrainParams, plays: Any, n_users: int) -> tuple[Any, SparkALSSettings, Any]:
    """Spark's ALS fitted on a (user, item, count) frame: (the ALSModel, its settings, a summary
    row of plays, typical weight, users and items)."""
    from pyspark.sql import functions as F

    ratings = weighted_ratings(plays, params, n_users).cache()
    summary = ratings.agg(
        F.count("*").alias("plays"),
        F.avg("weight").alias("typical"),
        F.countDistinct("user").alias("users"),
        F.countDistinct("item").alias("items"),
    ).first()
    settings = als_settings(
        params,
        rows_with_plays=int(summary["users"]) + int(summary["items"]),
        plays=int(summary["plays"]),
        blocks=int(session.sparkContext.defaultParallelism),
    )
    fitted = _als(settings).fit(ratings.select("user", "item", "rating"))
    ratings.unpersist()
    return fitted, settings, summary
