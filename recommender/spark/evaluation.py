"""The train command's holdout figures for a dataset imported by Spark, computed on Spark.

The in-memory holdout (:func:`recommender.evaluation.protocols.evaluate`) builds the users x
songs matrix in this process; a Parquet dataset may be larger than this machine's memory. Here
the split, the fit and the baseline's counts run on the cluster, and only what the figures read
comes back: the song factors (as the model itself), the factors and plays of at most
``max_users`` held-out listeners, and each song's listener count in the training part. The
figures are then scored by the same code as in memory (implicit's ``ranking_metrics_at_k``,
beside :class:`~recommender.evaluation.baseline.PopularityRecommender`).

The split differs from implicit's ``train_test_split`` (which draws from numpy's generator over
the whole matrix): a play goes to the training part when a hash of (user, song, seed) falls
below ``train_share``, so every node decides alone and the same seed gives the same split on
any cluster. Figures from the two splits are comparable, not identical; the Last.fm test checks
they agree within 0.02.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recommender.config import TrainParams
from recommender.errors import DataError
from recommender.evaluation.baseline import PopularityRecommender
from recommender.evaluation.metrics import implicit_ranking_metrics

from .session import spark_session
from .training import factor_matrix, fit_plays, quiet_pandas

# Held-out listeners scored: the precision@10 of 10,000 listeners has a standard error of about
# 0.003 at the values seen here, and their plays come back to this process.
DEFAULT_HELD_OUT_USERS = 10_000
SPLIT_DESCRIPTION = "a hash of (user, song, seed) below train_share (recommender/spark/evaluation.py)"
_HASH_RANGE = 2**31


def _in_training(seed: int, train_share: float) -> Any:
    from pyspark.sql import functions as F

    draw = F.pmod(F.xxhash64("user", "item", F.lit(seed)), F.lit(_HASH_RANGE)) / F.lit(float(_HASH_RANGE))
    return draw < F.lit(train_share)


def _rows(frame: Any, users: np.ndarray, n_items: int, value: str | None) -> sp.csr_matrix:
    """A (user, item[, value]) frame of the sampled users as a len(users) x n_items matrix, row i
    being users[i]."""
    columns = ["user", "item"] + ([value] if value else [])
    with quiet_pandas():
        table = frame.select(*columns).toPandas()
    row = np.searchsorted(users, table["user"].to_numpy(dtype=np.int64))
    data = table[value].to_numpy(dtype=np.float32) if value else np.ones(len(table), dtype=np.float32)
    matrix = sp.csr_matrix(
        (data, (row, table["item"].to_numpy(dtype=np.int64))), shape=(users.size, n_items), dtype=np.float32
    )
    matrix.sum_duplicates()
    return matrix


def _held_out_factors(frame: Any, users: np.ndarray) -> np.ndarray:
    """The factors of ``users`` (sorted), row i for users[i]; zero for one with no training plays
    (as implicit leaves a user without plays)."""
    with quiet_pandas():
        table = frame.select("id", "features").toPandas()
    rank = len(table["features"].iloc[0]) if len(table) else 0
    matrix = np.zeros((users.size, rank), dtype=np.float32)
    if len(table):
        matrix[np.searchsorted(users, table["id"].to_numpy(dtype=np.int64))] = np.stack(
            table["features"].to_numpy()
        ).astype(np.float32)
    return matrix


def holdout_figures(
    params: TrainParams,
    interactions_url: str,
    *,
    n_users: int,
    n_items: int,
    k: int,
    seed: int,
    train_share: float,
    max_users: int = DEFAULT_HELD_OUT_USERS,
    conf: dict[str, str] | None = None,
) -> dict:
    """precision@k, map@k and ndcg@k of ``params`` fitted by Spark on the training part, beside
    popularity, for at most ``max_users`` listeners with held-out plays (a seeded draw)."""
    from implicit.cpu.als import AlternatingLeastSquares
    from pyspark.sql import functions as F

    if not 0 < train_share < 1:
        raise DataError(f"train_share must be between 0 and 1, got {train_share}")
    session = spark_session(params.spark_master, conf=conf)
    plays = session.read.parquet(interactions_url).select("user", "item", "count")
    split = plays.withColumn("train", _in_training(seed, train_share)).cache()
    try:
        train = split.where(F.col("train")).drop("train")
        test = split.where(~F.col("train")).drop("train")
        with quiet_pandas():
            held_out = (
                test.select("user")
                .distinct()
                .orderBy(F.xxhash64("user", F.lit(seed)), "user")
                .limit(max_users)
                .toPandas()["user"]
                .to_numpy(dtype=np.int64)
            )
        if held_out.size == 0:
            raise DataError("no play was held out: the dataset is too small for the holdout figures")
        users = np.sort(held_out)
        chosen = F.broadcast(session.createDataFrame([(int(u),) for u in users], "user int"))
        fitted, settings, _ = fit_plays(session, params, train, n_users)
        item_factors = factor_matrix(fitted.itemFactors, n_items, settings.rank)
        user_factors = _held_out_factors(fitted.userFactors.join(chosen, F.col("id") == F.col("user")), users)
        listeners = np.zeros(n_items, dtype=np.int64)
        with quiet_pandas():
            counts = train.groupBy("item").count().toPandas()
        listeners[counts["item"].to_numpy(dtype=np.int64)] = counts["count"].to_numpy()
        train_rows = _rows(train.join(chosen, "user"), users, n_items, None)
        test_rows = _rows(test.join(chosen, "user"), users, n_items, "count")
    finally:
        split.unpersist()
    with threadpool_limits(1, "blas"):  # implicit checks BLAS threads when built
        model = AlternatingLeastSquares(factors=settings.rank, random_state=params.random_state, num_threads=1)
    model.user_factors, model.item_factors = user_factors, item_factors
    return {
        "protocol": "holdout",
        "k": k,
        "seed": seed,
        "train_share": train_share,
        "split": SPLIT_DESCRIPTION,
        "model": implicit_ranking_metrics(model, train_rows, test_rows, k),
        "baseline": implicit_ranking_metrics(PopularityRecommender(listeners), train_rows, test_rows, k),
        "users_evaluated": int(users.size),
    }
