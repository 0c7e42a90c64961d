"""`evaluate --knobs`: the novelty knob's trade-off measured on the bot's own ranking path.

The data (skewed_data.py) is planted-genre listening with a strong popularity skew inside each
genre and two artists per genre, so the knob and the artist cap both have something to change
and the right direction of each is known.
"""

from __future__ import annotations

import numpy as np
import pytest
from skewed_data import write_skewed_dataset

from recommender import ranking
from recommender.config import TrainParams
from recommender.dataset import Dataset
from recommender.evaluation.protocols import evaluate
from recommender.evaluation.splits import item2item_cases, users_split

FAST = TrainParams(factors=8, iterations=10, threads=1)
FIGURES = {
    "hit_rate@5",
    "recall@5",
    "hit_rate@5_longtail",
    "recall@5_longtail",
    "coverage",
    "novelty",
    "diversity",
    "mean_listeners",
    "median_listeners",
    "mean_length",
}


@pytest.fixture(scope="module")
def skewed(tmp_path_factory) -> Dataset:
    return write_skewed_dataset(tmp_path_factory.mktemp("knobs"))


@pytest.mark.parametrize("protocol", ["item2item", "users"])
def test_deep_cuts_are_more_novel_and_less_listened_than_popular(skewed, protocol):
    report = evaluate(skewed, FAST, protocol, k=5, seed=1, knobs=True)
    popular, balanced, deep = (report["knobs"][level] for level in ("popular", "balanced", "deep"))
    assert deep["novelty"] > balanced["novelty"] > popular["novelty"]
    assert deep["mean_listeners"] < balanced["mean_listeners"] < popular["mean_listeners"]
    baseline = report["knobs_baseline"]
    assert baseline["novelty"] < popular["novelty"] and baseline["coverage"] < balanced["coverage"]
    for figures in [*report["knobs"].values(), *report["knobs_no_artist_cap"].values(), baseline]:
        assert set(figures) == FIGURES
        assert 0.0 < figures["coverage"] <= 1.0
        assert 0.0 <= figures["hit_rate@5"] <= 1.0 and 0.0 <= figures["recall@5"] <= 1.0
        # Lists end at the match floor (ranking.MIN_MATCH_SCORE): a few folded-in ones are shorter.
        assert figures["mean_length"] == 5.0 or (protocol == "users" and 4.5 <= figures["mean_length"] < 5.0)
    # --knobs only adds: the protocol's own report is the same as without it.
    plain = evaluate(skewed, FAST, protocol, k=5, seed=1)
    assert {key: value for key, value in report.items() if not key.startswith("knobs")} == plain


def test_every_setting_ranks_the_same_users_pools_and_seeds_through_the_bots_ranking(skewed, monkeypatch):
    calls: list[tuple] = []
    real_rank_page = ranking.rank_page

    def spy(dataset, indices, scores, options, **kwargs):
        page = real_rank_page(dataset, indices, scores, options, **kwargs)
        calls.append((options, frozenset(kwargs["exclude"]), tuple(np.asarray(indices).tolist()), page.picked))
        return page

    # Every answer goes through ranking.rank_for_seeds, the ranking the front ends use, and so
    # through its rank_page.
    monkeypatch.setattr(ranking, "rank_page", spy)
    report = evaluate(skewed, FAST, "item2item", k=5, seed=4, knobs=True, knob_users=20)
    assert report["knobs_setup"]["users_evaluated"] == 20

    # Per user: the six settings on one model pool, then the popularity baseline and its long-tail
    # variant (after the protocol's own answers, which come first).
    calls = calls[-20 * 8 :]
    per_user = [calls[start : start + 8] for start in range(0, len(calls), 8)]
    assert len(per_user) == 20
    for user_calls in per_user:
        settings = [(options.novelty, options.per_artist_cap) for options, *_ in user_calls]
        assert settings == [
            ("popular", 2),
            ("balanced", 2),
            ("deep", 2),
            ("popular", 0),
            ("balanced", 0),
            ("deep", 0),
            ("balanced", 2),
            ("balanced", 2),
        ]
        assert len({excluded for _, excluded, _, _ in user_calls}) == 1
        assert len({pool for _, _, pool, _ in user_calls[:6]}) == 1
        assert user_calls[6][2] != user_calls[0][2], "the baseline ranks popularity's pool, not the model's"

    # The seeds are the ones the model and baseline rows were scored with, on the same split.
    split = users_split(skewed.interactions, 0.8, 4)
    cases = item2item_cases(split, skewed.interactions, "most-played", 4, 20)
    assert [user_calls[0][1] for user_calls in per_user] == [frozenset({c.seeds[0]}) for c in cases]

    # The artist cap reaches the ranking: capped lists never hold 3 songs by one artist.
    def most_by_one_artist(picked):
        artists = [skewed.artist(index) for index, _ in picked]
        return max((artists.count(a) for a in artists), default=0)  # (the long-tail baseline may show none)

    capped = [most_by_one_artist(p) for o, _, _, p in calls if o.per_artist_cap == 2]
    uncapped = [most_by_one_artist(p) for o, _, _, p in calls if o.per_artist_cap == 0]
    assert max(capped) <= 2 < max(uncapped)


def test_without_an_artist_cap_each_level_is_measured_once(skewed):
    report = evaluate(skewed, FAST, "item2item", k=5, seed=1, knobs=True, knob_users=10, per_artist_cap=0)
    assert set(report["knobs"]) == {"popular", "balanced", "deep"} and "knobs_no_artist_cap" not in report
    assert report["knobs_setup"]["per_artist_cap"] == 0
