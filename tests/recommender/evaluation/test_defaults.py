"""Choosing each command's default ranking: the rule, and what the choice finds on skewed data."""

from __future__ import annotations

import pytest
from skewed_data import write_skewed_dataset

from recommender.config import TrainParams
from recommender.dataset import Dataset
from recommender.evaluation.calibration import calibrate_deep
from recommender.evaluation.defaults import (
    COMMANDS,
    COVERAGE_FACTOR,
    FAMILY,
    beats_baseline,
    choose_setting,
    objective,
)
from recommender.ranking import PLAIN_DEFAULT, DefaultRanking

FAST = TrainParams(factors=8, iterations=10, threads=1)


def figures(hit: float, longtail: float, coverage: float) -> dict:
    return {"hit_rate@10": hit, "hit_rate@10_longtail": longtail, "coverage": coverage}


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


def test_a_setting_that_beats_popularity_everywhere_is_preferred_to_a_better_mean_that_does_not():
    plain, pulled, shrunk = PLAIN_DEFAULT, DefaultRanking(0.25), DefaultRanking(shrinkage=10.0)
    baseline = [figures(0.8, 0.0, 0.01), figures(0.79, 0.0, 0.01)]
    results = {
        plain: [figures(0.7, 0.6, 0.5), figures(0.7, 0.6, 0.5)],  # objective 0.65, loses on hits twice
        shrunk: [figures(0.82, 0.6, 0.4), figures(0.78, 0.58, 0.4)],  # 0.695, loses on the second choice
        pulled: [figures(0.84, 0.52, 0.3), figures(0.81, 0.5, 0.3)],  # 0.6675, beats both
    }
    assert beats_baseline(results[pulled], baseline, 10)
    assert not beats_baseline(results[shrunk], baseline, 10)
    assert choose_setting(results, baseline, 10) == (pulled, True)
    # A tie with the baseline is not a win.
    results[pulled] = [figures(0.84, 0.52, 0.3), figures(0.79, 0.5, 0.3)]
    assert not beats_baseline(results[pulled], baseline, 10)
    # When none beats it everywhere, the best objective among those covering enough.
    assert choose_setting(results, baseline, 10) == (shrunk, True)
    # Long-tail hits count too: above popularity's hits but not its long-tail hits is no win.
    assert not beats_baseline([figures(0.9, 0.0, 0.3)] * 2, baseline, 10)


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
                    f[name] > p[name]
                    for f, p in zip(row["figures"], popularity)
                    for name in ("hit_rate@5", "hit_rate@5_longtail")
                )
            ]
            assert choice["beats_popularity"] == bool(winning)
            best = max(row["objective"] for row in winning or qualifying)
            row = next(r for r in choice["grid"] if DefaultRanking(**{n: r[n] for n in choice["default"]}) == chosen)
            assert row["objective"] == best and row in qualifying
    # With the choice off, the novelty calibration is as before: no default is kept.
    assert "default" not in calibrate_deep(skewed, FAST, k=5, seed=1, choose_default=False)
