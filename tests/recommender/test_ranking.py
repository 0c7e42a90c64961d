"""The ranking layer on a hand-made dataset whose right answers are known."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.dataset import Dataset, write_dataset
from recommender.ranking import (
    MIN_MATCH_SCORE,
    NOVELTY_BETA,
    PLAIN_DEFAULT,
    CoListeners,
    DefaultRanking,
    RankingOptions,
    co_listener_reason,
    explain_for_you,
    explain_similar,
    in_sorted,
    novelty_rerank,
    popularity_ranking,
    rank,
    rank_for_seeds,
    rank_page,
)
from recommender.versions import VersionGroups

# Items: 0 seed (A), 1 popular (B), 2 deep cut (C), 3 another version of 1 (B),
#        4 same artist as seed (A), 5 nobody listened, 6 and 7 by artist D.
ITEMS = pd.DataFrame(
    {
        "item_id": [f"S{i}" for i in range(8)],
        "title": ["Seed", "Hit", "Deep", "Hit (Live)", "Seed Two", "Silent", "D one", "D two"],
        "artist": ["A", "B", "C", "B", "A", "E", "D", "D"],
    }
)


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
    write_dataset(
        tmp_path / "tiny", name="tiny", interactions=matrix, items=ITEMS, user_ids=[f"u{i}" for i in range(100)]
    )
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
    versions = VersionGroups.build(dataset)  # "Hit (Live)" is a version of "Hit"
    indices = np.array([3, 1, 4, 5, 6, 7, 2])
    scores = np.array([0.9, 0.8, 0.7, 0.65, 0.6, 0.55, 0.5], dtype=np.float32)
    options = RankingOptions(count=10, per_artist_cap=1, exclude_seed_artist=True)
    picked = rank(
        dataset,
        indices,
        scores,
        options,
        exclude={0},
        seed_artists=["A"],
        versions=versions,
    )
    # "Hit (Live)" ranks first but shows as its most-listened version "Hit" (index 1), once;
    # the seed's artist is left out; the silent song has no listeners; D is capped at one.
    assert [i for i, _ in picked] == [1, 6, 2]
    assert picked[0][1] == pytest.approx(0.9)
    second_page = rank(
        dataset,
        indices,
        scores,
        RankingOptions(count=1, offset=1, per_artist_cap=1, exclude_seed_artist=True),
        seed_artists=["A"],
        versions=versions,
    )
    assert [i for i, _ in second_page] == [6]


def test_the_default_ranking_weighs_scores_against_listeners_as_it_says(dataset):
    """score x popularity^e x n/(n+s), songs under the floor left out: recomputed by hand."""
    listeners = dataset.listeners  # item 1: 100, 2: 5, 3/4/6/7: 10, 0: 20
    indices = np.array([2, 3, 6, 1])
    scores = np.array([0.9, 0.8, 0.7, 0.3], dtype=np.float32)
    top = float(listeners.max())
    for default in (
        PLAIN_DEFAULT,
        DefaultRanking(popularity_exponent=0.5),
        DefaultRanking(shrinkage=20.0),
        DefaultRanking(popularity_exponent=1.0, shrinkage=5.0),
        DefaultRanking(min_listeners=6),
    ):
        options = RankingOptions(count=10, per_artist_cap=0, default=default)
        picked = rank_page(dataset, indices, scores, options).picked
        weight = {
            int(i): float(s)
            * ((listeners[i] + 1) / (top + 1)) ** default.popularity_exponent
            * (listeners[i] / (listeners[i] + default.shrinkage) if default.shrinkage else 1.0)
            for i, s in zip(indices, scores)
            if listeners[i] >= default.min_listeners
        }
        assert [i for i, _ in picked] == sorted(weight, key=lambda i: -weight[i]), default
        # The shown score stays the model's similarity: the default only changes the order.
        assert {i: pytest.approx(float(scores[list(indices).index(i)])) for i, _ in picked} == dict(picked)
    # The plain default keeps the model's order; a strong pull towards listeners puts the hit first.
    plain = rank_page(dataset, indices, scores, RankingOptions(count=10, per_artist_cap=0)).picked
    assert plain[0][0] == 2
    pulled = RankingOptions(count=10, per_artist_cap=0, default=DefaultRanking(popularity_exponent=1.0))
    assert rank_page(dataset, indices, scores, pulled).picked[0][0] == 1


def test_the_knob_moves_from_the_default():
    default = DefaultRanking(popularity_exponent=0.25)
    for level in ("popular", "balanced", "deep"):
        assert RankingOptions(novelty=level, default=default).beta == NOVELTY_BETA[level] - 0.25
    assert RankingOptions(novelty="deep", deep_beta=0.4, default=default).beta == pytest.approx(0.15)
    assert RankingOptions(min_listeners=3, default=DefaultRanking(min_listeners=5)).listener_floor == 5
    assert RankingOptions(min_listeners=7, default=DefaultRanking(min_listeners=5)).listener_floor == 7
    assert RankingOptions(min_listeners=0).listener_floor == 0


@pytest.mark.parametrize(
    "values",
    [
        None,
        {},
        {"popularity_exponent": 0.2, "shrinkage": 1.0},
        {"popularity_exponent": "0.2", "shrinkage": 1.0, "min_listeners": 1},
        {"popularity_exponent": float("nan"), "shrinkage": 1.0, "min_listeners": 1},
        {"popularity_exponent": 0.2, "shrinkage": -1.0, "min_listeners": 1},
        {"popularity_exponent": 0.2, "shrinkage": 1.0, "min_listeners": 0},
        {"popularity_exponent": 0.2, "shrinkage": 1.0, "min_listeners": 2.5},
        {"popularity_exponent": True, "shrinkage": 1.0, "min_listeners": 1},
    ],
)
def test_a_kept_default_that_is_not_a_valid_setting_is_refused(values):
    assert DefaultRanking.from_dict(values) is None


def test_a_kept_default_reads_back_as_it_was_written():
    setting = DefaultRanking(0.25, 10.0, 5)
    assert DefaultRanking.from_dict(setting.to_dict()) == setting
    assert DefaultRanking.from_dict({**setting.to_dict(), "min_listeners": 5.0}) == setting
    with pytest.raises(ValueError, match="listener floor"):
        DefaultRanking(min_listeners=0)
    with pytest.raises(ValueError, match="shrinkage"):
        DefaultRanking(shrinkage=float("inf"))


def test_options_reject_bad_values():
    with pytest.raises(ValueError, match="novelty"):
        RankingOptions(novelty="weird")
    with pytest.raises(ValueError):
        RankingOptions(count=0)


def test_mix_reasons_name_the_seeds_that_share_listeners(dataset):
    suggestions = explain_similar(dataset, [0, 2], [(1, 0.7), (6, 0.6)])
    # Item 6 (users 0-9) shares listeners with both seeds: 5x chance with Seed (users 0-19),
    # 10x with Deep (users 0-4). The higher lift first; the count is of distinct people: users
    # 0-9 played it and Seed or Deep, 10 of them (not 10 + 5).
    assert suggestions[1].because_of == (2, 0)
    assert suggestions[1].reason == "From Deep and Seed: 10 listeners of either also played this, 5.0x more than chance"
    assert suggestions[1].shared_listeners == 10
    # Item 1 is played by everyone: chance overlap with both, so no seed explains it.
    assert suggestions[0].reason == "Close in taste to Seed; 20 shared listeners, 1.0x chance"
    single = explain_similar(dataset, [0], [(2, 0.5)])[0]
    assert single.reason == "5 listeners of Seed also played this, 5.0x more than chance"
    assert single.percent == 50 and single.item_id == "S2" and single.shared_listeners == 5


def test_a_seed_everyone_plays_is_not_named_in_mix_reasons(tmp_path):
    # 100 users. P (item 0) is played by 95 of them; A (item 1) by users 0-19; the pick (item 2)
    # by users 0-9, every one of whom also played P: 10 shared with each seed, but P's overlap
    # is what chance gives (lift 1.05) and A's is 5x chance.
    rows = [(u, 0) for u in range(95)] + [(u, 1) for u in range(20)] + [(u, 2) for u in range(10)]
    users, items = zip(*rows)
    matrix = sp.csr_matrix((np.ones(len(rows)), (users, items)), shape=(100, 3))
    catalog = pd.DataFrame(
        {"item_id": ["P", "A", "X"], "title": ["Everywhere", "Niche", "Pick"], "artist": ["p", "a", "x"]}
    )
    write_dataset(
        tmp_path / "pop", name="pop", interactions=matrix, items=catalog, user_ids=[f"u{i}" for i in range(100)]
    )
    data = Dataset.load(tmp_path / "pop")
    (suggestion,) = explain_similar(data, [0, 1], [(2, 0.8)])
    assert suggestion.because_of == (1,)
    assert suggestion.reason == "From Niche: 10 of its listeners also played this, 5.0x more than chance"
    assert "Everywhere" not in suggestion.reason


@st.composite
def listening(draw):
    """A small random users x items play matrix, 2-4 distinct seeds and the other items as picks."""
    n_users = draw(st.integers(1, 30))
    n_items = draw(st.integers(3, 8))
    cells = draw(st.lists(st.tuples(st.integers(0, n_users - 1), st.integers(0, n_items - 1)), max_size=120))
    seeds = draw(st.lists(st.integers(0, n_items - 1), min_size=2, max_size=min(4, n_items - 1), unique=True))
    return n_users, n_items, sorted(set(cells)), seeds


@settings(max_examples=150)
@given(listening())
def test_every_mix_reason_counts_distinct_people_as_a_brute_force_count_does(tmp_path_factory, case):
    n_users, n_items, cells, seeds = case
    played = sp.csr_matrix(
        (np.ones(len(cells)), ([u for u, _ in cells], [i for _, i in cells])), shape=(n_users, n_items)
    )
    catalog = pd.DataFrame(
        {
            "item_id": [f"I{i}" for i in range(n_items)],
            "title": [f"Song {chr(65 + i)}" for i in range(n_items)],
            "artist": ["x"] * n_items,
        }
    )
    folder = tmp_path_factory.mktemp("brute")
    write_dataset(
        folder / "d", name="d", interactions=played, items=catalog, user_ids=[f"u{i}" for i in range(n_users)]
    )
    data = Dataset.load(folder / "d")
    listeners_of = {i: {u for u, j in cells if j == i} for i in range(n_items)}
    picks = [i for i in range(n_items) if i not in seeds]
    for suggestion in explain_similar(data, seeds, [(i, 0.5) for i in picks]):
        named = suggestion.because_of
        assert named and set(named) <= set(seeds)
        people = listeners_of[suggestion.item_index] & set().union(*(listeners_of[s] for s in named))
        assert suggestion.shared_listeners == len(people), suggestion.reason
        numbers = [
            int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", suggestion.reason) if "." not in n
        ]
        expected = len(people) if people else None
        assert (numbers[:1] == [expected]) if expected else "no shared listeners" in suggestion.reason
        # The seeds named are those whose lift over chance stands out, highest first.
        lifts = {
            s: len(listeners_of[suggestion.item_index] & listeners_of[s])
            / (len(listeners_of[s]) * len(listeners_of[suggestion.item_index]) / n_users)
            if listeners_of[s] and listeners_of[suggestion.item_index]
            else 0.0
            for s in seeds
        }
        if suggestion.reason.startswith("From "):
            assert all(lifts[s] >= 1.5 for s in named)
            assert [lifts[s] for s in named] == sorted((lifts[s] for s in named), reverse=True)
            assert all(lifts[s] >= 0.5 * max(lifts.values()) - 1e-9 for s in named)


def _tiny_options(**changes) -> RankingOptions:
    return RankingOptions(**{"count": 4, "per_artist_cap": 0, **changes})


def test_the_seeds_of_a_mix_take_turns(dataset):
    # Two seeds; items 2, 6, 7 are close to seed A (0.9) and far from seed B, item 4 is close to
    # B (0.3, a looser neighbourhood). Mean similarity would list A's three first.
    indices = np.array([2, 6, 7, 4])
    per_seed = np.array([[0.9, 0.85, 0.8, 0.0], [0.1, 0.1, 0.1, 0.3]], dtype=np.float32)
    picked = rank(dataset, indices, per_seed, _tiny_options())
    assert [i for i, _ in picked] == [2, 4, 6, 7]
    # The shown score is the similarity to the closest seed.
    assert [round(s, 2) for _, s in picked] == [0.9, 0.3, 0.85, 0.8]
    mean = rank(dataset, indices, per_seed, _tiny_options(mix_strategy="mean"))
    assert [i for i, _ in mean] == [2, 6, 7, 4]
    # A seed's turn adds only what clears the match floor for that seed itself: B's 4% match
    # (item 1) is not B's to add, so once B has nothing left, A fills the list in its order.
    indices = np.array([2, 6, 7, 1, 4])
    far = np.array([[0.9, 0.8, 0.7, 0.6, 0.0], [0.0, 0.0, 0.0, 0.04, 0.3]], dtype=np.float32)
    assert [i for i, _ in rank(dataset, indices, far, _tiny_options(count=5))] == [2, 4, 6, 7, 1]


def test_in_its_turn_a_seed_prefers_songs_near_the_other_seeds_too(dataset):
    # Item 6 is close to both seeds, item 2 a little closer to A only; B's own best is item 4.
    indices = np.array([2, 6, 4])
    per_seed = np.array([[0.85, 0.8, 0.0], [0.0, 0.6, 0.7]], dtype=np.float32)
    assert [i for i, _ in rank(dataset, indices, per_seed, _tiny_options(count=3))] == [6, 4, 2]
    assert [i for i, _ in rank(dataset, indices, per_seed, _tiny_options(count=3, mix_strategy="turns"))] == [2, 4, 6]
    # Scaled by each seed's best: B, whose neighbourhood is loose (best 0.2), still adds its
    # own best (4) rather than the songs A is far closer to.
    loose = np.array([[0.9, 0.85, 0.0], [0.06, 0.1, 0.2]], dtype=np.float32)
    assert [i for i, _ in rank(dataset, indices, loose, _tiny_options(count=3))] == [6, 4, 2]


def test_a_list_ends_at_the_match_floor_and_says_so(dataset):
    indices = np.array([2, 6, 7, 4])
    scores = np.array([0.9, 0.5, 0.2, MIN_MATCH_SCORE / 2], dtype=np.float32)
    first = rank_page(dataset, indices, scores, _tiny_options(count=2))
    assert [i for i, _ in first.picked] == [2, 6] and first.has_more
    last = rank_page(dataset, indices, scores, _tiny_options(count=2, offset=2))
    assert [i for i, _ in last.picked] == [7] and not last.has_more, "the 2.5% match is never shown"
    exact = rank_page(dataset, indices[:3], scores[:3], _tiny_options(count=3))
    assert len(exact.picked) == 3 and not exact.has_more, "a full page can be the last one"


def test_for_you_reasons_name_the_liked_songs_that_led_there(dataset):
    contributions = lambda history, item: np.array([0.1, 0.0, 0.7])  # noqa: E731
    (suggestion,) = explain_for_you(dataset, [(6, 0.8)], [0, 1, 2], contributions)
    assert suggestion.because_of == (2, 0)
    assert suggestion.reason == "Because you liked Deep and Seed"


def test_popularity_ranking_orders_by_listeners(dataset):
    assert popularity_ranking(dataset, 2).tolist() == [1, 0]
    assert popularity_ranking(dataset, 1, exclude=[1]).tolist() == [0]


def two_versions_of_the_hit() -> VersionGroups:
    """Version groups of the hand-made data: items 1 and 3 are one song, the hit (1) shown for it."""
    return VersionGroups.from_arrays(
        {
            "item_group": np.array([0, 1, 2, 1, 3, 4, 5, 6]),
            "indptr": np.array([0, 1, 3, 4, 5, 6, 7, 8]),
            "items": np.array([0, 1, 3, 2, 4, 5, 6, 7]),
            "representatives": np.array([0, 1, 2, 4, 5, 6, 7]),
        }
    )


def test_an_answer_about_seeds_never_shows_them_or_their_versions(dataset):
    versions = two_versions_of_the_hit()
    assert versions.with_versions([3, 0]) == {0, 1, 3}
    pool = np.arange(8)
    scores = np.linspace(1.0, 0.3, 8).astype(np.float32)
    options = RankingOptions(count=8, per_artist_cap=0, min_listeners=0)
    about_the_live_hit = rank_for_seeds(dataset, versions, pool, scores, options, seeds=[3], exclude=[7]).picked
    assert [index for index, _ in about_the_live_hit] == [0, 2, 4, 5, 6]  # neither version of the hit, nor 7
    about_the_seed = rank_for_seeds(dataset, versions, pool, scores, options, seeds=[0]).picked
    assert [index for index, _ in about_the_seed] == [1, 2, 4, 5, 6, 7]  # the two hits merged into one


def test_the_seeds_artists_are_left_out_only_for_songs_asked_about(dataset):
    versions = two_versions_of_the_hit()
    pool, scores = np.array([4, 2]), np.array([0.9, 0.8], dtype=np.float32)
    options = RankingOptions(count=2, exclude_seed_artist=True, min_listeners=0)
    asked = rank_for_seeds(dataset, versions, pool, scores, options, seeds=[0]).picked
    history = rank_for_seeds(dataset, versions, pool, scores, options, seeds=[0], seed_artists=False).picked
    assert [index for index, _ in asked] == [2]  # item 4 is by the seed's artist A
    assert [index for index, _ in history] == [4, 2]


@settings(max_examples=200)
@given(
    st.lists(st.integers(-5, 40), max_size=30),
    st.lists(st.integers(-5, 40), max_size=10),
)
def test_in_sorted_is_numpys_isin(values, members):
    values_array = np.array(values, dtype=np.int64)
    assert (
        in_sorted(values_array, np.unique(np.array(members, dtype=np.int64))).tolist()
        == np.isin(values_array, members).tolist()
    )
