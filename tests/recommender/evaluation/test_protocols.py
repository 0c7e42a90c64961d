"""Protocols: the model and the popularity baseline on one split, each protocol's figures, mixes."""

from __future__ import annotations

import pytest
import scipy.sparse as sp
from planted_data import planted_counts, write_config, write_genre_dataset

from recommender.config import TrainParams, load_config
from recommender.errors import ConfigError
from recommender.evaluation import protocols
from recommender.evaluation.baseline import PopularityRecommender
from recommender.evaluation.metrics import primary_metric
from recommender.evaluation.protocols import evaluate
from recommender.evaluation.splits import holdout_split
from recommender.ranking import MIX_STRATEGIES, MIX_STRATEGY
from recommender.training import weight_interactions

FAST = TrainParams(factors=4, iterations=5, threads=1)


def test_holdout_model_and_baseline_share_one_split(monkeypatch):
    counts, _ = planted_counts(seed=5)
    calls: list[tuple] = []
    real_metrics = protocols.holdout_metrics
    monkeypatch.setattr(
        protocols,
        "holdout_metrics",
        lambda model, train, test, k: calls.append((model, train, test)) or real_metrics(model, train, test, k),
    )
    report = evaluate(counts, FAST, "holdout", k=5, seed=7)
    (model, model_train, model_test), (baseline, baseline_train, baseline_test) = calls
    assert isinstance(baseline, PopularityRecommender)
    assert model_test is baseline_test and model_train is baseline_train
    expected_train, expected_test = holdout_split(counts, 0.8, 7)
    assert (baseline_test != expected_test).nnz == 0 and (baseline_train != expected_train).nnz == 0
    assert (model.weighted != weight_interactions(expected_train, "bm25")).nnz == 0, (
        "the model is re-fitted on the training part only"
    )
    assert report["model"]["precision@5"] > report["baseline"]["precision@5"]


@pytest.mark.parametrize(
    "protocol, names",
    [
        ("holdout", {"precision@10", "map@10", "ndcg@10"}),
        ("users", {"map@500", "recall@20", "recall@50", "ndcg@100", "recall@10", "ndcg@10"}),
        ("item2item", {"hit_rate@10", "recall@10", "hit_rate@10_longtail", "recall@10_longtail", "coverage"}),
    ],
)
def test_each_protocol_beats_popularity_on_planted_genres(protocol, names):
    counts, _ = planted_counts(seed=6)
    report = evaluate(counts, FAST, protocol, k=10, seed=1)
    assert names <= set(report["model"]) and set(report["model"]) == set(report["baseline"])
    primary = primary_metric(protocol, 10)
    assert report["model"][primary] > report["baseline"][primary] + 0.1
    assert report["users_evaluated"] > 0


def test_extra_training_rows_never_change_the_split_or_the_baseline():
    counts, _ = planted_counts(seed=8)
    extra = sp.csr_matrix(([5.0, 5.0], ([0, 0], [1, 2])), shape=(1, counts.shape[1]))
    plain = evaluate(counts, FAST, "holdout", k=5, seed=2)
    with_extra = evaluate(counts, FAST, "holdout", k=5, seed=2, extra_train=extra)
    assert plain["baseline"] == with_extra["baseline"]
    assert plain["users_evaluated"] == with_extra["users_evaluated"]


def test_holdout_report_counts_only_the_sampled_users():
    counts, _ = planted_counts(seed=0)
    params = TrainParams(algorithm="als", factors=4, iterations=3, threads=1)
    whole = evaluate(counts, params, "holdout", 5, 1)
    sampled = evaluate(counts, params, "holdout", 5, 1, max_users=20)
    assert whole["users_evaluated"] > 20 and sampled["users_evaluated"] == 20
    assert set(sampled["model"]) == set(whole["model"])


@pytest.mark.parametrize(
    "protocol, k, knobs, named",
    [
        ("popularity", 10, False, "protocol 'popularity' is not one of holdout, users, item2item, mix"),
        ("holdout", 0, False, "k must be at least 1, got 0"),
        ("mix", 10, True, "--knobs measures the bot's answers: use --protocol item2item"),
    ],
)
def test_a_request_it_cannot_answer_is_refused_by_name(protocol, k, knobs, named):
    with pytest.raises(ConfigError, match=named):
        evaluate(planted_counts()[0], FAST, protocol, k=k, knobs=knobs)


def test_mix_protocol_measures_every_strategy_beside_popularity_with_genres(tmp_path):
    dataset = write_genre_dataset(load_config(write_config(tmp_path)).datasets_dir)
    report = evaluate(dataset, FAST, "mix", k=5, seed=1, genre_pairs_count=40)
    assert set(report["mix"]) == set(MIX_STRATEGIES) and report["mix_setup"]["genre_pairs"] == 40
    assert report["model"] == {name: report["mix"][MIX_STRATEGY][name] for name in ("hit_rate@5", "recall@5")}
    assert report["baseline"] == {name: report["mix_baseline"][name] for name in ("hit_rate@5", "recall@5")}
    for figures in [*report["mix"].values(), report["mix_baseline"]]:
        assert 0.0 <= figures["hit_rate@5"] <= 1.0 and 0.0 <= figures["genre_representation"] <= 1.0
    # Listeners play one genre each here: a mix of two genres must show both.
    assert report["mix"][MIX_STRATEGY]["genre_representation"] == 1.0
    assert report["model"]["hit_rate@5"] > report["baseline"]["hit_rate@5"]
    # A catalog without genres still gets hit rates, and no genre column.
    plain = evaluate(planted_counts(seed=3)[0], FAST, "mix", k=5, seed=1)
    assert plain["mix_setup"]["genre_pairs"] == 0 and "genre_representation" not in plain["mix"][MIX_STRATEGY]
