"""Splits: whole held-out users with half visible, seeded samples, and who is asked what."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from planted_data import planted_counts
from skewed_data import skewed_counts

from recommender.evaluation.splits import (
    held_out_cases,
    item2item_seeds,
    mix_cases,
    sample_test_users,
    users_split,
)


def test_users_split_holds_out_whole_users_with_half_visible():
    counts, _ = planted_counts()
    split = users_split(counts, 0.8, seed=3)
    assert len(split.users) == round(counts.shape[0] * 0.2)
    assert split.train.shape[0] == counts.shape[0] - len(split.users)
    for user, visible, hidden in zip(split.users, split.visible, split.hidden):
        history = set(counts[user].indices.tolist())
        assert set(visible) | set(hidden) == history and not set(visible) & set(hidden)
        assert len(visible) == len(history) // 2


def test_holdout_scores_a_seeded_sample_of_at_most_max_users():
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


def test_item2item_cases_ask_about_the_seeds_the_figures_were_scored_on():
    split = users_split(skewed_counts(), 0.8, 4)
    seeds = dict(zip(split.users.tolist(), item2item_seeds(split, 4).tolist()))
    cases = held_out_cases(split, "item2item", 4, 20)
    assert len(cases) == 20
    for case in cases:
        assert case.seeds.tolist() == [seeds[case.user]]
        played = set(skewed_counts()[case.user].indices.tolist())
        assert set(case.targets.tolist()) == played - {seeds[case.user]}


def test_held_out_case_sample_is_seeded_and_bounded():
    split = users_split(skewed_counts(), 0.8, 2)
    first = [c.user for c in held_out_cases(split, "users", 2, 10)]
    assert first == [c.user for c in held_out_cases(split, "users", 2, 10)]
    assert len(first) == 10 and set(first) <= set(split.users.tolist())
    assert len(held_out_cases(split, "users", 2, 10_000)) == len(split.users)


def test_mix_cases_take_two_songs_of_a_listener_as_seeds_and_the_rest_as_targets():
    counts, _ = planted_counts(seed=4)
    split = users_split(counts, 0.8, seed=1)
    cases = mix_cases(split, seed=1)
    assert cases and len(cases) == sum(v.size + h.size > 2 for v, h in zip(split.visible, split.hidden))
    for case in cases:
        played = set(counts[case.user].indices.tolist())
        assert len(case.seeds) == 2 and len(set(case.seeds.tolist())) == 2
        assert set(case.seeds.tolist()) | set(case.targets.tolist()) <= played
        assert not set(case.seeds.tolist()) & set(case.targets.tolist())
    assert [c.seeds.tolist() for c in cases] == [c.seeds.tolist() for c in mix_cases(split, seed=1)]
    assert len(mix_cases(split, seed=1, max_users=5)) == 5
