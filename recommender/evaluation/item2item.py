"""``evaluate --protocol item2item``: /soundalike's answers about one song of a held-out listener.

Each case is one song of a held-out listener as the seed (``--seed-choice``: the one they
played most, one drawn at random, or every one in turn, each listener counting once), answered as the bot answers it
(``similar_to_each`` + ``ranking.rank_for_seeds`` with the model's default ranking, the artist
cap, version merging); their other songs are the targets. Figures (:class:`ListFigures`):
hit rate@k and recall@k, the same counting only hits outside the ``head`` most listened songs
of the training part (``_longtail``), coverage, novelty, diversity and listeners.

Three lists per case:

- "model": the default ranking (what "balanced" means for this model, chosen at train time);
- "plain": the model's own order (the default before it was chosen);
- "baseline": the most listened songs, through the same ranking; its long-tail figures are
  those of the most listened songs *outside* the head (a popularity list never hits the long
  tail otherwise), kept whole as "baseline_longtail".
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from recommender.dataset import Dataset
from recommender.ranking import PLAIN_DEFAULT, DefaultRanking, RankingOptions
from recommender.training import FittedModel

from .baseline import PopularityRecommender
from .metrics import DEFAULT_HEAD, ItemSimilarity, ListFigures, head_items
from .ranking_context import RankingContext, ranking_options
from .splits import DEFAULT_SEED_CHOICE, HeldOutCase, UsersSplit, item2item_cases


class BaselineFigures:
    """The popularity baseline over a set of cases: the most listened songs, and for the
    long-tail figures the most listened songs outside the head, both through the bot's ranking."""

    def __init__(self, context: RankingContext, head: np.ndarray, make: ListFigures, longtail: ListFigures):
        self.context = context
        self.popularity = PopularityRecommender(context.listeners)
        self.longtail_popularity = self.popularity.outside(head)
        self.figures, self.longtail = make, longtail

    def add(self, case: HeldOutCase, options: RankingOptions, *, seed_artists: bool = True) -> None:
        plain = dataclasses.replace(options, default=PLAIN_DEFAULT)
        context = self.context
        shown = context.popular(self.popularity, plain, case.seeds, seed_artists=seed_artists)
        self.figures.add(shown, case.targets, case.weight, listener=case.user)
        shown = context.popular(self.longtail_popularity, plain, case.seeds, seed_artists=seed_artists)
        self.longtail.add(shown, case.targets, case.weight, listener=case.user)

    def result(self) -> tuple[dict, dict]:
        """(the baseline's row, long-tail figures from the long-tail list; that list's own row)."""
        row, longtail = self.figures.result(), self.longtail.result()
        k = self.figures.k
        for name in (f"hit_rate@{k}_longtail", f"recall@{k}_longtail"):
            row[name] = longtail[name]
        return row, longtail


def item2item_report(
    dataset: Dataset | sp.spmatrix,
    split: UsersSplit,
    counts: sp.spmatrix,
    fitted: FittedModel,
    k: int,
    seed: int,
    *,
    seed_choice: str = DEFAULT_SEED_CHOICE,
    head: int = DEFAULT_HEAD,
    per_artist_cap: int = 2,
    min_listeners: int = 1,
    deep_beta: float | None = None,
    default: DefaultRanking = PLAIN_DEFAULT,
) -> dict:
    """The item2item figures of the default ranking, the plain order and popularity, on the
    same cases (``counts``: the matrix ``split`` was made from, for the most played song)."""
    context = RankingContext.build(dataset, split.train, fitted)
    head_mask = head_items(context.listeners, head)
    similarity = ItemSimilarity(fitted.arrays())

    def figures() -> ListFigures:
        return ListFigures(k, context.listeners, context.training.n_users, similarity, context.item_group, head_mask)

    options = ranking_options(
        count=k, per_artist_cap=per_artist_cap, min_listeners=min_listeners, deep_beta=deep_beta, default=default
    )
    plain_options = dataclasses.replace(options, default=PLAIN_DEFAULT)
    model, plain = figures(), figures()
    baseline = BaselineFigures(context, head_mask, figures(), figures())
    cases = item2item_cases(split, counts, seed_choice, seed)
    for case in cases:
        pool, scores = context.pool(case.seeds, options.pool_size)
        model.add(context.rank(pool, scores, options, case.seeds), case.targets, case.weight)
        plain.add(context.rank(pool, scores, plain_options, case.seeds), case.targets, case.weight)
        baseline.add(case, options)
    baseline_row, longtail_row = baseline.result()
    return {
        "model": model.result(),
        "plain": plain.result(),
        "baseline": baseline_row,
        "baseline_longtail": longtail_row,
        "users_evaluated": len(split.visible),
        "item2item_setup": {
            "seed_choice": seed_choice,
            "cases": len(cases),
            "head": head,
            "default": default.to_dict(),
            "default_described": default.describe(),
            "per_artist_cap": per_artist_cap,
            "min_listeners": min_listeners,
            "pool_size": options.pool_size,
            "items_with_listeners": int(np.count_nonzero(context.listeners)),
        },
    }
