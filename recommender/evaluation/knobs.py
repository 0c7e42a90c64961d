"""``evaluate --knobs``: the novelty knob's trade-off, measured on the answers the bot would give.

On the same split and fit as the protocol's own figures, a seeded sample of held-out users is
answered through the bot's own ranking (popular / balanced / deep, the artist cap and none,
version merging: :class:`RankingContext`), and each setting reports coverage, novelty
(self-information), intra-list diversity and listeners beside hit rate and recall, with the
popularity baseline ranked the same way.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommender.dataset import Dataset
from recommender.errors import ConfigError
from recommender.ranking import NOVELTY_BETA, NOVELTY_LEVELS, PLAIN_DEFAULT, DefaultRanking, RankingOptions
from recommender.training import FittedModel

from .item2item import BaselineFigures
from .metrics import DEFAULT_HEAD, ItemSimilarity, ListFigures, head_items
from .ranking_context import RankingContext, ranking_options
from .splits import DEFAULT_SEED_CHOICE, HeldOutCase, UsersSplit, held_out_cases, item2item_cases

KNOB_PROTOCOLS = ("item2item", "users")
DEFAULT_KNOB_USERS = 500
# (novelty level, artist cap) -> how that setting ranks
Settings = dict[tuple[str, int], RankingOptions]


def check_knob_protocol(protocol: str) -> None:
    """The knob is measured on the bot's answers: about one song (/soundalike) or a history (/foryou)."""
    if protocol not in KNOB_PROTOCOLS:
        raise ConfigError(
            f"--knobs measures the bot's answers: use --protocol item2item (/soundalike) "
            f"or users (/foryou), not {protocol!r}"
        )


def knob_settings(
    k: int, per_artist_cap: int, min_listeners: int, deep_beta: float | None, default: DefaultRanking = PLAIN_DEFAULT
) -> Settings:
    """Every novelty level at the artist cap, then (when there is a cap) every level without one;
    each level moved from ``default`` (the model's "balanced")."""
    caps = (per_artist_cap, 0) if per_artist_cap else (per_artist_cap,)
    return {
        (level, cap): ranking_options(
            count=k,
            novelty=level,
            per_artist_cap=cap,
            min_listeners=min_listeners,
            deep_beta=deep_beta,
            default=default,
        )
        for cap in caps
        for level in NOVELTY_LEVELS
    }


def knob_tradeoffs(
    dataset: Dataset | sp.spmatrix,
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
    default: DefaultRanking = PLAIN_DEFAULT,
    head: int = DEFAULT_HEAD,
    counts: sp.spmatrix | None = None,
    seed_choice: str = DEFAULT_SEED_CHOICE,
) -> dict:
    """The novelty knob's trade-off on at most ``max_users`` held-out users of ``split``.

    Each user's pool is made once (``RankingOptions.pool_size`` deep) and ranked for every
    setting with the seeds' versions excluded and versions merged; the popularity baseline's
    top items go through the same ranking (balanced, same cap) so its lists obey the same
    filters; its long-tail figures are those of the most listened songs outside the ``head``.
    ``deep_beta`` is the model's calibrated "deep" (None: ``ranking.NOVELTY_BETA``), ``default``
    its "balanced". Item2item cases take their seed by ``seed_choice`` when ``counts`` (the
    matrix the split was made from) is given, else one drawn at random.
    """
    check_knob_protocol(protocol)
    context = RankingContext.build(dataset, split.train, fitted)
    settings = knob_settings(k, per_artist_cap, min_listeners, deep_beta, default)
    baseline_options = settings[("balanced", per_artist_cap)]
    similarity = ItemSimilarity(fitted.arrays())
    if protocol == "item2item" and counts is not None:
        cases = item2item_cases(split, counts, seed_choice, seed, max_users)
    else:
        cases = held_out_cases(split, protocol, seed, max_users)
    head_mask = head_items(context.listeners, head)
    per_setting, baseline = _answer_cases(
        context, cases, settings, baseline_options, similarity, k, protocol, head_mask
    )
    baseline_row, baseline_longtail = baseline.result()
    report = {
        "knobs": {level: per_setting[(level, per_artist_cap)].result() for level in NOVELTY_LEVELS},
        "knobs_baseline": baseline_row,
        "knobs_baseline_longtail": baseline_longtail,
        "knobs_setup": {
            "protocol": protocol,
            "users_evaluated": len(cases),
            "per_artist_cap": per_artist_cap,
            "min_listeners": min_listeners,
            "pool_size": baseline_options.pool_size,  # the same for every setting: it depends on count only
            "items_with_listeners": int(np.count_nonzero(context.listeners)),
            # deep cuts' beta from balanced (the calibrated one, else the constant), and the
            # exponent it ranks with once the default's own is taken off
            "deep_beta": NOVELTY_BETA["deep"] if deep_beta is None else deep_beta,
            "deep_effective_beta": settings[("deep", per_artist_cap)].beta,
            "deep_beta_calibrated": deep_beta is not None,
            "default": default.to_dict(),
            "default_described": default.describe(),
            "head": head,
            "cases": len(cases),
            **({"seed_choice": seed_choice} if protocol == "item2item" and counts is not None else {}),
        },
    }
    if per_artist_cap:
        report["knobs_no_artist_cap"] = {level: per_setting[(level, 0)].result() for level in NOVELTY_LEVELS}
    return report


def _answer_cases(
    context: RankingContext,
    cases: list[HeldOutCase],
    settings: Settings,
    baseline_options: RankingOptions,
    similarity: ItemSimilarity,
    k: int,
    protocol: str,
    head: np.ndarray,
) -> tuple[dict[tuple[str, int], ListFigures], BaselineFigures]:
    """Each case's model pool ranked for every setting, and the baseline's lists: their figures."""

    def figures() -> ListFigures:
        return ListFigures(k, context.listeners, context.training.n_users, similarity, context.item_group, head)

    per_setting = {key: figures() for key in settings}
    baseline = BaselineFigures(context, head, figures(), figures())
    about_songs = protocol == "item2item"  # else a member's history (/foryou): its artists are welcome
    for case in cases:
        pool, scores = context.pool(case.seeds, baseline_options.pool_size, fold_in=not about_songs)
        for key, options in settings.items():
            shown = context.rank(pool, scores, options, case.seeds, seed_artists=about_songs)
            per_setting[key].add(shown, case.targets, case.weight)
        baseline.add(case, baseline_options, seed_artists=about_songs)
    return per_setting, baseline
