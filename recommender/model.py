"""LoadedModel: answers "similar to", fold-in and "because you liked" from plain arrays.

A model is either item factors (ALS, BPR, LMF: ``item_factors``, items x factors) or an
item-item similarity matrix (cosine, BM25 kNN: ``similarity``, items x items CSR). Serving
never needs the implicit object: everything here is numpy on arrays that the store loaded
with ``allow_pickle=False``.

Cost at MSD scale (384 k items x 64 factors): the L2-normalized float32 factors are made
once at load, and one answer is a single pass of implicit's fused dot-product + top-k
(``implicit.cpu.topk``, the kernel behind its own brute-force ``similar_items``): about
half the time of a numpy matrix-vector product followed by ``argpartition``, and no
items-sized score array per request.

Scores:
- ``similar_items``: cosine of each item with the seeds' mean direction (factors), or the
  mean of the seeds' similarity rows each scaled by its row's largest value (kNN); both
  are in [0, 1] for anything worth showing.
- ``score_for_history``: the model's predicted preference (ALS fits 0/1 preferences, so
  roughly 0..1), or the weighted mean of normalized similarity rows (kNN).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from .errors import ModelError

FACTOR_ALGORITHMS = frozenset({"als", "bpr", "lmf"})
NEIGHBOUR_ALGORITHMS = frozenset({"cosine", "bm25"})

_EMPTY = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32))


def top_by_dot(items: np.ndarray, query: np.ndarray, n: int, exclude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Top ``n`` rows of ``items`` by dot product with ``query``, ``exclude`` left out."""
    from implicit.cpu.topk import topk

    n = min(int(n), items.shape[0] - exclude.size)
    if n <= 0:
        return _EMPTY
    query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
    # One thread: the bot runs several requests at once, each already on its own thread.
    indices, scores = topk(items, query, n, filter_items=exclude.astype(np.int32), num_threads=1)
    indices, scores = indices[0], scores[0]
    keep = np.isfinite(scores) & (indices >= 0)
    return indices[keep].astype(np.int64), scores[keep].astype(np.float32, copy=False)


def top_n(scores: np.ndarray, n: int, *, positive_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the ``n`` largest finite scores, best first.

    ``scores`` is used in place (no copy); entries set to -inf are never returned. With
    ``positive_only`` zero or negative scores are dropped too (kNN: "not a neighbour").
    """
    size = scores.shape[0]
    n = min(int(n), size)
    if n <= 0:
        return _EMPTY
    candidates = np.argpartition(scores, size - n)[size - n :] if n < size else np.arange(size)
    candidate_scores = scores[candidates]
    order = np.argsort(-candidate_scores, kind="stable")
    indices, chosen = candidates[order], candidate_scores[order]
    keep = chosen > 0 if positive_only else np.isfinite(chosen)
    if not keep.all():
        indices, chosen = indices[keep], chosen[keep]
    return indices.astype(np.int64, copy=False), chosen.astype(np.float32, copy=False)


class LoadedModel:
    """A trained model ready to serve. Build with :meth:`from_arrays` (the store does)."""

    def __init__(
        self,
        *,
        manifest: Mapping,
        version: str | None = None,
        item_factors: np.ndarray | None = None,
        similarity: sp.spmatrix | None = None,
    ):
        self.manifest = dict(manifest)
        self.version = version or str(self.manifest.get("version", "unpublished"))
        self.algorithm = str(self.manifest["algorithm"])
        parameters = self.manifest.get("parameters", {})
        self.regularization = float(parameters.get("regularization", 0.01))
        self.alpha = float(parameters.get("alpha", 1.0))
        # Weights given to score_for_history are relative: 1.0 = a typical training value.
        self.typical_weight = float(self.manifest.get("typical_weight", 1.0)) or 1.0
        if (item_factors is None) == (similarity is None):
            raise ModelError(f"model {self.version}: needs exactly one of item factors or a similarity matrix")
        if item_factors is not None:
            if item_factors.ndim != 2:
                raise ModelError(f"model {self.version}: item factors must be 2-D, got shape {item_factors.shape}")
            self.kind = "factors"
            self._factors = np.ascontiguousarray(item_factors, dtype=np.float32)
            # einsum skips linalg.norm's squared temporary (1 M x 64: 0.02 s instead of 0.10 s).
            norms = np.sqrt(np.einsum("ij,ij->i", self._factors, self._factors))
            # A NaN or infinity anywhere makes its row's norm one too (the store refuses such a model).
            self.all_finite = bool(np.isfinite(norms).all())
            self._norms = np.where(norms > 0, norms, 1.0).astype(np.float32)
            # Items never seen in training have zero vectors and can never be suggested, so
            # "similar" scans only the others: the MSD catalog has 1 M songs but 384 k with
            # listeners, and one answer is a pass over these rows (2.6x less memory to read).
            self._scored = np.flatnonzero(norms > 0)
            with np.errstate(invalid="ignore"):  # inf / inf in a damaged model: refused by the store, not here
                self._normalized = np.ascontiguousarray(self._factors[self._scored] / self._norms[self._scored, None])
            self._similarity = sp.csr_matrix((0, 0), dtype=np.float32)  # (a neighbour model's)
            self.n_items = self._factors.shape[0]
        else:
            self.kind = "neighbours"
            similarity = sp.csr_matrix(similarity, dtype=np.float32)
            if similarity.shape[0] != similarity.shape[1]:
                raise ModelError(f"model {self.version}: similarity must be square, got {similarity.shape}")
            self._similarity = similarity
            self.all_finite = bool(np.isfinite(similarity.data).all())
            row_max = np.zeros(similarity.shape[0], dtype=np.float32)
            has_entries = np.diff(similarity.indptr) > 0
            if has_entries.any():
                row_max[has_entries] = np.maximum.reduceat(similarity.data, similarity.indptr[:-1][has_entries])
            # Dividing each row by its largest value keeps kNN scores in [0, 1].
            self._row_scale = np.where(row_max > 0, 1.0 / np.where(row_max > 0, row_max, 1.0), 0.0).astype(np.float32)
            self._factors = self._normalized = np.zeros((0, 0), dtype=np.float32)  # (a factor model's)
            self.n_items = similarity.shape[0]

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, object], manifest: Mapping, version: str | None = None) -> LoadedModel:
        if "item_factors" in arrays:
            return cls(manifest=manifest, version=version, item_factors=np.asarray(arrays["item_factors"]))
        if "similarity" in arrays:
            return cls(manifest=manifest, version=version, similarity=arrays["similarity"])
        raise ModelError(f"model {version}: no item_factors or similarity among {sorted(arrays)}")

    def __repr__(self) -> str:
        return f"LoadedModel(version={self.version!r}, algorithm={self.algorithm!r}, n_items={self.n_items})"

    # An approximate nearest-neighbour index ([serving] index = "ann"); None = exact brute force.
    ann_index = None

    @property
    def scanned_items(self) -> int:
        """How many items one exact "similar" answer scans (0 for neighbour models)."""
        return int(self._scored.size) if self.kind == "factors" else 0

    def build_ann(self) -> None:
        """Index the item factors (recommender.ann); similar_items uses the index from then on."""
        if self.kind != "factors":
            return
        from . import ann

        self.ann_index = ann.build_index(self._normalized)  # rows are self._scored's items

    # -- helpers -----------------------------------------------------------------------
    def _indices(self, indices: object, what: str) -> np.ndarray:
        array = np.atleast_1d(np.asarray(indices))
        if array.size and not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"{what} must be integer item indices, got {array.dtype}")
        array = array.astype(np.int64, copy=False)
        if array.size and (array.min() < 0 or array.max() >= self.n_items):
            raise ValueError(
                f"{what} out of range 0..{self.n_items - 1}: {array[(array < 0) | (array >= self.n_items)][:5]}"
            )
        return array

    def _scored_rows(self, items: np.ndarray) -> np.ndarray:
        """Rows of the scored matrices holding ``items`` (items with zero vectors have none)."""
        rows = np.searchsorted(self._scored, items)
        rows = np.minimum(rows, max(self._scored.size - 1, 0))
        return rows[self._scored[rows] == items] if self._scored.size else rows[:0]

    @cached_property
    def _scored_factors(self) -> np.ndarray:
        """The raw factors of the scored items (what /foryou's fold-in scans)."""
        return np.ascontiguousarray(self._factors[self._scored])

    def _weights(self, items: np.ndarray, weights: object) -> np.ndarray:
        if weights is None:
            return np.ones(items.size, dtype=np.float64)
        array = np.atleast_1d(np.asarray(weights, dtype=np.float64))
        if array.shape != items.shape:
            raise ValueError(f"weights has {array.size} entries for {items.size} items")
        return array

    @cached_property
    def _gram(self) -> np.ndarray:
        """YtY of the item factors (what implicit caches as ``YtY``), float64 for the solve."""
        factors = self._factors.astype(np.float64)
        return factors.T @ factors

    def _fold_in_system(self, items: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A, b and confidences of implicit's least-squares user solve (recalculate_user).

        confidence c_i = alpha * typical_weight * w_i;  A = YtY + reg*I + sum (c_i - 1) y_i y_i^T;
        b = sum c_i y_i (negative confidences count as |c| in A and add nothing to b).
        """
        confidence = self.alpha * self.typical_weight * weights
        factors = self._factors[items].astype(np.float64)
        magnitude = np.abs(confidence)
        system = self._gram + self.regularization * np.eye(self._gram.shape[0])
        system += (factors * (magnitude - 1.0)[:, None]).T @ factors
        rhs = factors.T @ np.where(confidence > 0, confidence, 0.0)
        return system, rhs, confidence

    # -- the three questions -----------------------------------------------------------
    def similar_items(self, seed_indices: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` items most similar to the seeds together; seeds are never returned."""
        seeds = np.unique(self._indices(seed_indices, "seed_indices"))
        if seeds.size == 0 or n <= 0:
            return _EMPTY
        if self.kind == "factors":
            query = (self._factors[seeds] / self._norms[seeds, None]).sum(axis=0)
            length = float(np.linalg.norm(query))
            if length == 0.0:
                return _EMPTY  # seeds the model knows nothing about
            query /= length
            index = self.ann_index
            if index is not None:
                from . import ann

                rows, found = ann.query(index, query, n + seeds.size)
                keep = rows[0] >= 0
                ids, found = self._scored[rows[0][keep]], found[0][keep]
                keep = ~np.isin(ids, seeds)
                return ids[keep][:n], found[keep][:n]
            rows, found = top_by_dot(self._normalized, query, n, self._scored_rows(seeds))
            return self._scored[rows], found
        scale = self._row_scale[seeds] / seeds.size
        scores = np.asarray(self._similarity[seeds].T @ scale).ravel()
        scores[seeds] = -np.inf
        return top_n(scores, n, positive_only=True)

    def seed_similarity(self, seed_indices: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Each seed's similarity to each candidate (seeds x candidates), on ``similar_items``'s
        scale: cosine of the factors, or the seed's similarity row scaled by its largest value."""
        seeds = self._indices(seed_indices, "seed_indices")
        candidates = self._indices(candidates, "candidates")
        if self.kind == "factors":
            seed_vectors = self._factors[seeds] / self._norms[seeds, None]
            candidate_vectors = self._factors[candidates] / self._norms[candidates, None]
            return (seed_vectors @ candidate_vectors.T).astype(np.float32, copy=False)
        rows = self._similarity[seeds][:, candidates].toarray()
        return (rows * self._row_scale[seeds][:, None]).astype(np.float32, copy=False)

    def similar_to_each(self, seed_indices: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` nearest items of each seed together, and every seed's similarity to each.

        Returns (candidates, scores) with ``scores`` seeds x candidates, the seeds in the order
        given (repeats dropped). A mix ranks from this so that each seed's own neighbourhood is
        in the pool (the seeds' mean direction can lie far from all of them); with one seed it
        is ``similar_items``. Seeds are never candidates.
        """
        seeds = np.array(list(dict.fromkeys(self._indices(seed_indices, "seed_indices").tolist())), dtype=np.int64)
        if seeds.size == 0 or n <= 0:
            return _EMPTY[0], np.empty((seeds.size, 0), dtype=np.float32)
        if seeds.size == 1:
            indices, scores = self.similar_items(seeds, n)
            return indices, scores[None, :]
        found = [self.similar_items(seeds[i : i + 1], n + seeds.size)[0] for i in range(seeds.size)]
        candidates = np.unique(np.concatenate(found))
        candidates = candidates[~np.isin(candidates, seeds)]
        return candidates, self.seed_similarity(seeds, candidates)

    def score_for_history(
        self, item_indices: np.ndarray, weights: np.ndarray | None = None, n: int = 10
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` items for someone who liked ``item_indices`` (fold-in, no retraining).

        ``weights`` are relative (1.0 = a typical interaction of the training data; None = all
        1.0). Factor models solve the user's vector from the item factors exactly as implicit's
        ``recalculate_user`` does; kNN models sum the liked items' similarity rows. Liked items
        are excluded.
        """
        items = self._indices(item_indices, "item_indices")
        weights = self._weights(items, weights)
        if items.size == 0 or n <= 0:
            return _EMPTY
        if self.kind == "factors":
            system, rhs, _ = self._fold_in_system(items, weights)
            user = np.linalg.solve(system, rhs)
            rows, found = top_by_dot(self._scored_factors, user, n, self._scored_rows(np.unique(items)))
            return self._scored[rows], found
        scale = self._row_scale[items] * (weights / max(float(np.abs(weights).sum()), 1e-12))
        scores = np.asarray(self._similarity[items].T @ scale.astype(np.float32)).ravel()
        scores[items] = -np.inf
        return top_n(scores, n, positive_only=True)

    def contributions(
        self, history_indices: np.ndarray, item_index: int, weights: np.ndarray | None = None
    ) -> np.ndarray:
        """How much each liked item contributed to ``item_index``'s fold-in score.

        The values sum to that score (implicit's ``explain`` decomposition for factor
        models; the weighted similarity terms for kNN), so the largest one is the honest
        "because you liked X".
        """
        items = self._indices(history_indices, "history_indices")
        target = int(self._indices([item_index], "item_index")[0])
        weights = self._weights(items, weights)
        if items.size == 0:
            return np.empty(0, dtype=np.float64)
        if self.kind == "factors":
            system, _, confidence = self._fold_in_system(items, weights)
            solved = np.linalg.solve(system, self._factors[target].astype(np.float64))
            positive = np.where(confidence > 0, confidence, 0.0)
            return positive * (self._factors[items].astype(np.float64) @ solved)
        column = np.asarray(self._similarity[items][:, [target]].todense(), dtype=np.float64).ravel()
        scale = self._row_scale[items] * (weights / max(float(np.abs(weights).sum()), 1e-12))
        return column * scale
