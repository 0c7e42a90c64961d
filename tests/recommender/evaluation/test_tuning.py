"""`train --tune`: chosen on a validation split of the training part; the test split touched once."""

from __future__ import annotations

from planted_data import planted_counts

from recommender.config import TrainParams
from recommender.evaluation import tuning
from recommender.evaluation.tuning import SEARCH_SPACES, candidate_params, tune


def test_candidates_start_with_the_base_and_are_distinct():
    base = TrainParams(factors=8)
    candidates = candidate_params(base, 12, seed=3)
    assert candidates[0] == base and len(candidates) == 12
    assert len(set(candidates)) == 12
    grid = SEARCH_SPACES["als"]
    assert all(c.factors in grid["factors"] and c.weighting in grid["weighting"] for c in candidates[1:])
    assert candidate_params(base, 12, seed=3) == candidates, "a seed gives the same search"


def test_tune_chooses_on_validation_and_touches_test_once(monkeypatch):
    counts, _ = planted_counts(seed=2)
    splits: list[tuple] = []
    real_split = tuning.holdout_split

    def spying_split(matrix, share, seed):
        train, test = real_split(matrix, share, seed)
        splits.append((matrix, train, test))
        return train, test

    scored: list[tuple] = []
    real_metrics = tuning.holdout_metrics

    def spying_metrics(model, train, test, k):
        result = real_metrics(model, train, test, k)
        scored.append((test, train, result))
        return result

    monkeypatch.setattr(tuning, "holdout_split", spying_split)
    monkeypatch.setattr(tuning, "holdout_metrics", spying_metrics)
    base = TrainParams(factors=4, iterations=3, threads=1)
    result = tune(counts, base, k=5, seed=4, max_trials=6, time_budget=60)

    (_, train, test), (inner_source, fit_part, validation) = splits
    assert inner_source is train, "the validation split is carved from the training part"
    # Validation and fitting data never contain a test interaction.
    test_cells = set(zip(*test.nonzero()))
    assert not test_cells & set(zip(*validation.nonzero()))
    assert not test_cells & set(zip(*fit_part.nonzero()))
    # Every trial was scored on validation; the test split was used last, exactly twice
    # (the chosen configuration and the popularity baseline on the same split).
    uses = ["test" if t is test else "validation" if t is validation else "other" for t, _, _ in scored]
    assert uses == ["validation"] * len(result.trials) + ["test", "test"]
    assert scored[-2][1] is train and scored[-1][1] is train
    # The chosen configuration is the validation winner.
    best = max(result.trials, key=lambda t: t.validation)
    assert result.best == best.params
    assert [t.validation for t in result.trials] == [r["precision@5"] for _, _, r in scored[:-2]]
    assert result.test == scored[-2][2] and result.baseline == scored[-1][2]


def test_tune_respects_its_time_budget():
    counts, _ = planted_counts()
    result = tune(counts, TrainParams(factors=4, iterations=2, threads=1), k=5, max_trials=30, time_budget=0)
    assert len(result.trials) == 1, "the base configuration is always tried, nothing after the budget"
