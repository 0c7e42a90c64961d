"""The figures: implicit's holdout metrics, per-list ranking scores, and what answer lists show.

- holdout: implicit's own ``ranking_metrics_at_k`` (precision@k, map@k, ndcg@k exactly as
  implicit computes them; its "precision" divides by min(k, held-out items));
- held-out users: mAP@500, Recall@20, Recall@50 (hits / min(k, hidden)), NDCG@100 as Liang
  et al. 2018 define them; item2item: hit rate (any other song of the user's in the top k)
  and recall;
- answer lists (:class:`ListFigures`): hit rate and recall counting versions as one song,
  coverage, novelty, intra-list diversity (:class:`ItemSimilarity`) and listeners.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recommender.ranking import in_sorted
from recommender.training import FittedModel

from .baseline import PopularityRecommender
from .splits import UsersSplit, item2item_seeds

# Liang et al. 2018 and the MSD Challenge cut-offs for the users protocol.
MAP_CUTOFF, RECALL_CUTOFFS, NDCG_CUTOFF = 500, (20, 50), 100
# (the items a user has seen, how many) -> the ranked items to show them
RankHistory = Callable[[np.ndarray, int], np.ndarray]
# (a seed item, how many) -> the ranked items similar to it
RankSimilar = Callable[[int, int], np.ndarray]


def primary_metric(protocol: str, k: int) -> str:
    """The one figure that decides a promotion for each protocol."""
    return {"holdout": f"precision@{k}", "users": "ndcg@100", "item2item": f"recall@{k}", "mix": f"hit_rate@{k}"}[
        protocol
    ]


def holdout_metrics(model: FittedModel | PopularityRecommender, train: sp.spmatrix, test: sp.spmatrix, k: int) -> dict:
    """precision@k, map@k and ndcg@k from implicit's ``ranking_metrics_at_k``.

    For a FittedModel the matrix it was fitted on (weighted ``train``) is what the model
    scores from (kNN) and filters already-liked items with.
    """
    recommender: object
    if isinstance(model, FittedModel):
        if model.weighted.shape != train.shape:
            raise ValueError(f"model was fitted on {model.weighted.shape}, train is {train.shape}")
        recommender, train_items = model.implicit_model, model.weighted
    else:
        recommender, train_items = model, sp.csr_matrix(train)
    return implicit_ranking_metrics(recommender, train_items, test, k)


def implicit_ranking_metrics(recommender: object, train_items: sp.spmatrix, test: sp.spmatrix, k: int) -> dict:
    """implicit's ``ranking_metrics_at_k`` of any recommender (rows of ``train_items`` are what
    it filters out, rows of ``test`` what it should find), under the project's names."""
    from implicit.evaluation import ranking_metrics_at_k

    with threadpool_limits(1, "blas"):
        raw = ranking_metrics_at_k(
            recommender, sp.csr_matrix(train_items), sp.csr_matrix(test), K=k, show_progress=False
        )
    return {f"precision@{k}": float(raw["precision"]), f"map@{k}": float(raw["map"]), f"ndcg@{k}": float(raw["ndcg"])}


def ranking_scores(ranked: np.ndarray, hidden: np.ndarray, k: int) -> tuple[float, float, float]:
    """(average precision@k, recall@k, ndcg@k) of one ranked list, as Liang et al. define them."""
    relevant = np.isin(ranked[:k], hidden)
    wanted = min(k, hidden.size)
    if wanted == 0:
        return 0.0, 0.0, 0.0
    hits = np.cumsum(relevant)
    ranks = np.arange(1, relevant.size + 1)
    average_precision = float(np.sum(hits[relevant] / ranks[relevant]) / wanted)
    recall = float(hits[-1] / wanted) if relevant.size else 0.0
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float(np.sum(discounts[: relevant.size][relevant]))
    ndcg = dcg / float(np.sum(discounts[:wanted]))
    return average_precision, recall, ndcg


def users_metrics(rank: RankHistory, split: UsersSplit, k: int) -> dict[str, float]:
    """The users protocol's figures: each held-out user's visible half ranked, the hidden half found."""
    depth = max(MAP_CUTOFF, NDCG_CUTOFF, *RECALL_CUTOFFS, k)
    sums: dict[str, float] = {}
    for visible, hidden in zip(split.visible, split.hidden):
        ranked = rank(visible, depth)
        values = {
            f"map@{MAP_CUTOFF}": ranking_scores(ranked, hidden, MAP_CUTOFF)[0],
            **{f"recall@{cutoff}": ranking_scores(ranked, hidden, cutoff)[1] for cutoff in RECALL_CUTOFFS},
            f"ndcg@{NDCG_CUTOFF}": ranking_scores(ranked, hidden, NDCG_CUTOFF)[2],
            f"recall@{k}": ranking_scores(ranked, hidden, k)[1],
            f"ndcg@{k}": ranking_scores(ranked, hidden, k)[2],
        }
        for name, value in values.items():
            sums[name] = sums.get(name, 0.0) + value
    count = max(len(split.visible), 1)
    return {name: total / count for name, total in sums.items()}


def item2item_metrics(similar: RankSimilar, split: UsersSplit, k: int, seed: int) -> dict[str, float]:
    """Hit rate and recall of a held-out user's other songs among the k most similar to one of them."""
    hit_total = recall_total = 0.0
    for seed_item, visible, hidden in zip(item2item_seeds(split, seed).tolist(), split.visible, split.hidden):
        items = np.concatenate([visible, hidden])
        others = items[items != seed_item]
        found = np.isin(similar(seed_item, k), others).sum()
        hit_total += float(found > 0)
        recall_total += found / min(k, others.size)
    count = max(len(split.visible), 1)
    return {f"hit_rate@{k}": hit_total / count, f"recall@{k}": recall_total / count}


class ItemSimilarity:
    """Pairwise similarity of items in the model's own space, for intra-list diversity.

    Factor models: cosine of the item factors. kNN models: the similarity matrix with each
    row divided by its largest value (the scale ``similar_items`` answers in, 0..1), made
    symmetric by taking the larger direction, since each row keeps only its top neighbours.
    """

    def __init__(self, arrays: dict):
        self.normalized: np.ndarray | None = None  # factor models: unit item vectors
        self.similarity: sp.csr_matrix | None = None  # kNN models: rows scaled to 0..1
        if "item_factors" in arrays:
            factors = np.asarray(arrays["item_factors"], dtype=np.float64)
            norms = np.linalg.norm(factors, axis=1)
            self.normalized = factors / np.where(norms > 0, norms, 1.0)[:, None]
        else:
            similarity = sp.csr_matrix(arrays["similarity"], dtype=np.float64)
            row_max = np.zeros(similarity.shape[0])
            has_entries = np.diff(similarity.indptr) > 0
            if has_entries.any():
                row_max[has_entries] = np.maximum.reduceat(similarity.data, similarity.indptr[:-1][has_entries])
            scale = np.where(row_max > 0, 1.0 / np.where(row_max > 0, row_max, 1.0), 0.0)
            self.similarity = sp.csr_matrix(sp.diags(scale) @ similarity)

    def mean_distance(self, items: np.ndarray) -> float | None:
        """Mean of (1 - similarity) over the pairs of ``items``; None below two items."""
        if len(items) < 2:
            return None
        if self.normalized is not None:
            vectors = self.normalized[items]
            pairwise = vectors @ vectors.T
        elif self.similarity is not None:
            block = self.similarity[items][:, items].toarray()
            pairwise = np.maximum(block, block.T)
        else:  # (cannot happen: __init__ sets one of the two)
            raise ValueError("no item similarity to measure diversity with")
        upper = np.triu_indices(len(items), 1)
        return float(np.mean(1.0 - pairwise[upper]))


# The most listened songs of the training part whose hits do not count as long-tail hits.
DEFAULT_HEAD = 100


def head_items(listeners: np.ndarray, head: int) -> np.ndarray:
    """A mask of the ``head`` most listened items (ties: the lower index first, as the
    popularity baseline orders them); only items with listeners can be in it."""
    listeners = np.asarray(listeners)
    if head < 0:
        raise ValueError(f"the head must be 0 or more songs, got {head}")
    mask = np.zeros(listeners.size, dtype=bool)
    order = np.argsort(-listeners, kind="stable")[:head]
    mask[order[listeners[order] > 0]] = True
    return mask


class ListFigures:
    """Accuracy and beyond-accuracy figures over the answer lists of one setting.

    - hit rate@k / recall@k: a shown song counts when the user played any version of it
      (the bot merges versions and shows the most listened one);
    - with ``head`` (a mask of the most listened songs), hit rate@k_longtail / recall@k_longtail:
      the same over every list, counting only shown songs outside the head (a list with no
      long-tail hit scores 0 there; the recall's denominator is recall@k's);
    - coverage: distinct songs shown / songs with a listener in the training part;
    - novelty: mean self-information -log2(listeners / users) of the songs shown, in bits
      (Zhou et al. 2010; Castells et al.'s "popularity-based novelty");
    - diversity: mean pairwise (1 - similarity) within a list (intra-list diversity; 0 when
      no ``similarity`` is given);
    - mean_listeners: mean training listeners of the songs shown; median_listeners: the median
      over every song shown (what "deep cuts" is calibrated on).
    Per-list means are averaged over lists (lists of one song count for all but diversity), each
    list counting its ``weight`` (item2item's "all" seeds: 1 / the listener's songs, so that every
    listener counts once); the median listeners and coverage count every song shown alike.
    """

    def __init__(
        self,
        k: int,
        listeners: np.ndarray,
        n_users: int,
        similarity: ItemSimilarity | None,
        group_of: np.ndarray,
        head: np.ndarray | None = None,
    ):
        self.k = k
        self.head = head
        self.listeners = listeners
        self.self_information = -np.log2(np.maximum(listeners, 1) / max(n_users, 1))
        self.similarity = similarity
        self.group_of = group_of
        self.shown: set[int] = set()
        self.shown_listeners: list[np.ndarray] = []  # of every song shown, for the median
        self.sums = {"hits": 0.0, "recall": 0.0, "novelty": 0.0, "listeners": 0.0, "length": 0.0, "diversity": 0.0}
        self.sums.update({"longtail_hits": 0.0, "longtail_recall": 0.0})
        self.lists = self.lists_with_pairs = self.nonempty = 0.0
        # listener -> [their lists' weight, weighted hits, weighted long-tail hits], for paired
        # comparisons (:func:`paired_gain`); kept for the lists added with a listener.
        self.by_listener: dict[int, list[float]] = {}

    def add(self, shown: np.ndarray, targets: np.ndarray, weight: float = 1.0, listener: int | None = None) -> None:
        shown = np.asarray(shown, dtype=np.int64)
        self.lists += weight
        self.sums["length"] += weight * shown.size
        matched = in_sorted(self.group_of[shown], np.unique(self.group_of[targets]))
        found = int(matched.sum())
        self.sums["hits"] += weight * float(found > 0)
        self.sums["recall"] += weight * found / max(min(self.k, targets.size), 1)
        longtail = 0
        if self.head is not None:
            longtail = int((matched & ~self.head[shown]).sum())
            self.sums["longtail_hits"] += weight * float(longtail > 0)
            self.sums["longtail_recall"] += weight * longtail / max(min(self.k, targets.size), 1)
        if listener is not None:
            sums = self.by_listener.setdefault(int(listener), [0.0, 0.0, 0.0])
            sums[0] += weight
            sums[1] += weight * float(found > 0)
            sums[2] += weight * float(longtail > 0)
        if shown.size:
            self.nonempty += weight
            self.shown.update(shown.tolist())
            self.sums["novelty"] += weight * float(self.self_information[shown].mean())
            self.sums["listeners"] += weight * float(self.listeners[shown].mean())
            self.shown_listeners.append(self.listeners[shown])
        distance = self.similarity.mean_distance(shown) if self.similarity is not None else None
        if distance is not None:
            self.lists_with_pairs += weight
            self.sums["diversity"] += weight * distance

    def listener_rates(self, longtail: bool = False) -> dict[int, float]:
        """Each listener's hit rate (or long-tail hit rate) over their own lists."""
        column = 2 if longtail else 1
        return {listener: sums[column] / sums[0] for listener, sums in self.by_listener.items() if sums[0] > 0}

    def result(self) -> dict:
        lists = self.lists if self.lists > 0 else 1.0
        nonempty = self.nonempty if self.nonempty > 0 else 1.0
        with_listeners = max(int(np.count_nonzero(self.listeners)), 1)
        longtail = {}
        if self.head is not None:
            longtail = {
                f"hit_rate@{self.k}_longtail": self.sums["longtail_hits"] / lists,
                f"recall@{self.k}_longtail": self.sums["longtail_recall"] / lists,
            }
        return {
            f"hit_rate@{self.k}": self.sums["hits"] / lists,
            f"recall@{self.k}": self.sums["recall"] / lists,
            **longtail,
            "coverage": len(self.shown) / with_listeners,
            "novelty": self.sums["novelty"] / nonempty,
            "diversity": self.sums["diversity"] / (self.lists_with_pairs if self.lists_with_pairs > 0 else 1.0),
            "mean_listeners": self.sums["listeners"] / nonempty,
            "median_listeners": float(np.median(np.concatenate(self.shown_listeners))) if self.shown_listeners else 0.0,
            "mean_length": self.sums["length"] / lists,
        }


# One-sided 95% normal quantile: a gain counts when its lower bound at this confidence is above 0.
GAIN_CONFIDENCE_Z = 1.645


def paired_gain(ours: dict[int, float], theirs: dict[int, float], z: float = GAIN_CONFIDENCE_Z) -> tuple[float, float]:
    """(mean, lower bound) of the per-listener differences ``ours - theirs`` over the listeners
    both were asked about: the lower bound is the mean less ``z`` standard errors (a paired
    comparison, so that the listeners' own spread cancels out). With fewer than two listeners
    there is no spread to go by, and the bound is -1, the least a difference of rates can be."""
    listeners = sorted(ours.keys() & theirs.keys())
    differences = np.array([ours[listener] - theirs[listener] for listener in listeners])
    if differences.size < 2:
        return float(differences.sum()), -1.0
    mean = float(differences.mean())
    error = float(differences.std(ddof=1)) / math.sqrt(differences.size)
    return mean, mean - z * error
