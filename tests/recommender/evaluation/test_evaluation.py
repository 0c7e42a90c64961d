"""Evaluation: protocols, the popularity baseline on the same split, JSON, online hook."""

from __future__ import annotations

import argparse
import json
import sys
import types

import numpy as np
import pytest
import scipy.sparse as sp
from planted_data import planted_counts, write_config, write_planted_dataset

from recommender import evaluation, training
from recommender.config import load_config
from recommender.evaluation import PopularityRecommender, evaluate, ranking_scores, users_split
from recommender.config import TrainParams

FAST = TrainParams(factors=4, iterations=5, threads=1)


def run_command(config_path, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    training.register(commands)
    evaluation.register(commands)
    args = parser.parse_args(list(argv))
    args.config_obj = load_config(config_path)
    return args.func(args)


def test_popularity_recommends_most_listened_unseen_items():
    train = sp.csr_matrix(np.array([[5, 1, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 9]], dtype=np.float32))
    popularity = PopularityRecommender.fit(train)
    assert popularity.listeners.tolist() == [3, 3, 1, 1]  # listeners, not plays
    ids, _ = popularity.recommend(np.array([0, 3]), train[[0, 3]], N=2)
    assert ids.tolist() == [[2, 3], [0, 2]]
    assert popularity.top(np.array([0]), 2).tolist() == [1, 2]


def test_ranking_scores_by_hand():
    ranked = np.array([7, 1, 9, 2])
    hidden = np.array([1, 2, 5])
    average_precision, recall, ndcg = ranking_scores(ranked, hidden, 4)
    assert average_precision == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert recall == pytest.approx(2 / 3)
    dcg = 1 / np.log2(3) + 1 / np.log2(5)
    assert ndcg == pytest.approx(dcg / (1 + 1 / np.log2(3) + 1 / np.log2(4)))
    assert ranking_scores(ranked, hidden, 1) == (0.0, 0.0, 0.0)


def test_users_split_holds_out_whole_users_with_half_visible():
    counts, _ = planted_counts()
    split = users_split(counts, 0.8, seed=3)
    assert len(split.users) == round(counts.shape[0] * 0.2)
    assert split.train.shape[0] == counts.shape[0] - len(split.users)
    for user, visible, hidden in zip(split.users, split.visible, split.hidden):
        history = set(counts[user].indices.tolist())
        assert set(visible) | set(hidden) == history and not set(visible) & set(hidden)
        assert len(visible) == len(history) // 2


def test_holdout_model_and_baseline_share_one_split(monkeypatch):
    counts, _ = planted_counts(seed=5)
    calls: list[tuple] = []
    real_metrics = evaluation.holdout_metrics
    monkeypatch.setattr(
        evaluation,
        "holdout_metrics",
        lambda model, train, test, k: calls.append((model, train, test)) or real_metrics(model, train, test, k),
    )
    report = evaluate(counts, FAST, "holdout", k=5, seed=7)
    (model, model_train, model_test), (baseline, baseline_train, baseline_test) = calls
    assert isinstance(baseline, PopularityRecommender)
    assert model_test is baseline_test and model_train is baseline_train
    expected_train, expected_test = evaluation.holdout_split(counts, 0.8, 7)
    assert (baseline_test != expected_test).nnz == 0 and (baseline_train != expected_train).nnz == 0
    assert (model.weighted != training.weight_interactions(expected_train, "bm25")).nnz == 0, (
        "the model is re-fitted on the training part only"
    )
    assert report["model"]["precision@5"] > report["baseline"]["precision@5"]


@pytest.mark.parametrize(
    "protocol, names",
    [
        ("holdout", {"precision@10", "map@10", "ndcg@10"}),
        ("users", {"map@500", "recall@20", "recall@50", "ndcg@100", "recall@10", "ndcg@10"}),
        ("item2item", {"hit_rate@10", "recall@10"}),
    ],
)
def test_each_protocol_beats_popularity_on_planted_genres(protocol, names):
    counts, _ = planted_counts(seed=6)
    report = evaluate(counts, FAST, protocol, k=10, seed=1)
    assert set(report["model"]) == set(report["baseline"]) == names
    primary = evaluation.primary_metric(protocol, 10)
    assert report["model"][primary] > report["baseline"][primary] + 0.1
    assert report["users_evaluated"] > 0


def test_extra_training_rows_never_change_the_split_or_the_baseline():
    counts, _ = planted_counts(seed=8)
    extra = sp.csr_matrix(([5.0, 5.0], ([0, 0], [1, 2])), shape=(1, counts.shape[1]))
    plain = evaluate(counts, FAST, "holdout", k=5, seed=2)
    with_extra = evaluate(counts, FAST, "holdout", k=5, seed=2, extra_train=extra)
    assert plain["baseline"] == with_extra["baseline"]
    assert plain["users_evaluated"] == with_extra["users_evaluated"]


def test_evaluate_json_is_one_object_with_model_and_baseline(tmp_path, capsys):
    config_path = write_config(tmp_path)
    write_planted_dataset(load_config(config_path).datasets_dir)
    assert (
        run_command(config_path, "evaluate", "--dataset", "planted", "--protocol", "holdout", "--k", "5", "--json") == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["protocol"] == "holdout" and report["k"] == 5 and report["dataset"] == "planted"
    assert set(report["model"]) == set(report["baseline"]) == {"precision@5", "map@5", "ndcg@5"}
    assert "no model published" in report["evaluated"]
    assert "online" not in report


def test_evaluate_uses_the_models_configuration_and_explains_the_refit(tmp_path, capsys):
    config_path = write_config(tmp_path)
    write_planted_dataset(load_config(config_path).datasets_dir)
    run_command(config_path, "train", "--dataset", "planted", "--algorithm", "cosine", "--no-eval", "--quiet")
    capsys.readouterr()
    assert run_command(config_path, "evaluate", "--dataset", "planted", "--model", "v1") == 0
    out = capsys.readouterr().out
    assert "model v1's configuration" in out and "cosine" in out
    assert "re-fitted on the training part" in out
    assert "popularity" in out


def test_online_rates_are_shown_when_the_bot_log_exists(tmp_path, capsys, monkeypatch):
    config_path = write_config(tmp_path)
    config = load_config(config_path)
    write_planted_dataset(config.datasets_dir)
    config.database_path.write_bytes(b"")
    seen = []
    fake = types.ModuleType("recommender.feedback.log")
    fake.online_rates = lambda path: seen.append(path) or {"v1": {"answers": 4, "up": 3, "down": 1, "up_rate": 0.75}}
    monkeypatch.setitem(sys.modules, "recommender.feedback.log", fake)
    run_command(config_path, "evaluate", "--dataset", "planted", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["online"] == {"v1": {"answers": 4, "up": 3, "down": 1, "up_rate": 0.75}}
    assert seen == [config.database_path]
    run_command(config_path, "evaluate", "--dataset", "planted")
    assert "up-rate 0.750" in capsys.readouterr().out
    # A reader module without the function is skipped quietly.
    monkeypatch.setitem(sys.modules, "recommender.feedback.log", types.ModuleType("recommender.feedback.log"))
    run_command(config_path, "evaluate", "--dataset", "planted", "--json")
    assert "online" not in json.loads(capsys.readouterr().out)


def test_holdout_scores_a_seeded_sample_of_at_most_max_users():
    from recommender.evaluation import sample_test_users

    rng = np.random.default_rng(0)
    test = sp.random(300, 50, density=0.1, format="csr", random_state=rng, dtype=np.float32)
    test.data[:] = 1
    with_plays = np.flatnonzero(np.diff(test.indptr))
    sampled = sample_test_users(test, 40, seed=3)
    kept = np.flatnonzero(np.diff(sampled.indptr))
    assert kept.size == 40 and set(kept) <= set(with_plays)
    assert (sampled[kept] != test[kept]).nnz == 0, "a kept user keeps all their held-out plays"
    assert np.array_equal(kept, np.flatnonzero(np.diff(sample_test_users(test, 40, seed=3).indptr)))
    assert sample_test_users(test, 10_000, seed=3) is test


def test_holdout_report_counts_only_the_sampled_users():
    counts, _ = planted_counts(seed=0)
    params = TrainParams(algorithm="als", factors=4, iterations=3, threads=1)
    whole = evaluate(counts, params, "holdout", 5, 1)
    sampled = evaluate(counts, params, "holdout", 5, 1, max_users=20)
    assert whole["users_evaluated"] > 20 and sampled["users_evaluated"] == 20
    assert set(sampled["model"]) == set(whole["model"])


# -- mixes -----------------------------------------------------------------------------------
def write_genre_dataset(datasets_dir, name: str = "genres"):
    """Planted listening with each song's genre in the catalog (as the demo catalog has)."""
    import pandas as pd

    from recommender.dataset import Dataset, write_dataset

    counts, genre = planted_counts(seed=3)
    items = pd.DataFrame(
        {
            "item_id": [f"song{i}" for i in range(counts.shape[1])],
            "title": [f"Song {i}" for i in range(counts.shape[1])],
            "artist": [f"Artist {i}" for i in range(counts.shape[1])],
            "genre": [f"genre {g}" for g in genre],
        }
    )
    write_dataset(
        datasets_dir / name,
        name=name,
        interactions=counts,
        items=items,
        user_ids=[f"user{u}" for u in range(counts.shape[0])],
    )
    return Dataset.open(datasets_dir, name)


def test_mix_cases_take_two_songs_of_a_listener_as_seeds_and_the_rest_as_targets():
    counts, _ = planted_counts(seed=4)
    split = users_split(counts, 0.8, seed=1)
    cases = evaluation.mix_cases(split, seed=1)
    assert cases and len(cases) == sum(v.size + h.size > 2 for v, h in zip(split.visible, split.hidden))
    for case in cases:
        played = set(counts[case.user].indices.tolist())
        assert len(case.seeds) == 2 and len(set(case.seeds.tolist())) == 2
        assert set(case.seeds.tolist()) | set(case.targets.tolist()) <= played
        assert not set(case.seeds.tolist()) & set(case.targets.tolist())
    assert [c.seeds.tolist() for c in cases] == [c.seeds.tolist() for c in evaluation.mix_cases(split, seed=1)]
    assert len(evaluation.mix_cases(split, seed=1, max_users=5)) == 5


def test_mix_protocol_measures_every_strategy_beside_popularity_with_genres(tmp_path, capsys):
    from recommender.ranking import MIX_STRATEGIES, MIX_STRATEGY

    config_path = write_config(tmp_path)
    dataset = write_genre_dataset(load_config(config_path).datasets_dir)
    report = evaluate(dataset, FAST, "mix", k=5, seed=1, genre_pairs_count=40)
    assert set(report["mix"]) == set(MIX_STRATEGIES) and report["mix_setup"]["genre_pairs"] == 40
    assert report["model"] == {name: report["mix"][MIX_STRATEGY][name] for name in ("hit_rate@5", "recall@5")}
    assert report["baseline"] == {name: report["mix_baseline"][name] for name in ("hit_rate@5", "recall@5")}
    for figures in [*report["mix"].values(), report["mix_baseline"]]:
        assert 0.0 <= figures["hit_rate@5"] <= 1.0 and 0.0 <= figures["genre_representation"] <= 1.0
    # Listeners play one genre each here: a mix of two genres must show both.
    assert report["mix"][MIX_STRATEGY]["genre_representation"] == 1.0
    assert report["model"]["hit_rate@5"] > report["baseline"]["hit_rate@5"]
    # Reproducible from the command line, with the table of strategies.
    assert (
        run_command(
            config_path, "evaluate", "--dataset", "genres", "--protocol", "mix", "--k", "5", "--genre-pairs", "40"
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "genre_representation" in out and all(name in out for name in MIX_STRATEGIES)
    assert f"served: {MIX_STRATEGY}" in out
    # A catalog without genres still gets hit rates, and no genre column.
    plain = evaluate(planted_counts(seed=3)[0], FAST, "mix", k=5, seed=1)
    assert plain["mix_setup"]["genre_pairs"] == 0 and "genre_representation" not in plain["mix"][MIX_STRATEGY]


def test_evaluating_writes_nothing_beside_the_dataset_or_in_the_working_folder(tmp_path, monkeypatch):
    config_path = write_config(tmp_path)
    dataset = write_genre_dataset(load_config(config_path).datasets_dir)
    before = sorted(p.name for p in dataset.path.iterdir())
    monkeypatch.chdir(tmp_path)
    evaluate(dataset, FAST, "mix", k=5, seed=1, genre_pairs_count=5)
    evaluate(dataset, FAST, "item2item", k=5, seed=1, knobs=True, knob_users=5)
    evaluation.calibrate_deep(dataset, FAST, k=5, seed=1, max_users=5)
    evaluate(planted_counts(seed=3)[0], FAST, "mix", k=5, seed=1)
    assert sorted(p.name for p in dataset.path.iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "data"]
