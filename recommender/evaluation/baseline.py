"""The popularity baseline every evaluation figure is printed beside."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp


class PopularityRecommender:
    """Most-listened items first (by number of listeners in the training data).

    Quacks like an implicit recommender (``recommend``) so implicit's own metric code
    scores it exactly like the model.
    """

    def __init__(self, listeners: np.ndarray):
        self.listeners = np.asarray(listeners, dtype=np.float64)
        self.order = np.argsort(-self.listeners, kind="stable")

    def outside(self, head: np.ndarray) -> PopularityRecommender:
        """The same baseline with the items of the mask ``head`` never recommended: the most
        listened songs of the long tail (what the long-tail figures compare with)."""
        other = PopularityRecommender(self.listeners)
        other.order = self.order[~np.asarray(head, dtype=bool)[self.order]]
        return other

    @classmethod
    def fit(cls, train: sp.spmatrix) -> PopularityRecommender:
        train = sp.csr_matrix(train)
        return cls(np.bincount(train.indices, minlength=train.shape[1]))

    def top(self, exclude: np.ndarray, n: int) -> np.ndarray:
        """The ``n`` most popular items not in ``exclude``."""
        exclude = np.asarray(exclude)
        head = self.order[: n + exclude.size]
        if exclude.size:
            head = head[~np.isin(head, exclude)]
        return head[:n]

    def recommend(
        self,
        userid: int | np.ndarray,
        user_items: sp.spmatrix,
        N: int = 10,
        filter_already_liked_items: bool = True,
        **_ignored: Any,
    ) -> tuple[np.ndarray, np.ndarray]:
        user_items = sp.csr_matrix(user_items)
        single = np.isscalar(userid)
        rows = np.atleast_1d(userid).size
        ids = np.full((rows, N), -1, dtype=np.int32)
        scores = np.full((rows, N), -np.finfo(np.float32).max, dtype=np.float32)
        for row in range(rows):
            liked = user_items.indices[user_items.indptr[row] : user_items.indptr[row + 1]]
            top = self.top(liked if filter_already_liked_items else np.empty(0, np.int64), N)
            ids[row, : top.size] = top
            scores[row, : top.size] = self.listeners[top]
        return (ids[0], scores[0]) if single else (ids, scores)
