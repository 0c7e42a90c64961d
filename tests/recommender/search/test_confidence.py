"""When the resolver takes a match without asking, on the shipped demo catalog.

The queries come from bench/resolver_confidence.py (damaged catalog titles, and titles held
out of the index, typed the same ways); the targets are the README's: at least 99 % of
confident answers right, at most 5 % of held-out titles confident.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.resolver_confidence import (
    MUST_ASK_ON_DEMO,
    TARGET_CONFIDENT_RIGHT,
    TARGET_HELD_OUT_CONFIDENT,
    Outcome,
    calibrate,
    demo_world,
    folds_outcomes,
    meets_targets,
    must_ask_outcomes,
    rates,
    wilson,
)
from recommender.search.resolver import TitleResolver
from recommender.search.scoring import ConfidenceRule, MatchEvidence


@pytest.fixture(scope="module")
def demo():
    items, listeners = demo_world(users=2000, seed=1)
    resolver = TitleResolver.from_columns(items["item_id"], items["title"], items["artist"], listeners)
    return items, listeners, resolver


@pytest.fixture(scope="module")
def demo_outcomes(demo):
    items, listeners, _ = demo
    # Titles held out in five folds (each title once), 250 damaged queries per fold and side.
    return folds_outcomes(items, listeners, folds=5, queries_per_fold=250, seed=3)


def test_far_matches_on_the_demo_are_offered_not_taken(demo):
    _, _, resolver = demo
    expected_offer = {
        "everyone": "Everlong",
        "Let it go": "Let It Be",
        "Stay": "Stayin' Alive",
        "@everyone": "Everlong",
    }
    for typed in MUST_ASK_ON_DEMO:
        resolution = resolver.resolve(typed)
        assert not resolution.confident, typed
        assert not resolution.close_call, typed  # far, not several equally good songs
        assert resolution.kind == "song"
        # Still offered: "did you mean ...?"
        assert expected_offer[typed] in [c.title for c in resolution.candidates], typed


def test_the_targets_hold_on_the_demo_catalog(demo_outcomes):
    figures = rates(demo_outcomes)
    assert figures["catalog_queries"] >= 1000 and figures["held_out_queries"] >= 1000
    assert figures["confident_right"] >= TARGET_CONFIDENT_RIGHT, figures
    assert figures["held_out_confident"] <= TARGET_HELD_OUT_CONFIDENT, figures
    # ... and the rule is not "never sure": most damaged catalog titles are taken at once.
    assert figures["right_and_confident_share"] >= 0.9, figures
    assert meets_targets(figures)


def test_rates_count_what_they_say():
    good = MatchEvidence(score=100.0, margin=10.0, edits=0, length=8, artist_agreed=True)
    far = MatchEvidence(score=77.0, margin=10.0, edits=2, length=9, artist_agreed=True)
    outcomes = [
        Outcome("catalog", "exact", "a", True, True, False, good),
        Outcome("catalog", "typo1", "b", False, True, False, good),  # confident and wrong
        Outcome("catalog", "typo2", "c", True, False, False, far),  # right but asked
        Outcome("held_out", "exact", "d", False, True, False, good),
        Outcome("held_out", "exact", "e", False, False, False, far),
        Outcome("held_out", "exact", "f", False, False, True, good),  # answered as an artist
        Outcome("held_out", "exact", "g", False, False, False, None),  # nothing matched
    ]
    figures = rates(outcomes)
    assert {k: v for k, v in figures.items() if not k.endswith(("_low", "_high"))} == {
        "catalog_queries": 3,
        "confident_right": 0.5,
        "confident_share": round(2 / 3, 4),
        "right_and_confident_share": round(1 / 3, 4),
        "held_out_queries": 4,
        "held_out_confident": 0.25,
    }
    # The 95 % interval ends on the side of each target: 1 of 2 right, 1 of 4 held out.
    assert figures["confident_right_low"] == round(wilson(1, 2)[0], 4) < 0.5
    assert figures["held_out_confident_high"] == round(wilson(1, 4)[1], 4) > 0.25
    assert not meets_targets(figures) and not meets_targets(figures, bounds=True)
    # Judged again by a rule from the recorded evidence: the artist answer stays unsure.
    lenient = ConfidenceRule(min_score=70.0, close_margin=1.0, one_edit_from=1, two_edits_from=2)
    assert rates(outcomes, lenient)["held_out_confident"] == 0.5  # d and e
    assert rates(outcomes, lenient)["confident_share"] == 1.0


def test_calibrate_keeps_only_rules_that_meet_the_targets_best_first(demo, demo_outcomes):
    items, listeners, _ = demo
    must_ask = must_ask_outcomes(items, listeners)
    grid = {"min_score": (75.0,), "close_margin": (2.0,), "one_edit_from": (3, 5), "two_edits_from": (8, 12, 1000)}
    found = calibrate({"demo": demo_outcomes}, grid, must_ask=must_ask)
    assert found, "no rule of the grid meets the targets"
    rules = [entry["rule"] for entry in found]
    # "Let it go" (9 characters, 2 slips from "let it be") rules out two slips from 8 characters.
    assert not any(rule["two_edits_from"] == 8 for rule in rules)
    for entry in found:
        assert meets_targets(entry["figures"]["demo"])
        assert entry["figures"]["demo"] == rates(demo_outcomes, ConfidenceRule(**entry["rule"]))
    coverage = [entry["figures"]["demo"]["right_and_confident_share"] for entry in found]
    assert coverage == sorted(coverage, reverse=True)


def test_wilson_interval():
    low, high = wilson(990, 1000)
    assert 0.981 < low < 0.99 < high < 0.995  # the usual 95 % interval of 99 % of 1,000
    assert wilson(0, 50)[0] == 0.0 and 0.06 < wilson(0, 50)[1] < 0.08
    assert wilson(0, 0) is None


def test_held_out_titles_are_really_out_of_the_index(demo):
    """A held-out title must have no song of that normalized title left in the index."""
    from bench.resolver_confidence import core_titles, split_world

    items, listeners, _ = demo
    cores = core_titles(items["title"])
    held = {cores[0], cores[5], "hello"}
    kept, held_catalog, resolver = split_world(items, listeners, held)
    assert set(core_titles(held_catalog.items["title"]).tolist()) == held
    assert held.isdisjoint(set(core_titles(kept.items["title"]).tolist()))
    assert len(kept.items) + len(held_catalog.items) == len(items)
    assert len(resolver) == len(kept.items)
    assert np.all(held_catalog.listeners >= 1)


def test_the_rule_before_calibration_answered_far_matches(demo):
    """Measured beside the calibrated rule: score and margin alone took "Let it go" as Let It Be."""
    from bench.resolver_confidence import ScoreMarginRule

    items, listeners, _ = demo
    before = ScoreMarginRule()
    assert all(before.confident(o.evidence) for o in must_ask_outcomes(items, listeners))
    assert not any(ConfidenceRule().confident(o.evidence) for o in must_ask_outcomes(items, listeners))
