"""Match scoring: how close a typed title is, in score and in typing slips, and when that is sure enough."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.search import scoring
from recommender.search.scoring import (
    NO_ITEMS,
    ConfidenceRule,
    MatchEvidence,
    ScoredItems,
    best_per_item,
    match_scores,
    typed_edits,
)

# -- match_scores ----------------------------------------------------------------------------------


def scores(query: str, strings: list[str], partial: bool = False) -> list[float]:
    return [round(float(score), 1) for score in match_scores(query, strings, partial)]


def test_an_exact_title_scores_100_and_nothing_scores_outside_0_to_100():
    assert scores("hey ya", ["hey ya"]) == [100.0]
    assert all(0.0 <= s <= 100.0 for s in scores("hey ya", ["hey you", "heya", "", "ya hey", "hey ya outkast"]))
    assert match_scores("hey ya", []).shape == (0,)


def test_slips_cost_less_than_other_titles():
    typo, other = scores("hye ya", ["hey ya", "roses"])
    assert typo > 80 > other  # one transposition
    near = scores("smells like teen spirt", ["smells like teen spirit", "smells like team spirit"])
    assert near[0] > near[1]


def test_swapped_words_and_missing_spaces_are_forgiven_at_a_small_cost():
    (swapped,) = scores("spirit teen smells like", ["smells like teen spirit"])
    assert swapped == 100.0 - scoring.SWAP_PENALTY
    (despaced,) = scores("heyya", ["hey ya"])  # only the space is missing
    assert despaced == 100.0 - scoring.SPACE_PENALTY


def test_a_title_starting_with_what_was_typed():
    # While typing (autocomplete) a title that starts with the text is a full match.
    assert scores("smells like te", ["smells like teen spirit"], partial=True) == [100.0]
    (started,) = scores("smells like te", ["smells like teen spirit"])
    share = len("smells like te") / len("smells like teen spirit")
    assert started == round(scoring.PREFIX_BASE + scoring.PREFIX_SPAN * share, 1)
    # Too short to mean anything as a prefix: "hey" is no better a match for a long title.
    assert scores("hey", ["hey jude is a long title"])[0] < scoring.PREFIX_BASE


def test_a_title_held_whole_in_the_query_is_a_weaker_match():
    (held,) = scores("hey ya outkast", ["hey ya"])
    assert scoring.CONTAINED_BASE <= held <= scoring.CONTAINED_BASE + scoring.CONTAINED_SPAN
    # ...but a one-word title inside a long query is no match by containment ("ya" is too short).
    assert scores("hey ya outkast", ["ya"])[0] < scoring.CONTAINED_BASE


def test_a_typo_in_what_was_typed_so_far_is_forgiven_while_typing():
    (typed,) = scores("smels like", ["smells like teen spirit"], partial=True)
    assert typed >= 80.0
    assert scores("smels like", ["smells like teen spirit"])[0] < typed


# -- typing slips --------------------------------------------------------------------------------


def test_typed_edits_count_typing_slips():
    assert typed_edits("hey ya", "hey ya") == 0
    assert typed_edits("hye ya", "hey ya") == 1  # transposed letters are one slip
    assert typed_edits("heya", "hey ya") == 1  # spaces are not counted: one "y" is missing
    assert typed_edits("let it go", "let it be") == 2
    assert typed_edits("everyone", "everlong") == 2
    assert typed_edits("stay", "stayin alive") == 7  # a beginning is not the title (spaces not counted)
    assert typed_edits("like smells teen spirit", "smells like teen spirit") == 1  # words in another order


# -- the confidence rule ------------------------------------------------------------------------------


def test_the_confidence_rule():
    rule = ConfidenceRule(min_score=75.0, close_margin=2.0, one_edit_from=5, two_edits_from=12)
    assert [rule.allowed_edits(n) for n in (1, 4, 5, 11, 12, 40)] == [0, 0, 1, 1, 2, 2]
    sure = MatchEvidence(score=100.0, margin=math.inf, edits=0, length=4, artist_agreed=True)
    assert rule.confident(sure)
    assert not rule.confident(None)
    assert not rule.confident(MatchEvidence(100.0, 1.9, 0, 4, True))  # another song as close
    assert rule.good_match(MatchEvidence(100.0, 1.9, 0, 4, True))  # ... a close call
    assert not rule.confident(MatchEvidence(74.9, 50.0, 0, 20, True))
    assert not rule.confident(MatchEvidence(100.0, 50.0, 0, 20, False))  # the typed artist disagrees
    assert not rule.confident(MatchEvidence(88.0, 50.0, 1, 4, True))  # one slip in a 4-letter title
    assert rule.confident(MatchEvidence(88.0, 50.0, 1, 8, True))
    assert not rule.confident(MatchEvidence(80.0, 50.0, 2, 11, True))
    assert rule.confident(MatchEvidence(85.0, 50.0, 2, 12, True))
    assert not rule.confident(MatchEvidence(90.0, 50.0, 3, 40, True))


def test_module_knobs_are_the_default_rule():
    rule = ConfidenceRule()
    assert (rule.min_score, rule.close_margin, rule.one_edit_from, rule.two_edits_from) == (
        scoring.MIN_CONFIDENT_SCORE,
        scoring.CLOSE_MARGIN,
        scoring.ONE_EDIT_FROM,
        scoring.TWO_EDITS_FROM,
    )


# -- one score per item ---------------------------------------------------------------------------------


@settings(max_examples=100)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 12), st.floats(0, 100, allow_nan=False)), max_size=10),
        max_size=4,
    )
)
def test_each_item_keeps_its_best_reading(readings):
    parts = [
        ScoredItems(np.array([i for i, _ in r], dtype=np.int64), np.array([s for _, s in r], dtype=np.float64))
        for r in readings
    ]
    merged = best_per_item(parts)
    best: dict[int, float] = {}
    for reading in readings:
        for item, score in reading:
            best[item] = max(score, best.get(item, -1.0))
    assert merged.items.tolist() == sorted(best)
    assert merged.scores.tolist() == [best[item] for item in sorted(best)]


def test_no_readings_score_no_items():
    assert best_per_item([]) is NO_ITEMS
    assert len(best_per_item([NO_ITEMS, NO_ITEMS]).items) == 0
