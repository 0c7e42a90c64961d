"""The item2item protocol's figures against brute-force counts on a small matrix.

Each figure of ``evaluate --protocol item2item`` (hit rate, recall, their long-tail variants,
coverage, novelty) is recounted here by plain loops over the same split: the seeds chosen by
hand (most played, every song), the lists rebuilt from their definitions (the popularity
baseline and its long-tail variant; the model's own order from ``similar_to_each``).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.config import TrainParams
from recommender.errors import ConfigError
from recommender.evaluation.baseline import PopularityRecommender
from recommender.evaluation.metrics import ListFigures, head_items
from recommender.evaluation.protocols import evaluate
from recommender.evaluation.splits import SEED_CHOICES, UsersSplit, item2item_cases, item2item_seeds, users_split
from recommender.ranking import MIN_MATCH_SCORE
from recommender.training import fit

FAST = TrainParams(factors=8, iterations=8, threads=1)
K, HEAD = 5, 6


def small_counts(seed: int = 3) -> sp.csr_matrix:
    """60 listeners x 30 songs, popularity skewed (song i drawn with weight 1/(i+1))."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, 31)
    weights /= weights.sum()
    rows, cols = [], []
    for user in range(60):
        songs = rng.choice(30, size=int(rng.integers(3, 9)), replace=False, p=weights)
        rows += [user] * songs.size
        cols += songs.tolist()
    plays = rng.integers(1, 50, size=len(rows)).astype(np.float32)
    return sp.csr_matrix((plays, (rows, cols)), shape=(60, 30))


# -- brute force -------------------------------------------------------------------------
def brute_head(listeners: np.ndarray, head: int) -> set[int]:
    ranked = sorted(range(listeners.size), key=lambda i: (-listeners[i], i))
    return {i for i in ranked[:head] if listeners[i] > 0}


def brute_seeds(split: UsersSplit, counts: sp.csr_matrix, choice: str, seed: int) -> list[tuple[int, list[int], float]]:
    """(seed, targets, weight) per case, by hand: with every song as a seed, each listener's
    cases share one listener's weight."""
    dense = counts.toarray()
    drawn = item2item_seeds(split, seed)
    cases = []
    for position, user in enumerate(split.users.tolist()):
        items = sorted(split.visible[position].tolist() + split.hidden[position].tolist())
        if choice == "most-played":
            best = max(items, key=lambda i: (dense[user, i], -i))
            chosen = [best]
        elif choice == "random":
            chosen = [int(drawn[position])]
        else:
            chosen = items
        cases += [(s, [i for i in items if i != s], 1.0 / len(chosen)) for s in chosen]
    return cases


def brute_figures(lists: list[list[int]], cases, listeners: np.ndarray, n_users: int, head: set[int]) -> dict:
    hits = recall = hits_lt = recall_lt = novelty = n = 0.0
    shown_ever: set[int] = set()
    for shown, (_, targets, weight) in zip(lists, cases):
        found = [i for i in shown if i in targets]
        found_lt = [i for i in found if i not in head]
        wanted = min(K, len(targets))
        hits += weight * (1.0 if found else 0.0)
        recall += weight * len(found) / wanted
        hits_lt += weight * (1.0 if found_lt else 0.0)
        recall_lt += weight * len(found_lt) / wanted
        novelty += weight * sum(-np.log2(max(listeners[i], 1) / n_users) for i in shown) / len(shown)
        shown_ever |= set(shown)
        n += weight
    return {
        f"hit_rate@{K}": hits / n,
        f"recall@{K}": recall / n,
        f"hit_rate@{K}_longtail": hits_lt / n,
        f"recall@{K}_longtail": recall_lt / n,
        "coverage": len(shown_ever) / int(np.count_nonzero(listeners)),
        "novelty": novelty / n,
    }


def brute_popular(listeners: np.ndarray, seed: int, skip: set[int]) -> list[int]:
    ranked = sorted(range(listeners.size), key=lambda i: (-listeners[i], i))
    return [i for i in ranked if i != seed and i not in skip and listeners[i] >= 1][:K]


# -- the pieces --------------------------------------------------------------------------
def test_the_head_is_the_most_listened_songs_by_hand():
    listeners = np.bincount(small_counts().indices, minlength=30)
    for head in (0, 1, 6, 29, 40):
        assert set(np.flatnonzero(head_items(listeners, head)).tolist()) == brute_head(listeners, head)
    assert not head_items(np.array([3, 0, 0]), 3)[1:].any()  # songs nobody played are never the head


@pytest.mark.parametrize("choice", SEED_CHOICES)
def test_item2item_seeds_by_hand(choice):
    counts = small_counts()
    split = users_split(counts, 0.7, 2)
    cases = item2item_cases(split, counts, choice, 2)
    assert [(int(c.seeds[0]), c.targets.tolist(), c.weight) for c in cases] == brute_seeds(split, counts, choice, 2)
    if choice == "all":
        assert len(cases) == sum(v.size + h.size for v, h in zip(split.visible, split.hidden))
    else:
        assert len(cases) == len(split.users)
    with pytest.raises(ConfigError, match="seed choice 'first' is not one of most-played, random, all"):
        item2item_cases(split, counts, "first", 2)


def test_every_seed_capped_per_listener_draws_that_many_of_each_listeners_songs():
    counts = small_counts()
    split = users_split(counts, 0.7, 2)
    whole = item2item_cases(split, counts, "all", 2)
    capped = item2item_cases(split, counts, "all", 2, max_seeds=4)
    again = item2item_cases(split, counts, "all", 2, max_seeds=4)
    assert [(c.user, int(c.seeds[0])) for c in capped] == [(c.user, int(c.seeds[0])) for c in again]  # seeded
    for position, user in enumerate(split.users.tolist()):
        songs = sorted(split.visible[position].tolist() + split.hidden[position].tolist())
        mine = [case for case in capped if case.user == user]
        seeds = [int(case.seeds[0]) for case in mine]
        assert len(seeds) == min(len(songs), 4) == len(set(seeds)) and set(seeds) <= set(songs)
        assert sum(case.weight for case in mine) == pytest.approx(1.0)
        for case in mine:  # the targets are all their other songs, as without the cap
            assert case.targets.tolist() == [song for song in songs if song != int(case.seeds[0])]
        if len(songs) <= 4:
            assert [(int(c.seeds[0]), c.weight) for c in mine] == [
                (int(c.seeds[0]), c.weight) for c in whole if c.user == user
            ]
    assert any(v.size + h.size > 4 for v, h in zip(split.visible, split.hidden))
    with pytest.raises(ConfigError, match="at most 0 seeds per listener"):
        item2item_cases(split, counts, "all", 2, max_seeds=0)


def test_long_tail_figures_count_only_hits_outside_the_head_by_hand():
    rng = np.random.default_rng(0)
    listeners = rng.integers(0, 30, size=20)
    head = head_items(listeners, HEAD)
    figures = ListFigures(K, listeners, 40, None, np.arange(20), head)
    lists, cases = [], []
    for _ in range(50):
        shown = rng.choice(20, size=K, replace=False).tolist()
        targets = rng.choice(20, size=int(rng.integers(1, 8)), replace=False).tolist()
        figures.add(np.array(shown), np.array(targets))
        lists.append(shown)
        cases.append((None, targets, 1.0))
    expected = brute_figures(lists, cases, listeners, 40, brute_head(listeners, HEAD))
    result = figures.result()
    for name, value in expected.items():
        assert result[name] == pytest.approx(value), name
    # Without a head, the figures are as before: no long-tail keys.
    assert f"hit_rate@{K}_longtail" not in ListFigures(K, listeners, 40, None, np.arange(20)).result()


def test_the_long_tail_baseline_never_recommends_the_head():
    listeners = np.bincount(small_counts().indices, minlength=30)
    head = head_items(listeners, HEAD)
    outside = PopularityRecommender(listeners).outside(head)
    seed = int(np.flatnonzero(~head)[0])
    top = outside.top(np.array([seed]), 8)
    ranked = sorted(range(30), key=lambda i: (-listeners[i], i))
    assert top.tolist() == [i for i in ranked if not head[i] and i != seed][:8]


# -- the protocol --------------------------------------------------------------------------
@pytest.mark.parametrize("choice", ["most-played", "all"])
def test_item2item_protocol_figures_match_a_brute_force_count(choice):
    counts = small_counts()
    report = evaluate(counts, FAST, "item2item", k=K, seed=2, train_share=0.7, seed_choice=choice, head=HEAD)
    split = users_split(counts, 0.7, 2)
    train = split.train
    listeners = np.bincount(train.indices, minlength=30)
    head = brute_head(listeners, HEAD)
    cases = brute_seeds(split, counts, choice, 2)
    assert report["item2item_setup"]["cases"] == len(cases)
    n_users = train.shape[0]

    popular = [brute_popular(listeners, s, set()) for s, _, _ in cases]
    longtail = [brute_popular(listeners, s, head) for s, _, _ in cases]
    expected = brute_figures(popular, cases, listeners, n_users, head)
    expected_lt = brute_figures(longtail, cases, listeners, n_users, head)
    baseline = report["baseline"]
    for name in (f"hit_rate@{K}", f"recall@{K}", "coverage", "novelty"):
        assert baseline[name] == pytest.approx(expected[name]), name
    for name in (f"hit_rate@{K}_longtail", f"recall@{K}_longtail"):
        assert baseline[name] == pytest.approx(expected_lt[name]), name
        assert report["baseline_longtail"][name] == pytest.approx(expected_lt[name])

    # The model's own order: its neighbours above the match floor, the seed and silent songs left out.
    served = fit(FAST, train).loaded("check")
    plain = []
    for seed_item, _, _ in cases:
        pool, scores = served.similar_to_each(np.array([seed_item]), 200)
        plain.append(
            [
                int(i)
                for i, score in zip(pool.tolist(), np.atleast_2d(scores)[0].tolist())
                if i != seed_item and score >= MIN_MATCH_SCORE and listeners[i] >= 1
            ][:K]
        )
    expected_plain = brute_figures(plain, cases, listeners, n_users, head)
    for name, value in expected_plain.items():
        assert report["plain"][name] == pytest.approx(value, abs=1e-9), name
    # No default was chosen for this configuration: the model row is the plain order.
    assert report["model"] == report["plain"]


def test_item2item_options_are_checked():
    with pytest.raises(ConfigError, match="seed choice"):
        evaluate(small_counts(), FAST, "item2item", k=K, seed_choice="favourite")
    with pytest.raises(ConfigError, match="the head must be 0 or more songs"):
        evaluate(small_counts(), FAST, "item2item", k=K, head=-1)
