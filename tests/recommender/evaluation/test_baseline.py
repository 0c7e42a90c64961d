"""The popularity baseline: most listeners first, never a song the user already played."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommender.evaluation.baseline import PopularityRecommender


def test_popularity_recommends_most_listened_unseen_items():
    train = sp.csr_matrix(np.array([[5, 1, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 9]], dtype=np.float32))
    popularity = PopularityRecommender.fit(train)
    assert popularity.listeners.tolist() == [3, 3, 1, 1]  # listeners, not plays
    ids, _ = popularity.recommend(np.array([0, 3]), train[[0, 3]], N=2)
    assert ids.tolist() == [[2, 3], [0, 2]]
    assert popularity.top(np.array([0]), 2).tolist() == [1, 2]


def test_one_user_asked_alone_gets_one_list():
    train = sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=np.float32))
    ids, scores = PopularityRecommender.fit(train).recommend(0, train[0], N=2)
    assert ids.tolist() == [1, 2] and scores.tolist() == [2.0, 1.0]
