"""``python -m recommender evaluate``: offline figures, always beside the popularity baseline.

Three protocols, each scoring the model and the most-listened baseline on the same split:

- ``holdout``: ``implicit.evaluation.train_test_split(X, train_share, random_state=seed)``
  of the interactions; the configuration is re-fitted on the training part and scored by
  implicit's own ``ranking_metrics_at_k`` (precision@k, map@k, ndcg@k exactly as implicit
  computes them; its "precision" divides by min(k, held-out items)).
- ``users`` (MSD Challenge / Liang et al. 2018): a share of the users is held out whole;
  the model is fitted on the others, and each held-out user's history is split into a
  visible half, folded in without retraining (``LoadedModel.score_for_history``), and a
  hidden half to find: mAP@500, Recall@20, Recall@50 (hits / min(k, hidden)), NDCG@100.
- ``item2item``: what the bot does. For each held-out user, one of their songs is the
  seed of ``similar_items``; hit rate (any other song of theirs in the top k) and recall.
- ``mix``: /mix. For each held-out user with 3+ songs, two of them are the seeds of a mix
  answered through the bot's ranking, for each way of sharing a mix between its seeds
  (``recommend.MIX_STRATEGIES``); hit rate and recall of their other songs, and on a catalog
  with genres the share of mixes of two songs of different genres showing both genres.

``--knobs`` (item2item or users) measures the novelty knob instead of claiming it: on the
same split and fit, a seeded sample of held-out users is answered through the bot's own
ranking (``recommend.rank``: popular / balanced / deep, artist cap, version merging) and
each setting reports coverage, novelty (self-information), intra-list diversity and mean
listeners beside hit rate and recall, with the popularity baseline ranked the same way.

The stored model was trained on all the data, so every protocol re-fits the model's
configuration on its training part; the figures describe the configuration.

Online feedback: when the bot's SQLite log exists, ``recommender.feedback.offline.online_rates``
(imported lazily) is printed beside the offline figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from .errors import ConfigError, SoundalikeError
from .model import LoadedModel
from .training import FittedModel, TrainParams, add_param_arguments, fit

log = logging.getLogger(__name__)

PROTOCOLS = ("holdout", "users", "item2item", "mix")
# Liang et al. 2018 and the MSD Challenge cut-offs for the users protocol.
USERS_CUTOFFS = {"map": 500, "recall": (20, 50), "ndcg": 100}
DEFAULT_MAX_HELDOUT_USERS = 5000
# holdout scores every user with held-out plays against every song: at MSD scale (1 M users,
# 1 M songs) that is hours on 2 cores, so at most this many, drawn with the split's seed.
# Last.fm 2k (1,892) and the demo (6,000) are scored whole.
DEFAULT_MAX_HOLDOUT_USERS = 20_000


def primary_metric(protocol: str, k: int) -> str:
    """The one figure that decides a promotion for each protocol."""
    return {"holdout": f"precision@{k}", "users": "ndcg@100", "item2item": f"recall@{k}", "mix": f"hit_rate@{k}"}[
        protocol
    ]


# -- the baseline ----------------------------------------------------------------------
class PopularityRecommender:
    """Most-listened items first (by number of listeners in the training data).

    Quacks like an implicit recommender (``recommend``) so implicit's own metric code
    scores it exactly like the model.
    """

    def __init__(self, listeners: np.ndarray):
        self.listeners = np.asarray(listeners, dtype=np.float64)
        self.order = np.argsort(-self.listeners, kind="stable")

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

    def recommend(self, userid, user_items, N=10, filter_already_liked_items=True, **_ignored):
        user_items = sp.csr_matrix(user_items)
        single = np.isscalar(userid)
        rows = 1 if single else len(userid)
        ids = np.full((rows, N), -1, dtype=np.int32)
        scores = np.full((rows, N), -np.finfo(np.float32).max, dtype=np.float32)
        for row in range(rows):
            liked = user_items.indices[user_items.indptr[row] : user_items.indptr[row + 1]]
            top = self.top(liked if filter_already_liked_items else np.empty(0, np.int64), N)
            ids[row, : top.size] = top
            scores[row, : top.size] = self.listeners[top]
        return (ids[0], scores[0]) if single else (ids, scores)


# -- holdout ---------------------------------------------------------------------------
def holdout_split(counts: sp.spmatrix, train_share: float, seed: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """implicit's random split of the interactions (the figures in the README use it)."""
    from implicit.evaluation import train_test_split

    if not 0 < train_share < 1:
        raise ConfigError(f"train_share must be between 0 and 1, got {train_share}")
    train, test = train_test_split(sp.csr_matrix(counts), train_share, random_state=seed)
    return train.tocsr(), test.tocsr()


def sample_test_users(test: sp.csr_matrix, max_users: int, seed: int) -> sp.csr_matrix:
    """``test`` with the held-out plays of at most ``max_users`` users (a seeded draw) kept."""
    users = np.flatnonzero(np.diff(test.indptr))
    if users.size <= max_users:
        return test
    kept = np.zeros(test.shape[0], dtype=test.dtype)
    kept[np.random.default_rng(seed).choice(users, max_users, replace=False)] = 1
    sampled = sp.csr_matrix(sp.diags(kept) @ test)
    sampled.eliminate_zeros()
    return sampled


def holdout_metrics(model: FittedModel | PopularityRecommender, train: sp.spmatrix, test: sp.spmatrix, k: int) -> dict:
    """precision@k, map@k and ndcg@k from implicit's ``ranking_metrics_at_k``.

    For a FittedModel the matrix it was fitted on (weighted ``train``) is what the model
    scores from (kNN) and filters already-liked items with.
    """
    from implicit.evaluation import ranking_metrics_at_k

    if isinstance(model, FittedModel):
        if model.weighted.shape != train.shape:
            raise ValueError(f"model was fitted on {model.weighted.shape}, train is {train.shape}")
        recommender, train_items = model.implicit_model, model.weighted
    else:
        recommender, train_items = model, sp.csr_matrix(train)
    with threadpool_limits(1, "blas"):
        raw = ranking_metrics_at_k(recommender, train_items, sp.csr_matrix(test), K=k, show_progress=False)
    return {f"precision@{k}": float(raw["precision"]), f"map@{k}": float(raw["map"]), f"ndcg@{k}": float(raw["ndcg"])}


def _stack_extra(train: sp.csr_matrix, test: sp.csr_matrix, extra: sp.spmatrix | None):
    """Append extra training-only rows (feedback listeners) below train; test gets empty rows."""
    if extra is None or extra.shape[0] == 0:
        return train, test
    extra = sp.csr_matrix(extra, dtype=train.dtype)
    if extra.shape[1] != train.shape[1]:
        raise ValueError(f"extra rows have {extra.shape[1]} items, the dataset {train.shape[1]}")
    empty = sp.csr_matrix((extra.shape[0], test.shape[1]), dtype=test.dtype)
    return sp.vstack([train, extra], format="csr"), sp.vstack([test, empty], format="csr")


# -- held-out users --------------------------------------------------------------------
@dataclass
class UsersSplit:
    train: sp.csr_matrix  # the other users, whole
    users: np.ndarray  # held-out user rows (in the original matrix)
    visible: list[np.ndarray]  # item indices folded in
    hidden: list[np.ndarray]  # item indices to find


def users_split(
    counts: sp.spmatrix,
    train_share: float,
    seed: int,
    *,
    visible_share: float = 0.5,
    max_users: int = DEFAULT_MAX_HELDOUT_USERS,
) -> UsersSplit:
    """Hold out ``1 - train_share`` of the users (at most ``max_users``), half of each visible.

    Only items some training user played can be predicted, so held-out histories are
    restricted to them (as Liang et al. do); users left with fewer than 2 items are skipped.
    """
    if not 0 < train_share < 1:
        raise ConfigError(f"train_share must be between 0 and 1, got {train_share}")
    counts = sp.csr_matrix(counts)
    rng = np.random.default_rng(seed)
    n_users = counts.shape[0]
    eligible = np.flatnonzero(np.diff(counts.indptr) >= 2)
    wanted = min(max_users, int(round(n_users * (1 - train_share))), eligible.size)
    heldout = np.sort(rng.choice(eligible, size=wanted, replace=False)) if wanted else np.empty(0, np.int64)
    keep = np.ones(n_users, dtype=bool)
    keep[heldout] = False
    train = counts[keep]
    known = np.bincount(train.indices, minlength=counts.shape[1]) > 0
    users, visible, hidden = [], [], []
    for user in heldout:
        items = counts.indices[counts.indptr[user] : counts.indptr[user + 1]]
        items = items[known[items]]
        if items.size < 2:
            continue
        items = rng.permutation(items)
        n_visible = min(items.size - 1, max(1, int(math.floor(items.size * visible_share))))
        users.append(user)
        visible.append(np.sort(items[:n_visible]))
        hidden.append(np.sort(items[n_visible:]))
    return UsersSplit(train=train, users=np.asarray(users, dtype=np.int64), visible=visible, hidden=hidden)


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


def _users_metrics(rank: callable, split: UsersSplit, k: int) -> dict:
    depth = max(USERS_CUTOFFS["map"], USERS_CUTOFFS["ndcg"], *USERS_CUTOFFS["recall"], k)
    sums: dict[str, float] = {}
    for visible, hidden in zip(split.visible, split.hidden):
        ranked = rank(visible, depth)
        values = {
            "map@500": ranking_scores(ranked, hidden, 500)[0],
            "recall@20": ranking_scores(ranked, hidden, 20)[1],
            "recall@50": ranking_scores(ranked, hidden, 50)[1],
            "ndcg@100": ranking_scores(ranked, hidden, 100)[2],
            f"recall@{k}": ranking_scores(ranked, hidden, k)[1],
            f"ndcg@{k}": ranking_scores(ranked, hidden, k)[2],
        }
        for name, value in values.items():
            sums[name] = sums.get(name, 0.0) + value
    count = max(len(split.visible), 1)
    return {name: total / count for name, total in sums.items()}


def item2item_seeds(split: UsersSplit, seed: int) -> np.ndarray:
    """The seed song of each held-out user (one of their songs, drawn with ``seed``).

    The model, the baseline and every novelty-knob setting ask about the same seeds.
    """
    rng = np.random.default_rng(seed)
    seeds = np.empty(len(split.visible), dtype=np.int64)
    for position, (visible, hidden) in enumerate(zip(split.visible, split.hidden)):
        items = np.concatenate([visible, hidden])
        seeds[position] = items[rng.integers(items.size)]
    return seeds


def _item2item_metrics(similar: callable, split: UsersSplit, k: int, seed: int) -> dict:
    hit_total = recall_total = 0.0
    for seed_item, visible, hidden in zip(item2item_seeds(split, seed).tolist(), split.visible, split.hidden):
        items = np.concatenate([visible, hidden])
        others = items[items != seed_item]
        found = np.isin(similar(seed_item, k), others).sum()
        hit_total += float(found > 0)
        recall_total += found / min(k, others.size)
    count = max(len(split.visible), 1)
    return {f"hit_rate@{k}": hit_total / count, f"recall@{k}": recall_total / count}


# -- the novelty knob ------------------------------------------------------------------
KNOB_PROTOCOLS = ("item2item", "users")
DEFAULT_KNOB_USERS = 500


@dataclass
class KnobCase:
    """One held-out user as the bot would be asked about them."""

    user: int  # row in the dataset's matrix
    seeds: np.ndarray  # item2item: the seed song; users: the visible half, folded in (/foryou)
    targets: np.ndarray  # their songs an answer should find


def knob_cases(split: UsersSplit, protocol: str, seed: int, max_users: int) -> list[KnobCase]:
    """Cases for at most ``max_users`` of the split's held-out users, drawn with ``seed``.

    Item2item cases use the very seeds the model and baseline rows were scored on.
    """
    count = len(split.visible)
    wanted = min(max(int(max_users), 0), count)
    positions = np.sort(np.random.default_rng(seed).choice(count, size=wanted, replace=False))
    if protocol == "item2item":
        seeds = item2item_seeds(split, seed)
        cases = []
        for position in positions.tolist():
            items = np.concatenate([split.visible[position], split.hidden[position]])
            cases.append(
                KnobCase(
                    user=int(split.users[position]),
                    seeds=seeds[position : position + 1],
                    targets=items[items != seeds[position]],
                )
            )
    else:
        cases = [
            KnobCase(user=int(split.users[p]), seeds=split.visible[p], targets=split.hidden[p])
            for p in positions.tolist()
        ]
    return cases


class ItemSimilarity:
    """Pairwise similarity of items in the model's own space, for intra-list diversity.

    Factor models: cosine of the item factors. kNN models: the similarity matrix with each
    row divided by its largest value (the scale ``similar_items`` answers in, 0..1), made
    symmetric by taking the larger direction, since each row keeps only its top neighbours.
    """

    def __init__(self, arrays: dict):
        if "item_factors" in arrays:
            factors = np.asarray(arrays["item_factors"], dtype=np.float64)
            norms = np.linalg.norm(factors, axis=1)
            self.normalized = factors / np.where(norms > 0, norms, 1.0)[:, None]
            self.similarity = None
        else:
            similarity = sp.csr_matrix(arrays["similarity"], dtype=np.float64)
            row_max = np.zeros(similarity.shape[0])
            has_entries = np.diff(similarity.indptr) > 0
            if has_entries.any():
                row_max[has_entries] = np.maximum.reduceat(similarity.data, similarity.indptr[:-1][has_entries])
            scale = np.where(row_max > 0, 1.0 / np.where(row_max > 0, row_max, 1.0), 0.0)
            self.similarity = sp.csr_matrix(sp.diags(scale) @ similarity)
            self.normalized = None

    def mean_distance(self, items: np.ndarray) -> float | None:
        """Mean of (1 - similarity) over the pairs of ``items``; None below two items."""
        if len(items) < 2:
            return None
        if self.normalized is not None:
            vectors = self.normalized[items]
            pairwise = vectors @ vectors.T
        else:
            block = self.similarity[items][:, items].toarray()
            pairwise = np.maximum(block, block.T)
        upper = np.triu_indices(len(items), 1)
        return float(np.mean(1.0 - pairwise[upper]))


class ListFigures:
    """Accuracy and beyond-accuracy figures over the answer lists of one setting.

    - hit rate@k / recall@k: a shown song counts when the user played any version of it
      (the bot merges versions and shows the most listened one);
    - coverage: distinct songs shown / songs with a listener in the training part;
    - novelty: mean self-information -log2(listeners / users) of the songs shown, in bits
      (Zhou et al. 2010; Castells et al.'s "popularity-based novelty");
    - diversity: mean pairwise (1 - similarity) within a list (intra-list diversity; 0 when
      no ``similarity`` is given);
    - mean_listeners: mean training listeners of the songs shown; median_listeners: the median
      over every song shown (what "deep cuts" is calibrated on).
    Per-list means are averaged over lists (lists of one song count for all but diversity).
    """

    def __init__(
        self, k: int, listeners: np.ndarray, n_users: int, similarity: ItemSimilarity | None, group_of: np.ndarray
    ):
        self.k = k
        self.listeners = listeners
        self.self_information = -np.log2(np.maximum(listeners, 1) / max(n_users, 1))
        self.similarity = similarity
        self.group_of = group_of
        self.shown: set[int] = set()
        self.shown_listeners: list[np.ndarray] = []  # of every song shown, for the median
        self.sums = {"hits": 0.0, "recall": 0.0, "novelty": 0.0, "listeners": 0.0, "length": 0.0, "diversity": 0.0}
        self.lists = self.lists_with_pairs = self.nonempty = 0

    def add(self, shown: np.ndarray, targets: np.ndarray) -> None:
        shown = np.asarray(shown, dtype=np.int64)
        self.lists += 1
        self.sums["length"] += shown.size
        found = int(np.isin(self.group_of[shown], self.group_of[targets]).sum()) if shown.size else 0
        self.sums["hits"] += float(found > 0)
        self.sums["recall"] += found / max(min(self.k, targets.size), 1)
        if shown.size:
            self.nonempty += 1
            self.shown.update(shown.tolist())
            self.sums["novelty"] += float(self.self_information[shown].mean())
            self.sums["listeners"] += float(self.listeners[shown].mean())
            self.shown_listeners.append(self.listeners[shown])
        distance = self.similarity.mean_distance(shown) if self.similarity is not None else None
        if distance is not None:
            self.lists_with_pairs += 1
            self.sums["diversity"] += distance

    def result(self) -> dict:
        lists, nonempty = max(self.lists, 1), max(self.nonempty, 1)
        with_listeners = max(int(np.count_nonzero(self.listeners)), 1)
        return {
            f"hit_rate@{self.k}": self.sums["hits"] / lists,
            f"recall@{self.k}": self.sums["recall"] / lists,
            "coverage": len(self.shown) / with_listeners,
            "novelty": self.sums["novelty"] / nonempty,
            "diversity": self.sums["diversity"] / max(self.lists_with_pairs, 1),
            "mean_listeners": self.sums["listeners"] / nonempty,
            "median_listeners": float(np.median(np.concatenate(self.shown_listeners))) if self.shown_listeners else 0.0,
            "mean_length": self.sums["length"] / lists,
        }


def _catalog(dataset: object, n_items: int) -> pd.DataFrame:
    """The dataset's items, or one made-up song per artist when a bare matrix was given."""
    items = getattr(dataset, "items", None)
    if items is not None:
        return items
    names = [str(i) for i in range(n_items)]
    return pd.DataFrame({"item_id": names, "title": names, "artist": names})


@dataclass
class RankingContext:
    """What the bot ranks with, made from a split's training part only: the catalog as a
    Dataset over the training matrix (listeners, artists), its title resolver (version
    groups) and the fitted model's serving view."""

    training: object  # recommender.dataset.Dataset
    resolver: object  # recommender.search.resolver.TitleResolver
    served: LoadedModel
    items: pd.DataFrame
    # Per seed tuple: (the seeds' versions to leave out, their artists); one case ranks many times.
    _cases: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, dataset: object, train: sp.csr_matrix, fitted: FittedModel) -> RankingContext:
        from recommender.search.resolver import TitleResolver

        from .dataset import Dataset

        items = _catalog(dataset, train.shape[1])
        training = Dataset(
            name=str(getattr(dataset, "name", "evaluation")),
            path=Path(getattr(dataset, "path", ".")),
            interactions=train,
            items=items,
        )
        # Never cached: this index is of a training part, and must not replace (or be written
        # in place of) the dataset's own beside it.
        return cls(training, TitleResolver.build(training, cache=False), fitted.loaded("evaluation"), items)

    @property
    def listeners(self) -> np.ndarray:
        return self.training.listeners

    def _case(self, seeds: np.ndarray) -> tuple[set[int], list[str]]:
        key = tuple(np.asarray(seeds).tolist())
        if key not in self._cases:
            if len(self._cases) > 1024:
                self._cases.clear()
            resolver = self.resolver
            # The seeds and every other version of them (as the service leaves them out).
            excluded = {int(i) for s in key for i in resolver.group_members(resolver.version_group(s))}
            self._cases[key] = (excluded, [self.training.artist(s) for s in key])
        return self._cases[key]

    def rank(
        self, pool: np.ndarray, scores: np.ndarray, options, seeds: np.ndarray, *, seed_artists=True
    ) -> np.ndarray:
        """The item indices the bot would show for this pool (recommend.rank)."""
        from recommender.ranking import rank

        excluded, artists = self._case(seeds)
        picked = rank(
            self.training,
            pool,
            scores,
            options,
            exclude=excluded,
            seed_artists=artists if seed_artists else [],
            version_group=self.resolver.version_group,
            representative=self.resolver.representative,
        )
        return np.array([index for index, _ in picked], dtype=np.int64)

    def popular(
        self, popularity: PopularityRecommender, options, seeds: np.ndarray, *, seed_artists=True
    ) -> np.ndarray:
        """The popularity baseline's list, through the same ranking (so it obeys the same filters)."""
        top = popularity.top(seeds, options.pool_size)
        scores = self.listeners[top] / float(max(self.listeners.max(initial=0), 1))
        # Its "scores" are relative listeners, not similarities: the match floor does not apply.
        return self.rank(top, scores, dataclasses.replace(options, min_score=0.0), seeds, seed_artists=seed_artists)


def knob_tradeoffs(
    dataset: object,
    split: UsersSplit,
    fitted: FittedModel,
    protocol: str,
    k: int,
    seed: int,
    *,
    per_artist_cap: int = 2,
    min_listeners: int = 1,
    max_users: int = DEFAULT_KNOB_USERS,
    deep_beta: float | None = None,
) -> dict:
    """The novelty knob's trade-off, measured on the answers the bot would give.

    For each sampled held-out user the model's pool is made once, exactly as
    ``SoundalikeService`` makes it (``similar_to_each`` for item2item = /soundalike,
    ``score_for_history`` with weights 1 for users = /foryou, ``RankingOptions.pool_size``
    deep), then ranked by ``recommend.rank`` for each setting with the seeds' versions
    excluded and versions merged through the title resolver. Popularity, listener counts
    and version representatives come from the training part only, so nothing about the
    held-out users leaks in. The popularity baseline's top items go through the same
    ``rank`` (balanced, same cap) so its lists obey the same filters. ``deep_beta`` is the
    model's calibrated "deep" (None: ``recommend.NOVELTY_BETA``).
    """
    from recommender.ranking import NOVELTY_LEVELS, RankingOptions

    if protocol not in KNOB_PROTOCOLS:
        raise ConfigError(
            f"--knobs measures the bot's answers: use --protocol item2item (/soundalike) "
            f"or users (/foryou), not {protocol!r}"
        )
    context = RankingContext.build(dataset, split.train, fitted)
    listeners = context.listeners
    similarity = ItemSimilarity(fitted.arrays())
    popularity = PopularityRecommender(listeners)

    def options(level: str, cap: int) -> RankingOptions:
        return RankingOptions(
            count=k, novelty=level, per_artist_cap=cap, min_listeners=min_listeners, deep_beta=deep_beta
        )

    try:
        settings = {(level, per_artist_cap): options(level, per_artist_cap) for level in NOVELTY_LEVELS}
        if per_artist_cap:
            settings.update({(level, 0): options(level, 0) for level in NOVELTY_LEVELS})
        baseline_options = options("balanced", per_artist_cap)
    except ValueError as error:
        raise ConfigError(f"ranking options: {error}") from None
    pool_size = baseline_options.pool_size  # the same for every setting: it depends on count only

    def figures() -> ListFigures:
        return ListFigures(k, listeners, context.training.n_users, similarity, context.resolver.item_group)

    per_setting = {key: figures() for key in settings}
    baseline = figures()
    cases = knob_cases(split, protocol, seed, max_users)
    by_seed = protocol == "item2item"
    for case in cases:
        if by_seed:
            pool, scores = context.served.similar_to_each(case.seeds, pool_size)
        else:
            pool, scores = context.served.score_for_history(
                case.seeds, np.ones(case.seeds.size, dtype=np.float32), pool_size
            )
        for key, setting in settings.items():
            per_setting[key].add(context.rank(pool, scores, setting, case.seeds, seed_artists=by_seed), case.targets)
        baseline.add(context.popular(popularity, baseline_options, case.seeds, seed_artists=by_seed), case.targets)

    report = {
        "knobs": {level: per_setting[(level, per_artist_cap)].result() for level in NOVELTY_LEVELS},
        "knobs_baseline": baseline.result(),
        "knobs_setup": {
            "protocol": protocol,
            "users_evaluated": len(cases),
            "per_artist_cap": per_artist_cap,
            "min_listeners": min_listeners,
            "pool_size": pool_size,
            "items_with_listeners": int(np.count_nonzero(listeners)),
            "deep_beta": settings[("deep", per_artist_cap)].beta,
            "deep_beta_calibrated": deep_beta is not None,
        },
    }
    if per_artist_cap:
        report["knobs_no_artist_cap"] = {level: per_setting[(level, 0)].result() for level in NOVELTY_LEVELS}
    return report


# -- calibrating "deep cuts" -----------------------------------------------------------
# Betas tried for "deep", smallest first.
DEEP_BETA_GRID = (
    0.01,
    0.02,
    0.03,
    0.04,
    0.05,
    0.06,
    0.08,
    0.10,
    0.12,
    0.15,
    0.20,
    0.25,
    0.30,
    0.40,
    0.50,
    0.60,
    0.80,
    1.00,
    1.50,
    2.00,
)
# Deep cuts must keep at least this share of balanced's item2item hit@k ...
DEEP_HIT_FLOOR = 0.5
# ... and show songs with at most this share of balanced's median listeners.
DEEP_LISTENER_TARGET = 0.5
DEFAULT_CALIBRATION_USERS = 500


def choose_deep_beta(balanced: dict, by_beta: dict[float, dict], k: int) -> tuple[float, bool]:
    """(beta, listener target met): the smallest beta that halves balanced's median listeners
    while keeping the hit floor; when none does, the largest that keeps the floor (0.0, i.e.
    deep = balanced, when not even the smallest does)."""
    hit, median = balanced[f"hit_rate@{k}"], balanced["median_listeners"]
    keeps_floor = [
        beta for beta, figures in sorted(by_beta.items()) if figures[f"hit_rate@{k}"] >= DEEP_HIT_FLOOR * hit
    ]
    for beta in keeps_floor:
        if by_beta[beta]["median_listeners"] <= DEEP_LISTENER_TARGET * median:
            return beta, True
    return (keeps_floor[-1] if keeps_floor else 0.0), False


def calibrate_deep(
    dataset: object,
    params: TrainParams,
    *,
    k: int = 10,
    seed: int = 1,
    train_share: float = 0.8,
    per_artist_cap: int = 2,
    min_listeners: int = 1,
    max_users: int = DEFAULT_CALIBRATION_USERS,
    grid: tuple[float, ...] = DEEP_BETA_GRID,
    interactions: sp.spmatrix | None = None,
) -> dict:
    """Choose this data's "deep cuts" betas on a validation split of the training data.

    The users held out by ``evaluate --protocol item2item`` (or ``users``) with the same seed
    (the test users) are never looked at: their split's training part is split again
    (``users_split(train, train_share, seed + 1)``), ``params`` are fitted on what remains,
    and at most ``max_users`` validation users are asked as the bot would be, at balanced and
    at each beta of ``grid``, each answer ranked by ``recommend.rank``:

    - "similar" (/soundalike, /mix): one of their songs as the seed (``similar_to_each``);
    - "for_you" (/foryou): half of their songs folded in (``score_for_history``), whose scores
      spread much wider, so the same beta moves them far less.

    See :func:`choose_deep_beta` for the rule. Returns what the model's manifest keeps as
    "novelty": ``deep_beta`` and ``for_you_deep_beta`` (what serving reads) and each one's
    validation figures. ``interactions`` replaces the dataset's own (a retrain's dataset +
    feedback listeners).
    """
    from recommender.ranking import NOVELTY_BETA, RankingOptions

    counts = sp.csr_matrix(getattr(dataset, "interactions", dataset) if interactions is None else interactions)
    outer = users_split(counts, train_share, seed)
    inner = users_split(outer.train, train_share, seed + 1)
    if not inner.visible:
        raise SoundalikeError("too few listeners to calibrate the novelty knob on a validation split")
    fitted = fit(params, inner.train)
    context = RankingContext.build(dataset, inner.train, fitted)
    try:
        balanced_options = RankingOptions(count=k, per_artist_cap=per_artist_cap, min_listeners=min_listeners)
        settings = {
            beta: RankingOptions(
                count=k, novelty="deep", deep_beta=beta, per_artist_cap=per_artist_cap, min_listeners=min_listeners
            )
            for beta in grid
        }
    except ValueError as error:
        raise ConfigError(f"ranking options: {error}") from None
    pool_size = balanced_options.pool_size

    def calibrate(protocol: str) -> dict:
        def figures() -> ListFigures:  # no similarity: diversity is not what is calibrated
            return ListFigures(k, context.listeners, context.training.n_users, None, context.resolver.item_group)

        by_seed = protocol == "item2item"
        balanced, by_beta = figures(), {beta: figures() for beta in grid}
        cases = knob_cases(inner, protocol, seed + 1, max_users)
        for case in cases:
            if by_seed:
                pool, scores = context.served.similar_to_each(case.seeds, pool_size)
            else:
                pool, scores = context.served.score_for_history(
                    case.seeds, np.ones(case.seeds.size, np.float32), pool_size
                )
            balanced.add(context.rank(pool, scores, balanced_options, case.seeds, seed_artists=by_seed), case.targets)
            for beta, options in settings.items():
                by_beta[beta].add(context.rank(pool, scores, options, case.seeds, seed_artists=by_seed), case.targets)
        balanced_result = balanced.result()
        results = {beta: figures.result() for beta, figures in by_beta.items()}
        chosen, met = choose_deep_beta(balanced_result, results, k)
        hit, median = balanced_result[f"hit_rate@{k}"], balanced_result["median_listeners"]
        return {
            "deep_beta": chosen,
            "listener_target_met": met,
            "validation": {
                "protocol": protocol,
                "k": k,
                "seed": seed,
                "validation_seed": seed + 1,
                "train_share": train_share,
                "users": len(cases),
                "per_artist_cap": per_artist_cap,
                f"balanced_hit_rate@{k}": round(hit, 4),
                "balanced_median_listeners": median,
            },
            "grid": [
                {
                    "beta": beta,
                    "hit_share": round(results[beta][f"hit_rate@{k}"] / hit, 4) if hit else 0.0,
                    "listener_share": round(results[beta]["median_listeners"] / median, 4) if median else 0.0,
                }
                for beta in grid
            ],
        }

    similar, for_you = calibrate("item2item"), calibrate("users")
    return {
        "deep_beta": similar["deep_beta"],
        "for_you_deep_beta": for_you["deep_beta"],
        "popular_beta": NOVELTY_BETA["popular"],
        "rule": (
            f"smallest beta whose median listeners are <= {DEEP_LISTENER_TARGET:g} x balanced's while "
            f"hit@{k} stays >= {DEEP_HIT_FLOOR:g} x balanced's (else the largest keeping that floor)"
        ),
        "similar": similar,
        "for_you": for_you,
    }


# -- mixes -----------------------------------------------------------------------------
MIX_SEEDS = 2
DEFAULT_GENRE_PAIRS = 200


def mix_cases(split: UsersSplit, seed: int, max_users: int | None = None) -> list[KnobCase]:
    """Held-out users with 3 or more songs: two of them (drawn with ``seed``) are the mix's
    seeds, the others what the mix should find."""
    rng = np.random.default_rng(seed)
    cases = []
    for user, visible, hidden in zip(split.users.tolist(), split.visible, split.hidden):
        items = np.concatenate([visible, hidden])
        if items.size <= MIX_SEEDS:
            continue
        chosen = rng.choice(items.size, MIX_SEEDS, replace=False)
        taken = np.zeros(items.size, dtype=bool)
        taken[chosen] = True
        cases.append(KnobCase(user=int(user), seeds=items[chosen], targets=items[~taken]))
    if max_users is not None and len(cases) > max_users:
        keep = np.sort(np.random.default_rng(seed).choice(len(cases), max_users, replace=False))
        cases = [cases[i] for i in keep.tolist()]
    return cases


def genre_pairs(items: pd.DataFrame, listeners: np.ndarray, n_pairs: int, seed: int) -> list[tuple[int, int]]:
    """``n_pairs`` random pairs of songs with listeners whose genres differ (a seeded draw)."""
    if "genre" not in items.columns:
        return []
    genres = items["genre"].fillna("").astype(str).to_numpy()
    playable = np.flatnonzero((listeners > 0) & (genres != ""))
    if np.unique(genres[playable]).size < 2:
        return []
    rng = np.random.default_rng(seed)
    pairs: list[tuple[int, int]] = []
    while len(pairs) < n_pairs:
        first, second = rng.choice(playable, 2, replace=False).tolist()
        if genres[first] != genres[second]:
            pairs.append((first, second))
    return pairs


def mix_report(
    dataset: object,
    split: UsersSplit,
    fitted: FittedModel,
    k: int,
    seed: int,
    *,
    per_artist_cap: int = 2,
    min_listeners: int = 1,
    max_users: int | None = None,
    n_pairs: int = DEFAULT_GENRE_PAIRS,
    deep_beta: float | None = None,
) -> dict:
    """How each way of sharing a mix between its seeds (``recommend.MIX_STRATEGIES``) does.

    - hit rate@k / recall@k: for each held-out user with 3+ songs, two of them are the seeds of
      a mix answered as the bot answers it (``similar_to_each`` + ``recommend.rank``), and any
      of their other songs shown is a hit; the popularity baseline is ranked the same way;
    - genre_representation (catalogs with a genre): over ``n_pairs`` random pairs of songs of
      different genres, the share of k-song mixes in which both seeds' genres appear.
    """
    from recommender.ranking import MIX_STRATEGIES, RankingOptions

    context = RankingContext.build(dataset, split.train, fitted)
    listeners = context.listeners
    similarity = ItemSimilarity(fitted.arrays())
    popularity = PopularityRecommender(listeners)
    try:
        settings = {
            strategy: RankingOptions(
                count=k,
                per_artist_cap=per_artist_cap,
                min_listeners=min_listeners,
                mix_strategy=strategy,
                deep_beta=deep_beta,
            )
            for strategy in MIX_STRATEGIES
        }
    except ValueError as error:
        raise ConfigError(f"ranking options: {error}") from None
    pool_size = settings[MIX_STRATEGIES[0]].pool_size

    def figures() -> ListFigures:
        return ListFigures(k, listeners, context.training.n_users, similarity, context.resolver.item_group)

    per_strategy = {strategy: figures() for strategy in MIX_STRATEGIES}
    baseline = figures()
    cases = mix_cases(split, seed, max_users)
    for case in cases:
        pool, scores = context.served.similar_to_each(case.seeds, pool_size)
        for strategy, options in settings.items():
            per_strategy[strategy].add(context.rank(pool, scores, options, case.seeds), case.targets)
        baseline.add(context.popular(popularity, settings[MIX_STRATEGIES[0]], case.seeds), case.targets)
    results = {strategy: per_strategy[strategy].result() for strategy in MIX_STRATEGIES}
    baseline_result = baseline.result()

    pairs = genre_pairs(context.items, listeners, n_pairs, seed)
    if pairs:
        genres = context.items["genre"].fillna("").astype(str).to_numpy()

        def represented(shown: np.ndarray, pair: tuple[int, int]) -> bool:
            return {genres[pair[0]], genres[pair[1]]} <= set(genres[shown].tolist())

        for strategy, options in settings.items():
            hits = 0
            for pair in pairs:
                seeds = np.array(pair, dtype=np.int64)
                pool, scores = context.served.similar_to_each(seeds, pool_size)
                hits += represented(context.rank(pool, scores, options, seeds), pair)
            results[strategy]["genre_representation"] = hits / len(pairs)
        hits = sum(
            represented(context.popular(popularity, settings[MIX_STRATEGIES[0]], np.array(pair)), pair)
            for pair in pairs
        )
        baseline_result["genre_representation"] = hits / len(pairs)
    return {
        "mix": results,
        "mix_baseline": baseline_result,
        "mix_setup": {
            "users_evaluated": len(cases),
            "seeds": MIX_SEEDS,
            "per_artist_cap": per_artist_cap,
            "min_listeners": min_listeners,
            "pool_size": pool_size,
            "genre_pairs": len(pairs),
        },
    }


# -- the function API ------------------------------------------------------------------
def evaluate(
    dataset: object,
    config_params: TrainParams,
    protocol: str = "holdout",
    k: int = 10,
    seed: int = 1,
    *,
    train_share: float = 0.8,
    extra_train: sp.spmatrix | None = None,
    max_users: int | None = None,
    knobs: bool = False,
    knob_users: int = DEFAULT_KNOB_USERS,
    per_artist_cap: int = 2,
    min_listeners: int = 1,
    deep_beta: float | None = None,
    genre_pairs_count: int = DEFAULT_GENRE_PAIRS,
) -> dict:
    """Fit ``config_params`` on the protocol's training part and score it beside popularity.

    ``dataset`` is a Dataset or a users x items matrix. ``extra_train`` rows (feedback
    listeners) join the model's training part only: they are never scored, and the
    baseline is computed on the dataset's own split, identical for every call with the
    same seed. ``knobs`` (item2item or users) adds the novelty knob's trade-off on the
    same split and fit: see :func:`knob_tradeoffs`. ``deep_beta`` is the calibrated "deep"
    of the model whose configuration is evaluated (None: the constant). ``mix``: see
    :func:`mix_report`.
    """
    if protocol not in PROTOCOLS:
        raise ConfigError(f"protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    if knobs and protocol not in KNOB_PROTOCOLS:
        raise ConfigError(
            f"--knobs measures the bot's answers: use --protocol item2item (/soundalike) "
            f"or users (/foryou), not {protocol!r}"
        )
    if k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")
    counts = sp.csr_matrix(getattr(dataset, "interactions", dataset))
    report: dict = {
        "protocol": protocol,
        "k": k,
        "seed": seed,
        "train_share": train_share,
        "params": config_params.to_dict(),
    }
    if protocol == "holdout":
        train, test = holdout_split(counts, train_share, seed)
        test = sample_test_users(test, DEFAULT_MAX_HOLDOUT_USERS if max_users is None else max_users, seed)
        model_train, model_test = _stack_extra(train, test, extra_train)
        fitted = fit(config_params, model_train)
        report["model"] = holdout_metrics(fitted, model_train, model_test, k)
        report["baseline"] = holdout_metrics(PopularityRecommender.fit(train), train, test, k)
        report["users_evaluated"] = int(np.count_nonzero(np.diff(test.indptr)))
    else:
        split = users_split(
            counts, train_share, seed, max_users=DEFAULT_MAX_HELDOUT_USERS if max_users is None else max_users
        )
        if not split.visible:
            raise SoundalikeError(
                "no held-out user has 2 or more known items; the dataset is too small for this protocol"
            )
        model_train = split.train
        if extra_train is not None and extra_train.shape[0]:
            model_train = sp.vstack([split.train, sp.csr_matrix(extra_train, dtype=split.train.dtype)], format="csr")
        fitted = fit(config_params, model_train)
        served: LoadedModel = fitted.loaded("evaluation")
        popularity = PopularityRecommender.fit(split.train)
        if protocol == "mix":
            report.update(
                mix_report(
                    dataset,
                    split,
                    fitted,
                    k,
                    seed,
                    per_artist_cap=per_artist_cap,
                    min_listeners=min_listeners,
                    n_pairs=genre_pairs_count,
                    deep_beta=deep_beta,
                )
            )
            from recommender.ranking import MIX_STRATEGY

            report["model"] = {name: report["mix"][MIX_STRATEGY][name] for name in (f"hit_rate@{k}", f"recall@{k}")}
            report["baseline"] = {name: report["mix_baseline"][name] for name in (f"hit_rate@{k}", f"recall@{k}")}
            report["users_evaluated"] = report["mix_setup"]["users_evaluated"]
            return report
        if protocol == "users":
            report["model"] = _users_metrics(lambda seen, n: served.score_for_history(seen, None, n)[0], split, k)
            report["baseline"] = _users_metrics(popularity.top, split, k)
        else:
            report["model"] = _item2item_metrics(
                lambda item, n: served.similar_items(np.array([item]), n)[0], split, k, seed
            )
            report["baseline"] = _item2item_metrics(lambda item, n: popularity.top(np.array([item]), n), split, k, seed)
        report["users_evaluated"] = len(split.visible)
        if knobs:
            report.update(
                knob_tradeoffs(
                    dataset,
                    split,
                    fitted,
                    protocol,
                    k,
                    seed,
                    per_artist_cap=per_artist_cap,
                    min_listeners=min_listeners,
                    max_users=knob_users,
                    deep_beta=deep_beta,
                )
            )
    return report


# -- online feedback (the bot's log) ---------------------------------------------------
def online_rates(database_path: Path) -> dict | None:
    """Per-version 👍/👎 rates from the bot's log, or None when there is none to read.

    The reader lives in ``recommender.feedback.offline`` (the bot's side); it is imported
    only here and only when the database file exists, and skipped quietly if absent.
    """
    if not Path(database_path).exists():
        return None
    try:
        module = importlib.import_module("recommender.feedback.offline")
    except ImportError:
        return None
    reader = getattr(module, "online_rates", None)
    if reader is None:
        return None
    try:
        return reader(database_path)
    except SoundalikeError as error:
        log.warning("online feedback not shown: %s", error)
        return None


# -- the command -----------------------------------------------------------------------
def _model_params(config, args) -> tuple[TrainParams, str]:
    """The configuration to evaluate: --model V, else current, else [training]; then overrides."""
    from .store import ModelStore
    from .training import params_from_args

    store = ModelStore.for_dataset(config.models_dir, args.dataset or config.data.default_dataset)
    version = args.model or store.current_version()
    overrides = {
        name: getattr(args, name)
        for name in (
            "algorithm",
            "weighting",
            "factors",
            "iterations",
            "regularization",
            "alpha",
            "learning_rate",
            "neighbours",
        )
        if getattr(args, name, None) is not None
    }
    if version is None:
        return params_from_args(config, args), "the [training] configuration (no model published yet)"
    manifest = store.read_manifest(version)
    params = TrainParams.from_dict(manifest.get("parameters", {})).replace(**overrides)
    label = f"model {version}'s configuration" + (" with overrides" if overrides else "")
    return params, label


def _calibrated_deep_beta(config, args, key: str = "deep_beta") -> float | None:
    """The "deep" beta calibrated for the evaluated model (--model V, else current), when its
    configuration is evaluated as published (no overrides); else None (the constant). ``key``:
    "deep_beta" (/soundalike, /mix) or "for_you_deep_beta" (/foryou)."""
    from .service import calibrated_deep_beta
    from .store import ModelStore

    if any(
        getattr(args, name, None) is not None
        for name in (
            "algorithm",
            "weighting",
            "factors",
            "iterations",
            "regularization",
            "alpha",
            "learning_rate",
            "neighbours",
        )
    ):
        return None
    store = ModelStore.for_dataset(config.models_dir, args.dataset or config.data.default_dataset)
    version = args.model or store.current_version()
    return None if version is None else calibrated_deep_beta(store.read_manifest(version), key)


def _print_report(report: dict, label: str, online: dict | None) -> None:
    protocol, k = report["protocol"], report["k"]
    share = int(round(report["train_share"] * 100))
    how = {
        "holdout": f"{share}% of interactions to train, the rest to test",
        "users": f"{100 - share}% of users held out (at most {DEFAULT_MAX_HELDOUT_USERS}), half of each history folded in",
        "item2item": f"{100 - share}% of users held out, one song of each as the seed",
        "mix": f"{100 - share}% of users held out, two songs of each as a mix's seeds",
    }[protocol]
    print(f"Protocol {protocol} ({how}; seed {report['seed']}), k={k}, {report['users_evaluated']:,} users scored")
    print(f"Evaluating {label}: {TrainParams.from_dict(report['params']).describe()}")
    print("(re-fitted on the training part; the published model itself saw all the data)")
    print(f"{'metric':<14} {'model':>8} {'popularity':>11}")
    for name, value in report["model"].items():
        print(f"{name:<14} {value:>8.4f} {report['baseline'][name]:>11.4f}")
    if "knobs" in report:
        _print_knobs(report)
    if "mix" in report:
        _print_mix(report)
    if online:
        print("Online (bot feedback):")
        for version, stats in sorted(online.items()):
            print(
                f"  {version:<8} answers {stats.get('answers', 0):>6}  up {stats.get('up', 0):>5}  "
                f"down {stats.get('down', 0):>5}  up-rate {float(stats.get('up_rate', 0.0)):.3f}"
            )


def _print_knobs(report: dict) -> None:
    setup, k = report["knobs_setup"], report["k"]
    asked = {"item2item": "one seed song (/soundalike)", "users": "half of each history folded in (/foryou)"}
    cap = f"at most {setup['per_artist_cap']} per artist" if setup["per_artist_cap"] else "no artist cap"
    print(
        f"Novelty knob: answers as the bot ranks them ({asked[setup['protocol']]}; pool {setup['pool_size']}, "
        f"{cap}, min {setup['min_listeners']} listener(s)), {setup['users_evaluated']:,} sampled held-out users"
    )
    print(
        f"coverage = distinct songs shown / {setup['items_with_listeners']:,} songs with listeners; "
        "novelty = mean -log2(listeners/users) in bits; diversity = mean pairwise (1 - similarity)"
    )
    if "deep_beta" in setup:
        how = "calibrated for this model" if setup.get("deep_beta_calibrated") else "the default; model not calibrated"
        print(f"deep cuts: beta {setup['deep_beta']:g} ({how})")
    columns = [f"hit_rate@{k}", f"recall@{k}", "coverage", "novelty", "diversity", "mean_listeners", "median_listeners"]
    print(f"{'setting':<24}" + "".join(f"{name:>17}" for name in columns))
    rows = [(level, figures) for level, figures in report["knobs"].items()]
    rows += [(f"{level}, no artist cap", figures) for level, figures in report.get("knobs_no_artist_cap", {}).items()]
    rows.append(("popularity baseline", report["knobs_baseline"]))
    for name, figures in rows:
        print(
            f"{name:<24}"
            + "".join(
                f"{figures[column]:>17.1f}" if column.endswith("_listeners") else f"{figures[column]:>17.4f}"
                for column in columns
            )
        )


def _print_mix(report: dict) -> None:
    from recommender.ranking import MIX_STRATEGY

    setup, k = report["mix_setup"], report["k"]
    cap = f"at most {setup['per_artist_cap']} per artist" if setup["per_artist_cap"] else "no artist cap"
    print(
        f"Mixes of {setup['seeds']} songs of a held-out user, as the bot ranks them (pool {setup['pool_size']} "
        f"per seed, {cap}), {setup['users_evaluated']:,} users; served: {MIX_STRATEGY}"
    )
    columns = [f"hit_rate@{k}", f"recall@{k}", "coverage", "mean_listeners"]
    if setup["genre_pairs"]:
        columns.append("genre_representation")
        print(
            f"genre_representation = share of {setup['genre_pairs']} mixes of two random songs of different "
            f"genres whose {k} suggestions show both genres"
        )
    print(f"{'strategy':<24}" + "".join(f"{name:>22}" for name in columns))
    rows = list(report["mix"].items()) + [("popularity baseline", report["mix_baseline"])]
    for name, figures in rows:
        print(
            f"{name:<24}"
            + "".join(
                f"{figures[column]:>22.1f}" if column == "mean_listeners" else f"{figures[column]:>22.4f}"
                for column in columns
            )
        )


def evaluate_command(args: argparse.Namespace) -> int:
    from .dataset import Dataset

    config = args.config_obj
    name = args.dataset or config.data.default_dataset
    dataset = Dataset.open(config.datasets_dir, name)
    params, label = _model_params(config, args)
    protocol = args.protocol or config.evaluation.protocol
    k = args.k or config.evaluation.k
    seed = config.evaluation.random_state if args.seed is None else args.seed
    report = evaluate(
        dataset,
        params,
        protocol,
        k,
        seed,
        train_share=config.evaluation.train_share,
        max_users=args.max_users,
        knobs=args.knobs,
        knob_users=args.knob_users,
        per_artist_cap=config.serving.per_artist_cap,
        min_listeners=config.serving.min_listeners,
        deep_beta=_calibrated_deep_beta(config, args, "for_you_deep_beta" if protocol == "users" else "deep_beta"),
        genre_pairs_count=args.genre_pairs,
    )
    report["dataset"] = name
    report["evaluated"] = label
    online = online_rates(config.database_path)
    if online is not None:
        report["online"] = online
    if args.json:
        print(json.dumps(report, sort_keys=False))
    else:
        _print_report(report, label, online)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="offline figures of a model's configuration beside the popularity baseline",
        description="Score a model's configuration and the most-listened baseline on the same split. "
        "The stored model was trained on all the data, so its configuration is RE-FITTED on the "
        "split's training part before scoring (the figures describe the configuration). "
        "holdout: implicit's train_test_split + precision/map/ndcg@k; users: held-out users with half "
        "of each history folded in (mAP@500, Recall@20/50, NDCG@100); item2item: one song of a "
        "held-out user as the seed, hit rate and recall of their other songs in the top k; mix: two songs "
        "of a held-out user as a mix's seeds, for each way of sharing a mix between its seeds, and (catalogs "
        "with a genre) how often a mix of two genres shows both.",
    )
    parser.add_argument("--dataset", help="dataset name (default: [data] default_dataset)")
    parser.add_argument("--model", help="model version whose configuration to evaluate (default: current)")
    parser.add_argument("--protocol", choices=PROTOCOLS, help="default: [evaluation] protocol")
    parser.add_argument("--k", type=int, help="cut-off (default: [evaluation] k)")
    parser.add_argument("--seed", type=int, help="split seed (default: [evaluation] random_state)")
    parser.add_argument(
        "--max-users",
        type=int,
        help=f"most held-out users scored (default {DEFAULT_MAX_HOLDOUT_USERS:,} for holdout, "
        f"{DEFAULT_MAX_HELDOUT_USERS:,} for users/item2item)",
    )
    parser.add_argument(
        "--knobs",
        action="store_true",
        help="item2item/users only: also rank each held-out user's answer as the bot does for "
        "each novelty setting (popular, balanced, deep; [serving] artist cap and none) and report "
        "coverage, novelty, diversity and mean listeners beside hit rate and recall",
    )
    parser.add_argument(
        "--knob-users",
        type=int,
        default=DEFAULT_KNOB_USERS,
        help=f"held-out users sampled for --knobs (default {DEFAULT_KNOB_USERS})",
    )
    parser.add_argument(
        "--genre-pairs",
        type=int,
        default=DEFAULT_GENRE_PAIRS,
        help=f"mix only: random pairs of songs of different genres (default {DEFAULT_GENRE_PAIRS})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_param_arguments(parser)
    parser.set_defaults(func=evaluate_command)
