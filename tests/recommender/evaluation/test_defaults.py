"""Choosing each command's default ranking: the rule, and what the choice finds on skewed data."""

from __future__ import annotations

import dataclasses
import math
import statistics

import numpy as np
import pytest
import scipy.sparse as sp
from skewed_data import write_skewed_dataset

from recommender.config import TrainParams
from recommender.dataset import Dataset
from recommender.evaluation.calibration import calibrate_deep, default_line
from recommender.evaluation.defaults import (
    ALL_SEEDS_PER_LISTENER,
    COMMANDS,
    COVERAGE_FACTOR,
    DEFAULT_CHOICE_USERS,
    FAMILY,
    SIMILAR_SEED_CHOICES,
    DefaultChooser,
    beats_baseline,
    choose_setting,
    objective,
)
from recommender.evaluation.metrics import head_items
from recommender.evaluation.ranking_context import RankingContext
from recommender.evaluation.splits import item2item_cases, users_split
from recommender.ranking import PLAIN_DEFAULT, DefaultRanking
from recommender.training import fit

FAST = TrainParams(factors=8, iterations=10, threads=1)


def figures(hit: float, longtail: float, coverage: float, gains: tuple[float, float] = (-0.1, -0.1)) -> dict:
    """A setting's validation figures; ``gains``: the lower bounds of its gains over popularity."""
    return {
        "hit_rate@10": hit,
        "hit_rate@10_longtail": longtail,
        "coverage": coverage,
        "hit_rate@10_gain_low": gains[0],
        "hit_rate@10_longtail_gain_low": gains[1],
    }


def test_the_best_mean_of_hits_and_long_tail_hits_wins_among_settings_that_cover_enough():
    plain, pulled, shrunk = PLAIN_DEFAULT, DefaultRanking(0.25), DefaultRanking(shrinkage=10.0)
    baseline = [figures(0.7, 0.4, 0.01), figures(0.5, 0.3, 0.01)]
    results = {
        plain: [figures(0.7, 0.5, 0.2), figures(0.5, 0.4, 0.2)],  # objective 0.525
        pulled: [figures(0.9, 0.6, 0.05), figures(0.7, 0.5, 0.2)],  # 0.675, but 5x coverage on one choice
        shrunk: [figures(0.8, 0.55, 0.15), figures(0.6, 0.45, 0.15)],  # 0.6
    }
    assert objective(results[shrunk], 10) == pytest.approx((0.675 + 0.525) / 2)
    assert choose_setting(results, baseline, 10) == (shrunk, True)
    # Enough coverage everywhere: the best objective wins.
    results[pulled] = [figures(0.9, 0.6, 0.1), figures(0.7, 0.5, 0.2)]
    assert choose_setting(results, baseline, 10) == (pulled, True)
    # Equal objectives: the first (the plain order comes first in the family).
    assert choose_setting({plain: results[plain], shrunk: results[plain]}, baseline, 10) == (plain, True)
    # Nothing covers 10x popularity's songs: the plain order, and the choice says so.
    narrow = {setting: [figures(0.9, 0.9, 0.05)] * 2 for setting in (pulled, shrunk)}
    assert choose_setting(narrow, baseline, 10) == (PLAIN_DEFAULT, False)
    assert FAMILY[0] == PLAIN_DEFAULT and len(set(FAMILY)) == len(FAMILY)


def test_a_setting_that_beats_popularity_beyond_the_noise_everywhere_is_preferred_to_a_better_mean():
    plain, pulled, shrunk = PLAIN_DEFAULT, DefaultRanking(0.25), DefaultRanking(shrinkage=10.0)
    baseline = [figures(0.8, 0.3, 0.01), figures(0.79, 0.3, 0.01)]
    sure, unsure = (0.02, 0.1), (-0.01, 0.1)
    results = {
        plain: [figures(0.7, 0.6, 0.5, (-0.1, 0.2)), figures(0.7, 0.6, 0.5, (-0.1, 0.2))],  # objective 0.65
        shrunk: [figures(0.84, 0.6, 0.4, sure), figures(0.81, 0.58, 0.4, unsure)],  # 0.7075, unsure on the second
        pulled: [figures(0.86, 0.52, 0.3, sure), figures(0.84, 0.5, 0.3, sure)],  # 0.68, sure on both
    }
    assert beats_baseline(results[pulled], 10)
    assert not beats_baseline(results[shrunk], 10)
    assert choose_setting(results, baseline, 10) == (pulled, True)
    # A lower bound of exactly 0 is not a win.
    results[pulled] = [figures(0.86, 0.52, 0.3, sure), figures(0.84, 0.5, 0.3, (0.0, 0.1))]
    assert not beats_baseline(results[pulled], 10)
    # When none beats it everywhere, the best objective among those covering enough.
    assert choose_setting(results, baseline, 10) == (shrunk, True)
    # Long-tail hits count too: a sure gain in hits but not in long-tail hits is no win.
    assert not beats_baseline([figures(0.9, 0.0, 0.3, (0.05, -0.2))] * 2, 10)


@pytest.fixture(scope="module")
def skewed(tmp_path_factory) -> Dataset:
    return write_skewed_dataset(tmp_path_factory.mktemp("defaults"))


def test_each_command_gets_the_setting_with_the_best_validation_objective(skewed):
    novelty = calibrate_deep(skewed, FAST, k=5, seed=1)
    assert set(novelty["default"]) == set(COMMANDS)
    for command, protocol in COMMANDS.items():
        choice = novelty["default_choice"][command]
        chosen = DefaultRanking(**choice["default"])
        assert novelty["default"][command] == chosen.to_dict()
        assert choice["validation"]["protocol"] == protocol and choice["validation"]["users"] > 0
        assert len(choice["grid"]) == len(FAMILY)
        popularity = choice["validation"]["popularity"]
        qualifying = [
            row
            for row in choice["grid"]
            if all(f["coverage"] >= COVERAGE_FACTOR * p["coverage"] for f, p in zip(row["figures"], popularity))
        ]
        assert choice["coverage_rule_met"] == bool(qualifying)
        if qualifying:
            winning = [
                row
                for row in qualifying
                if all(
                    f[name] > 0
                    for f in row["figures"]
                    for name in ("hit_rate@5_gain_low", "hit_rate@5_longtail_gain_low")
                )
            ]
            assert choice["beats_popularity"] == bool(winning)
            best = max(row["objective"] for row in winning or qualifying)
            row = next(r for r in choice["grid"] if DefaultRanking(**{n: r[n] for n in choice["default"]}) == chosen)
            assert row["objective"] == best and row in qualifying
    # With the choice off, the novelty calibration is as before: no default is kept.
    assert "default" not in calibrate_deep(skewed, FAST, k=5, seed=1, choose_default=False)


def uneven_counts(seed: int = 4) -> sp.csr_matrix:
    """Three genres of 24 songs, popularity skewed inside each; listeners of 2 to 9 songs, so
    that with every song as a seed some have more cases than others."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, 25)
    weights /= weights.sum()
    rows, cols = [], []
    for user in range(240):
        songs = rng.choice(24, size=int(rng.integers(2, 10)), replace=False, p=weights) + 24 * (user % 3)
        rows += [user] * songs.size
        cols += songs.tolist()
    plays = rng.integers(1, 40, size=len(rows)).astype(np.float32)
    return sp.csr_matrix((plays, (rows, cols)), shape=(240, 72))


def test_the_validation_figures_weigh_each_listener_once_and_the_gain_is_paired_by_hand():
    """/soundalike's "all" way, recounted by hand from the chooser's own cases: each listener's
    hit rate over their seeds, averaged over listeners; popularity's long-tail figure from its
    list outside the head; the gain's lower bound from the per-listener differences."""
    counts = uneven_counts()
    outer = users_split(counts, 0.8, 1)
    inner = users_split(outer.train, 0.8, 2)
    context = RankingContext.build(counts, inner.train, fit(FAST, inner.train))
    head_size = 20  # of the 72 songs: the long tail has songs to find
    chooser = DefaultChooser(
        context, inner, outer.train, 5, 2, head=head_size, family=(PLAIN_DEFAULT, DefaultRanking(1.0))
    )
    choice = chooser.choose("similar")
    assert choice["validation"]["asked"] == list(SIMILAR_SEED_CHOICES) == ["most-played", "all"]

    cases = item2item_cases(inner, outer.train, "all", 2, DEFAULT_CHOICE_USERS, ALL_SEEDS_PER_LISTENER)
    groups = context.item_group
    head = set(np.flatnonzero(head_items(context.listeners, head_size)).tolist())
    plain = chooser.options(PLAIN_DEFAULT)
    listeners = context.listeners
    ranked = sorted(range(listeners.size), key=lambda i: (-listeners[i], i))
    outside_head = np.array([i for i in ranked if i not in head and listeners[i] > 0], dtype=np.int64)

    def hit(shown: np.ndarray, targets: np.ndarray, longtail: bool = False) -> float:
        wanted = {int(groups[t]) for t in targets}
        return float(any(int(groups[i]) in wanted and (not longtail or int(i) not in head) for i in shown))

    per_listener: dict[int, list[list[float]]] = {}
    for case in cases:
        pool, scores = context.pool(case.seeds, plain.pool_size)
        ours = context.rank(pool, scores, plain, case.seeds)
        popular = context.rank(
            *_relative(context, np.array(ranked)), dataclasses.replace(plain, min_score=0.0), case.seeds
        )
        popular_tail = context.rank(
            *_relative(context, outside_head), dataclasses.replace(plain, min_score=0.0), case.seeds
        )
        per_listener.setdefault(case.user, []).append(
            [
                hit(ours, case.targets),
                hit(ours, case.targets, True),
                hit(popular, case.targets),
                hit(popular_tail, case.targets, True),
            ]
        )
    rates = np.array([np.mean(rows, axis=0) for _, rows in sorted(per_listener.items())])
    assert rates[:, 3].mean() > 0  # popularity's long-tail list finds some
    seeds_each = [len(rows) for rows in per_listener.values()]
    assert len(per_listener) == len(inner.users) and min(seeds_each) < max(seeds_each) == ALL_SEEDS_PER_LISTENER

    plain_row = next(
        row for row in choice["grid"] if DefaultRanking(**{n: row[n] for n in PLAIN_DEFAULT.to_dict()}) == PLAIN_DEFAULT
    )
    ours_all, popularity_all = plain_row["figures"][1], choice["validation"]["popularity"][1]
    assert ours_all["hit_rate@5"] == pytest.approx(rates[:, 0].mean(), abs=1e-4)
    assert ours_all["hit_rate@5_longtail"] == pytest.approx(rates[:, 1].mean(), abs=1e-4)
    assert popularity_all["hit_rate@5"] == pytest.approx(rates[:, 2].mean(), abs=1e-4)
    assert popularity_all["hit_rate@5_longtail"] == pytest.approx(rates[:, 3].mean(), abs=1e-4)
    for column, ours, theirs in ((0, "hit_rate@5", 2), (1, "hit_rate@5_longtail", 3)):
        differences = rates[:, column] - rates[:, theirs]
        low = differences.mean() - 1.645 * statistics.stdev(differences) / math.sqrt(differences.size)
        assert ours_all[f"{ours}_gain"] == pytest.approx(differences.mean(), abs=1e-4)
        assert ours_all[f"{ours}_gain_low"] == pytest.approx(low, abs=1e-4)


def _relative(context: RankingContext, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A popularity list as a pool: the items, scored by their listeners relative to the most's."""
    listeners = context.listeners
    return items, listeners[items] / float(listeners.max())


def test_the_default_line_says_when_no_setting_had_a_sure_gain():
    row = {**PLAIN_DEFAULT.to_dict(), "objective": 0.5, "figures": [figures(0.7, 0.4, 0.2), figures(0.6, 0.3, 0.2)]}
    choice = {
        "default": PLAIN_DEFAULT.to_dict(),
        "coverage_rule_met": True,
        "beats_popularity": False,
        "validation": {"asked": ["most-played", "all"], "popularity": [figures(0.8, 0.3, 0.01)] * 2},
        "grid": [row],
    }
    line = default_line("/soundalike", choice, 10)
    assert "no setting had a sure gain over popularity on every validation figure" in line
    assert line.endswith("least sure bound over most-played, all: hit@10 -0.100, long tail -0.100")
