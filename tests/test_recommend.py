"""The ranking layer on a hand-made dataset whose right answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recommender.dataset import Dataset, write_dataset
from recommender.recommend import (
    CoListeners,
    RankingOptions,
    co_listener_reason,
    explain_for_you,
    explain_similar,
    novelty_rerank,
    popularity_ranking,
    rank,
)

# Items: 0 seed (A), 1 popular (B), 2 deep cut (C), 3 another version of 1 (B),
#        4 same artist as seed (A), 5 nobody listened, 6 and 7 by artist D.
ITEMS = pd.DataFrame({
    "item_id": [f"S{i}" for i in range(8)],
    "title": ["Seed", "Hit", "Deep", "Hit (Live)", "Seed Two", "Silent", "D one", "D two"],
    "artist": ["A", "B", "C", "B", "A", "E", "D", "D"],
})


@pytest.fixture()
def dataset(tmp_path) -> Dataset:
    rows = []
    # 100 users: all play item 1; users 0-19 also play the seed; users 0-4 play item 2.
    for user in range(100):
        rows.append((user, 1))
        if user < 20:
            rows.append((user, 0))
        if user < 5:
            rows.append((user, 2))
        if user < 10:
            rows.extend([(user, 3), (user, 4), (user, 6), (user, 7)])
    users, items = zip(*rows)
    matrix = sp.csr_matrix((np.ones(len(rows)), (users, items)), shape=(100, 8))
    write_dataset(tmp_path / "tiny", name="tiny", interactions=matrix, items=ITEMS, user_ids=[f"u{i}" for i in range(100)])
    return Dataset.load(tmp_path / "tiny")


def test_co_listeners_count_and_lift_are_exact(dataset):
    counter = CoListeners(dataset, seed_index=0)
    # 20 seed listeners; item 2 has 5 listeners, all among them: expected 20*5/100 = 1 -> lift 5.
    assert counter.count(2) == (5, pytest.approx(5.0))
    # Item 1 is played by everyone: 20 shared, exactly chance.
    assert counter.count(1) == (20, pytest.approx(1.0))
    assert counter.count(5) == (0, 0.0)


def test_reason_mentions_lift_only_when_it_says_something():
    assert co_listener_reason(412, 6.2, "Hey Ya!") == "412 listeners of Hey Ya! also played this, 6.2x more than chance"
    assert co_listener_reason(1, 1.0, "X") == "1 listener of X also played this"
    assert "No shared listeners" in co_listener_reason(0, 0.0, "X")


def test_novelty_knob_reorders_against_popularity(dataset):
    indices = np.array([1, 2])  # popular hit first, deep cut second, nearly tied
    scores = np.array([0.50, 0.45], dtype=np.float32)
    assert novelty_rerank(indices, scores, dataset.listeners, "balanced")[0].tolist() == [1, 2]
    assert novelty_rerank(indices, scores, dataset.listeners, "deep")[0].tolist() == [2, 1]
    # "popular" keeps the hit ahead even when the deep cut scores a little higher.
    assert novelty_rerank(indices, scores[::-1].copy(), dataset.listeners, "popular")[0].tolist() == [1, 2]


def test_rank_filters_merges_versions_caps_artists_and_pages(dataset):
    group = {0: 0, 1: 1, 2: 2, 3: 1, 4: 4, 5: 5, 6: 6, 7: 7}
    indices = np.array([3, 1, 4, 5, 6, 7, 2])
    scores = np.array([0.9, 0.8, 0.7, 0.65, 0.6, 0.55, 0.5], dtype=np.float32)
    options = RankingOptions(count=10, per_artist_cap=1, exclude_seed_artist=True)
    picked = rank(
        dataset, indices, scores, options, exclude={0}, seed_artists=["A"],
        version_group=group.__getitem__, representative=lambda g: 1 if g == 1 else g,
    )
    # "Hit (Live)" ranks first but shows as its most-listened version "Hit" (index 1), once;
    # the seed's artist is left out; the silent song has no listeners; D is capped at one.
    assert [i for i, _ in picked] == [1, 6, 2]
    assert picked[0][1] == pytest.approx(0.9)
    second_page = rank(dataset, indices, scores, RankingOptions(count=1, offset=1, per_artist_cap=1,
                                                                 exclude_seed_artist=True),
                       seed_artists=["A"], version_group=group.__getitem__,
                       representative=lambda g: 1 if g == 1 else g)
    assert [i for i, _ in second_page] == [6]


def test_options_reject_bad_values():
    with pytest.raises(ValueError, match="novelty"):
        RankingOptions(novelty="weird")
    with pytest.raises(ValueError):
        RankingOptions(count=0)


def test_mix_reasons_name_the_seeds_that_share_listeners(dataset):
    suggestions = explain_similar(dataset, [0, 2], [(1, 0.7), (6, 0.6)])
    # Item 6 (users 0-9) shares listeners with both seeds; the seed with more overlap first.
    assert suggestions[1].because_of == (0, 2)
    assert suggestions[1].reason.startswith("From Seed and Deep")
    single = explain_similar(dataset, [0], [(2, 0.5)])[0]
    assert single.reason == "5 listeners of Seed also played this, 5.0x more than chance"
    assert single.percent == 50 and single.item_id == "S2"


def test_for_you_reasons_name_the_liked_songs_that_led_there(dataset):
    contributions = lambda history, item: np.array([0.1, 0.0, 0.7])  # noqa: E731
    (suggestion,) = explain_for_you(dataset, [(6, 0.8)], [0, 1, 2], contributions)
    assert suggestion.because_of == (2, 0)
    assert suggestion.reason == "Because you liked Deep and Seed"


def test_popularity_ranking_orders_by_listeners(dataset):
    assert popularity_ranking(dataset, 2).tolist() == [1, 0]
    assert popularity_ranking(dataset, 1, exclude=[1]).tolist() == [0]
