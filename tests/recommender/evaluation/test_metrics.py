"""Metrics by hand: Liang et al.'s per-list scores, item2item hits, and answer-list figures."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.evaluation.metrics import ItemSimilarity, ListFigures, item2item_metrics, paired_gain, ranking_scores
from recommender.evaluation.splits import UsersSplit


def test_ranking_scores_by_hand():
    ranked = np.array([7, 1, 9, 2])
    hidden = np.array([1, 2, 5])
    average_precision, recall, ndcg = ranking_scores(ranked, hidden, 4)
    assert average_precision == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert recall == pytest.approx(2 / 3)
    dcg = 1 / np.log2(3) + 1 / np.log2(5)
    assert ndcg == pytest.approx(dcg / (1 + 1 / np.log2(3) + 1 / np.log2(4)))
    assert ranking_scores(ranked, hidden, 1) == (0.0, 0.0, 0.0)


def test_item2item_hits_count_the_users_other_songs_by_hand():
    # One held-out user who played 0, 1 and 2: whichever is the seed, the other two are targets.
    split = UsersSplit(
        train=sp.csr_matrix((1, 5)), users=np.array([0]), visible=[np.array([0])], hidden=[np.array([1, 2])]
    )

    def similar(item: int, n: int) -> np.ndarray:
        return np.array([(item + 1) % 3, 4])[:n]  # one of the user's other songs, then a stranger

    figures = item2item_metrics(similar, split, 2, seed=0)
    assert figures == {"hit_rate@2": 1.0, "recall@2": 0.5}


def test_item_similarity_is_cosine_for_factors_and_the_closer_direction_for_knn():
    factors = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]], dtype=np.float32)
    by_factors = ItemSimilarity({"item_factors": factors})
    assert by_factors.mean_distance(np.array([0, 1])) == pytest.approx(0.0)
    assert by_factors.mean_distance(np.array([0, 2])) == pytest.approx(1.0)
    assert by_factors.mean_distance(np.array([0, 1, 2])) == pytest.approx(2 / 3)
    assert by_factors.mean_distance(np.array([2])) is None
    # Row 0 keeps item 1 at half its best neighbour; row 1 does not keep item 0 at all.
    knn = sp.csr_matrix(np.array([[0.0, 0.2, 0.4], [0.0, 0.0, 0.5], [0.1, 0.0, 0.0]]))
    by_neighbours = ItemSimilarity({"similarity": knn})
    assert by_neighbours.mean_distance(np.array([0, 1])) == pytest.approx(0.5)
    assert by_neighbours.mean_distance(np.array([0, 2])) == pytest.approx(0.0)


def test_list_figures_by_hand():
    listeners = np.array([8, 4, 2, 1, 0])
    figures = ListFigures(
        k=2,
        listeners=listeners,
        n_users=16,
        similarity=ItemSimilarity({"item_factors": np.eye(5)}),
        group_of=np.array([0, 1, 2, 3, 3]),
    )
    figures.add(np.array([0, 1]), targets=np.array([1]))  # one hit
    figures.add(np.array([2, 3]), targets=np.array([4]))  # 3 is another version of 4: a hit
    figures.add(np.array([0]), targets=np.array([2, 3]))  # no hit, one song
    result = figures.result()
    assert result["hit_rate@2"] == pytest.approx(2 / 3)
    assert result["recall@2"] == pytest.approx((1 / 1 + 1 / 1 + 0 / 2) / 3)
    assert result["coverage"] == pytest.approx(4 / 4)  # items 0-3 shown, 4 songs have listeners
    assert result["novelty"] == pytest.approx(((1 + 2) / 2 + (3 + 4) / 2 + 1) / 3)  # -log2(8/16) = 1, ...
    assert result["mean_listeners"] == pytest.approx(((8 + 4) / 2 + (2 + 1) / 2 + 8) / 3)
    assert result["diversity"] == pytest.approx(1.0)  # orthogonal factors; the one-song list has no pair
    assert result["mean_length"] == pytest.approx(5 / 3)


def test_listener_rates_average_each_listeners_own_lists_by_hand():
    head = np.array([True, False, False, False, False])
    figures = ListFigures(
        k=2, listeners=np.array([8, 4, 2, 1, 1]), n_users=16, similarity=None, group_of=np.arange(5), head=head
    )
    figures.add(np.array([0, 1]), np.array([0]), weight=0.5, listener=7)  # a hit in the head
    figures.add(np.array([2, 3]), np.array([3]), weight=0.5, listener=7)  # a long-tail hit
    figures.add(np.array([0, 2]), np.array([4]), weight=1.0, listener=9)  # no hit
    figures.add(np.array([1, 2]), np.array([1]))  # no listener given: not in the rates
    assert figures.listener_rates() == {7: pytest.approx(1.0), 9: 0.0}
    assert figures.listener_rates(longtail=True) == {7: pytest.approx(0.5), 9: 0.0}


def test_paired_gain_is_the_mean_difference_less_z_standard_errors_by_hand():
    ours = {1: 1.0, 2: 0.5, 3: 1.0, 4: 0.0, 5: 1.0}
    theirs = {1: 0.0, 2: 0.5, 3: 1.0, 4: 0.0, 5: 0.0, 6: 1.0}  # listener 6: not asked of ours
    differences = [1.0, 0.0, 0.0, 0.0, 1.0]
    mean = sum(differences) / 5
    spread = (sum((d - mean) ** 2 for d in differences) / 4) ** 0.5
    assert paired_gain(ours, theirs) == pytest.approx((mean, mean - 1.645 * spread / 5**0.5))
    assert paired_gain(ours, theirs, z=0.0) == pytest.approx((mean, mean))
    # One listener: no spread to go by, so no gain is sure.
    assert paired_gain({1: 1.0}, {1: 0.0}) == (1.0, -1.0)
