"""``train --tune``: parameters chosen on a validation split carved from the training part.

The split is the evaluation's holdout split; the validation split is carved from its training
part only (``train_test_split(train, train_share, seed + 1)``), and the test split is touched
exactly once, after the choice, to report the held-out figure beside the popularity baseline.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from tqdm import tqdm

from recommender.config import TrainParams
from recommender.training import fit

from .baseline import PopularityRecommender
from .metrics import holdout_metrics
from .splits import holdout_split

log = logging.getLogger(__name__)

# (counts, train share, seed) -> (train, test)
Split = Callable[[sp.spmatrix, float, int], tuple[sp.csr_matrix, sp.csr_matrix]]

# Small grids: each value is a sensible setting for implicit-feedback data; the product
# of each grid is a few hundred configurations, of which tune() tries a random subset.
SEARCH_SPACES: dict[str, dict[str, tuple]] = {
    "als": {
        "weighting": ("log", "bm25", "raw"),
        "factors": (32, 64, 128),
        "regularization": (0.01, 0.05, 0.2, 1.0),
        "alpha": (0.5, 1.0, 2.0, 4.0),
        "iterations": (10, 15, 25),
    },
    "bpr": {
        "factors": (32, 64, 128),
        "learning_rate": (0.01, 0.05, 0.1),
        "regularization": (0.001, 0.01, 0.1),
        "iterations": (50, 100, 200),
    },
    "lmf": {
        "weighting": ("log", "bm25"),
        "factors": (30, 60),
        "learning_rate": (0.5, 1.0),
        "regularization": (0.3, 0.6, 1.0),
        "iterations": (30,),
    },
    "cosine": {"weighting": ("raw", "log", "bm25"), "neighbours": (20, 50, 100, 200, 400)},
    "bm25": {"neighbours": (20, 50, 100, 200, 400), "bm25_k1": (0.6, 1.2, 3.0, 100.0), "bm25_b": (0.5, 0.75, 0.9)},
}


def candidate_params(base: TrainParams, max_trials: int, seed: int) -> list[TrainParams]:
    """``base`` first, then distinct random picks from its algorithm's grid."""
    space = SEARCH_SPACES[base.algorithm]
    names = list(space)
    grid = [dict(zip(names, values)) for values in itertools.product(*(space[n] for n in names))]
    order = np.random.default_rng(seed).permutation(len(grid))
    chosen = [base]
    for index in order:
        if len(chosen) >= max_trials:
            break
        params = base.replace(**grid[index])
        if params not in chosen:
            chosen.append(params)
    return chosen


@dataclass
class Trial:
    params: TrainParams
    validation: float
    seconds: float


@dataclass
class TuneResult:
    best: TrainParams
    metric: str
    trials: list[Trial]
    test: dict  # the chosen configuration refit on the whole training part, on the test split
    baseline: dict  # popularity on the same split
    split: dict = field(default_factory=dict)

    @property
    def best_trial(self) -> Trial:
        return next(t for t in self.trials if t.params == self.best)

    def summary(self) -> dict:
        return {
            "metric": self.metric,
            "trials": len(self.trials),
            "validation_best": round(self.best_trial.validation, 6),
            "space": {k: list(v) for k, v in SEARCH_SPACES[self.best.algorithm].items()},
            **self.split,
        }


def tune(
    counts: sp.spmatrix,
    base: TrainParams,
    *,
    k: int = 10,
    seed: int = 1,
    train_share: float = 0.8,
    max_trials: int = 40,
    time_budget: float = 90.0,
    show_progress: bool = False,
    split: Split | None = None,
) -> TuneResult:
    """Pick parameters by precision@k on a validation split of the training part.

    1. ``train, test = split(counts, train_share, seed)`` (the evaluation's holdout split);
    2. ``fit_part, validation = split(train, train_share, seed + 1)``;
    3. each candidate is fitted on ``fit_part`` and scored on ``validation`` only, until
       ``max_trials`` or ``time_budget`` seconds (at least ``base`` is always tried);
    4. the best is refit on ``train`` and scored once on ``test``, beside popularity.
    """
    split = split or holdout_split
    metric = f"precision@{k}"
    train, test = split(counts, train_share, seed)
    fit_part, validation = split(train, train_share, seed + 1)
    trials: list[Trial] = []
    started = time.monotonic()
    candidates = candidate_params(base, max_trials, seed)
    bar = tqdm(candidates, desc="tuning", unit="trial", disable=not show_progress)
    for params in bar:
        if trials and time.monotonic() - started > time_budget:
            log.info("tuning stopped by its %.0f s budget after %d trials", time_budget, len(trials))
            break
        trial_start = time.perf_counter()
        fitted = fit(params, fit_part)
        score = holdout_metrics(fitted, fit_part, validation, k)[metric]
        trials.append(Trial(params, score, time.perf_counter() - trial_start))
        bar.set_postfix(best=f"{max(t.validation for t in trials):.4f}")
    bar.close()
    best = max(trials, key=lambda t: t.validation).params  # first of equals: base wins ties
    final = fit(best, train)
    test_metrics = holdout_metrics(final, train, test, k)
    baseline = holdout_metrics(PopularityRecommender.fit(train), train, test, k)
    return TuneResult(
        best=best,
        metric=metric,
        trials=trials,
        test=test_metrics,
        baseline=baseline,
        split={"protocol": "holdout", "k": k, "seed": seed, "train_share": train_share, "validation_seed": seed + 1},
    )
