"""``evaluate``: a configuration's figures beside the popularity baseline, on one split.

- ``holdout``: implicit's split of the interactions; the configuration is re-fitted on the
  training part and scored by implicit's own ``ranking_metrics_at_k``;
- ``users``: held-out users, the visible half of each history folded in without retraining
  (``LoadedModel.score_for_history``), the hidden half to find;
- ``item2item``: what /soundalike does: one song of each held-out user (``seed_choice``) is the
  seed of an answer ranked as the bot ranks it; hit rate and recall of their other songs, the
  same outside the most listened (``_longtail``), coverage and novelty
  (:mod:`recommender.evaluation.item2item`);
- ``mix``: /mix: two songs of each held-out user with 3+ songs are the seeds of a mix answered
  through the bot's ranking, for each way of sharing a mix between its seeds
  (``ranking.MIX_STRATEGIES``); on a catalog with genres, also how often a mix of two songs of
  different genres shows both genres.

``knobs`` (item2item or users) adds the novelty knob's trade-off on the same split and fit
(:mod:`recommender.evaluation.knobs`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recommender.config import TrainParams
from recommender.dataset import Dataset
from recommender.errors import ConfigError, SoundalikeError
from recommender.ranking import MIX_STRATEGIES, MIX_STRATEGY, PLAIN_DEFAULT, DefaultRanking, RankingOptions
from recommender.training import FittedModel, fit

from .baseline import PopularityRecommender
from .item2item import BaselineFigures, item2item_report
from .knobs import DEFAULT_KNOB_USERS, check_knob_protocol, knob_tradeoffs
from .metrics import DEFAULT_HEAD, ItemSimilarity, ListFigures, head_items, holdout_metrics, users_metrics
from .ranking_context import RankingContext, ranking_options
from .splits import (
    DEFAULT_MAX_HELDOUT_USERS,
    DEFAULT_MAX_HOLDOUT_USERS,
    DEFAULT_SEED_CHOICE,
    MIX_SEEDS,
    SEED_CHOICES,
    UsersSplit,
    holdout_split,
    interactions_of,
    mix_cases,
    sample_test_users,
    stack_extra,
    users_split,
)

PROTOCOLS = ("holdout", "users", "item2item", "mix")
DEFAULT_GENRE_PAIRS = 200


def evaluate(
    dataset: Dataset | sp.spmatrix,
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
    seed_choice: str = DEFAULT_SEED_CHOICE,
    head: int = DEFAULT_HEAD,
    defaults: dict[str, DefaultRanking] | None = None,
) -> dict:
    """Fit ``config_params`` on the protocol's training part and score it beside popularity.

    ``dataset`` is a Dataset or a users x items matrix. ``extra_train`` rows (feedback
    listeners) join the model's training part only: they are never scored, and the
    baseline is computed on the dataset's own split, identical for every call with the
    same seed. ``knobs`` (item2item or users) adds the novelty knob's trade-off on the
    same split and fit: see :func:`knob_tradeoffs`. ``deep_beta`` is the calibrated "deep"
    of the model whose configuration is evaluated (None: the constant), ``defaults`` its
    default rankings by command ("similar", "mix", "for_you"; missing: the model's own order).
    ``item2item``: see :func:`item2item_report` (``seed_choice``, ``head``); ``mix``: see
    :func:`mix_report`.
    """
    _check_request(protocol, k, knobs)
    if seed_choice not in SEED_CHOICES:
        raise ConfigError(f"seed choice {seed_choice!r} is not one of {', '.join(SEED_CHOICES)}")
    if head < 0:
        raise ConfigError(f"the head must be 0 or more songs, got {head}")
    defaults = defaults or {}
    counts = interactions_of(dataset)
    report: dict = {
        "protocol": protocol,
        "k": k,
        "seed": seed,
        "train_share": train_share,
        "params": config_params.to_dict(),
    }
    if protocol == "holdout":
        max_holdout = DEFAULT_MAX_HOLDOUT_USERS if max_users is None else max_users
        report.update(_holdout(counts, config_params, k, seed, train_share, extra_train, max_holdout))
        return report
    split = users_split(
        counts, train_share, seed, max_users=DEFAULT_MAX_HELDOUT_USERS if max_users is None else max_users
    )
    if not split.visible:
        raise SoundalikeError("no held-out user has 2 or more known items; the dataset is too small for this protocol")
    fitted = fit(config_params, _with_extra_rows(split.train, extra_train))
    if protocol == "mix":
        mix = mix_report(
            dataset,
            split,
            fitted,
            k,
            seed,
            per_artist_cap=per_artist_cap,
            min_listeners=min_listeners,
            n_pairs=genre_pairs_count,
            deep_beta=deep_beta,
            default=defaults.get("mix", PLAIN_DEFAULT),
            head=head,
        )
        report.update(mix)
        served = (f"hit_rate@{k}", f"recall@{k}")
        report["model"] = {name: mix["mix"][MIX_STRATEGY][name] for name in served}
        report["baseline"] = {name: mix["mix_baseline"][name] for name in served}
        report["users_evaluated"] = mix["mix_setup"]["users_evaluated"]
        return report
    if protocol == "item2item":
        report.update(
            item2item_report(
                dataset,
                split,
                counts,
                fitted,
                k,
                seed,
                seed_choice=seed_choice,
                head=head,
                per_artist_cap=per_artist_cap,
                min_listeners=min_listeners,
                deep_beta=deep_beta,
                default=defaults.get("similar", PLAIN_DEFAULT),
            )
        )
    else:
        report.update(_held_out_users(split, fitted, protocol, k, seed))
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
                default=defaults.get("similar" if protocol == "item2item" else "for_you", PLAIN_DEFAULT),
                head=head,
                counts=counts,
                seed_choice=seed_choice,
            )
        )
    return report


def _check_request(protocol: str, k: int, knobs: bool) -> None:
    if protocol not in PROTOCOLS:
        raise ConfigError(f"protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    if knobs:
        check_knob_protocol(protocol)
    if k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")


def _with_extra_rows(train: sp.csr_matrix, extra: sp.spmatrix | None) -> sp.csr_matrix:
    if extra is None or not extra.shape[0]:
        return train
    return sp.vstack([train, sp.csr_matrix(extra, dtype=train.dtype)], format="csr")


def _holdout(
    counts: sp.csr_matrix,
    params: TrainParams,
    k: int,
    seed: int,
    train_share: float,
    extra_train: sp.spmatrix | None,
    max_users: int,
) -> dict:
    """The model and the baseline on implicit's split; feedback rows join the model's training part only."""
    train, test = holdout_split(counts, train_share, seed)
    test = sample_test_users(test, max_users, seed)
    model_train, model_test = stack_extra(train, test, extra_train)
    fitted = fit(params, model_train)
    return {
        "model": holdout_metrics(fitted, model_train, model_test, k),
        "baseline": holdout_metrics(PopularityRecommender.fit(train), train, test, k),
        "users_evaluated": int(np.count_nonzero(np.diff(test.indptr))),
    }


def _held_out_users(split: UsersSplit, fitted: FittedModel, protocol: str, k: int, seed: int) -> dict:
    """The users (/foryou fold-in) figures, beside popularity."""
    served = fitted.loaded("evaluation")
    popularity = PopularityRecommender.fit(split.train)
    model = users_metrics(lambda seen, n: served.score_for_history(seen, None, n)[0], split, k)
    baseline = users_metrics(popularity.top, split, k)
    return {"model": model, "baseline": baseline, "users_evaluated": len(split.visible)}


# -- mixes -----------------------------------------------------------------------------
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
    dataset: Dataset | sp.spmatrix,
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
    default: DefaultRanking = PLAIN_DEFAULT,
    head: int = DEFAULT_HEAD,
) -> dict:
    """How each way of sharing a mix between its seeds (``ranking.MIX_STRATEGIES``) does.

    - hit rate@k / recall@k: for each held-out user with 3+ songs, two of them are the seeds of
      a mix answered as the bot answers it (``similar_to_each`` + ``ranking.rank_for_seeds``),
      and any of their other songs shown is a hit; the popularity baseline is ranked the same way;
    - genre_representation (catalogs with a genre): over ``n_pairs`` random pairs of songs of
      different genres, the share of k-song mixes in which both seeds' genres appear.

    Each strategy ranks with ``default`` (the model's "balanced" for mixes); long-tail figures
    count hits outside the ``head`` most listened songs (the baseline's: its long-tail list's).
    """
    context = RankingContext.build(dataset, split.train, fitted)
    settings = {
        strategy: ranking_options(
            count=k,
            per_artist_cap=per_artist_cap,
            min_listeners=min_listeners,
            mix_strategy=strategy,
            deep_beta=deep_beta,
            default=default,
        )
        for strategy in MIX_STRATEGIES
    }
    baseline_options = settings[MIX_STRATEGIES[0]]
    popularity = PopularityRecommender(context.listeners)
    similarity = ItemSimilarity(fitted.arrays())
    head_mask = head_items(context.listeners, head)

    def figures() -> ListFigures:
        return ListFigures(k, context.listeners, context.training.n_users, similarity, context.item_group, head_mask)

    per_strategy = {strategy: figures() for strategy in MIX_STRATEGIES}
    baseline = BaselineFigures(context, head_mask, figures(), figures())
    cases = mix_cases(split, seed, max_users)
    for case in cases:
        pool, scores = context.pool(case.seeds, baseline_options.pool_size)
        for strategy, options in settings.items():
            per_strategy[strategy].add(context.rank(pool, scores, options, case.seeds), case.targets)
        baseline.add(case, baseline_options)
    results = {strategy: per_strategy[strategy].result() for strategy in MIX_STRATEGIES}
    baseline_result, _ = baseline.result()

    pairs = genre_pairs(context.items, context.listeners, n_pairs, seed)
    if pairs:
        for strategy, options in settings.items():
            results[strategy]["genre_representation"] = _genre_representation(context, pairs, options)
        baseline_result["genre_representation"] = _genre_representation(
            context, pairs, dataclasses.replace(baseline_options, default=PLAIN_DEFAULT), popularity=popularity
        )
    return {
        "mix": results,
        "mix_baseline": baseline_result,
        "mix_setup": {
            "users_evaluated": len(cases),
            "seeds": MIX_SEEDS,
            "per_artist_cap": per_artist_cap,
            "min_listeners": min_listeners,
            "pool_size": baseline_options.pool_size,
            "genre_pairs": len(pairs),
            "default": default.to_dict(),
            "default_described": default.describe(),
            "head": head,
        },
    }


def _genre_representation(
    context: RankingContext,
    pairs: list[tuple[int, int]],
    options: RankingOptions,
    *,
    popularity: PopularityRecommender | None = None,
) -> float:
    """The share of mixes of two songs of different genres whose list shows both genres (the
    model's, or with ``popularity`` the baseline's)."""
    genres = context.items["genre"].fillna("").astype(str).to_numpy()
    hits = 0
    for pair in pairs:
        seeds = np.array(pair, dtype=np.int64)
        if popularity is None:
            pool, scores = context.pool(seeds, options.pool_size)
            shown = context.rank(pool, scores, options, seeds)
        else:
            shown = context.popular(popularity, options, seeds)
        hits += {genres[pair[0]], genres[pair[1]]} <= set(genres[shown].tolist())
    return hits / len(pairs)
