"""RankingContext: a split's training part ranked as the bot ranks, writing nothing anywhere."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from planted_data import planted_counts, write_config, write_genre_dataset

from recommender import ranking
from recommender.config import TrainParams, load_config
from recommender.dataset import Dataset, write_dataset
from recommender.evaluation.calibration import calibrate_deep
from recommender.evaluation.protocols import evaluate
from recommender.evaluation.ranking_context import RankingContext, ranking_options
from recommender.training import fit

FAST = TrainParams(factors=4, iterations=5, threads=1)


def test_evaluating_writes_nothing_beside_the_dataset_or_in_the_working_folder(tmp_path, monkeypatch):
    config_path = write_config(tmp_path)
    dataset = write_genre_dataset(load_config(config_path).datasets_dir)
    before = sorted(p.name for p in dataset.path.iterdir())
    monkeypatch.chdir(tmp_path)
    evaluate(dataset, FAST, "mix", k=5, seed=1, genre_pairs_count=5)
    evaluate(dataset, FAST, "item2item", k=5, seed=1, knobs=True, knob_users=5)
    calibrate_deep(dataset, FAST, k=5, seed=1, max_users=5)
    evaluate(planted_counts(seed=3)[0], FAST, "mix", k=5, seed=1)
    assert sorted(p.name for p in dataset.path.iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "data"]


def test_a_seeds_other_versions_are_never_shown_and_versions_count_as_one(tmp_path):
    """Song 0 has a radio edit (song 1); asked about song 2, the answer shows one of them at most,
    and asked about song 0, neither."""
    counts, _ = planted_counts(seed=2)
    n = counts.shape[1]
    titles = [f"Song {i}" for i in range(n)]
    titles[1] = "Song 0 (Radio Edit)"
    items = pd.DataFrame({"item_id": [f"s{i}" for i in range(n)], "title": titles, "artist": ["Band"] * n})
    write_dataset(tmp_path / "v", name="v", interactions=counts, items=items, user_ids=[str(u) for u in range(160)])
    dataset = Dataset.open(tmp_path, "v")
    context = RankingContext.build(dataset, sp.csr_matrix(counts), fit(FAST, counts))
    assert context.item_group[0] == context.item_group[1] != context.item_group[2]
    options = ranking_options(count=9, per_artist_cap=0, min_score=-1.0)
    pool = np.arange(n)
    scores = np.linspace(1.0, 0.5, n).astype(np.float32)
    shown = context.rank(pool, scores, options, np.array([2])).tolist()
    assert len({0, 1} & set(shown)) == 1 and 2 not in shown
    assert not {0, 1} & set(context.rank(pool, scores, options, np.array([0])).tolist())


def test_evaluation_ranks_with_the_function_the_front_ends_answer_with(monkeypatch):
    counts, _ = planted_counts(seed=1)
    context = RankingContext.build(counts, sp.csr_matrix(counts), fit(FAST, counts))
    calls = []
    real = ranking.rank_for_seeds
    monkeypatch.setattr(ranking, "rank_for_seeds", lambda *a, **kw: calls.append(kw["seeds"]) or real(*a, **kw))
    pool, scores = context.pool(np.array([3]), 200)
    shown = context.rank(pool, scores, ranking_options(count=5), np.array([3]))
    assert calls == [[3]] and len(shown) == 5 and 3 not in shown.tolist()
