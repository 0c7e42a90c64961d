"""What a person gives as options (recommender/app/options.py): taken as given, or refused with
the range; values read back from the log are clamped."""

from __future__ import annotations

import pytest

from recommender.app.options import (
    NOVELTY_NAMES,
    BadNovelty,
    OutOfRange,
    check_cap,
    check_count,
    check_novelty,
    clamp_cap,
)
from recommender.ranking import NOVELTY_LEVELS


def test_novelty_and_cap_values():
    assert check_novelty(None) == "balanced" and check_novelty("Deep cuts") == "deep"
    assert check_novelty("", default="deep") == "deep"
    with pytest.raises(BadNovelty, match="novelty must be one of popular, balanced, deep, not 'loud'"):
        check_novelty("loud")
    assert (clamp_cap(None), clamp_cap(-3), clamp_cap(0), clamp_cap(10**9)) == (None, 0, 0, 25)


def test_counts_and_caps_outside_their_range_are_refused_never_clamped():
    assert check_count(None, default=5, maximum=10) == 5 and check_count(10, default=5, maximum=10) == 10
    with pytest.raises(OutOfRange, match="count takes a whole number from 1 to 10, not 11"):
        check_count(11, default=5, maximum=10)
    assert check_cap(None) is None and check_cap(0) == 0
    with pytest.raises(OutOfRange, match=r"per_artist takes a whole number from 0 \(no limit\) to 25, not 26"):
        check_cap(26)


def test_every_novelty_level_has_one_display_name_that_reads_back_as_it():
    assert list(NOVELTY_NAMES) == list(NOVELTY_LEVELS)
    assert all(check_novelty(name) == level for level, name in NOVELTY_NAMES.items())
