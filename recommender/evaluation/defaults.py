"""Each command's default ranking (what "balanced" means), chosen on validation listeners.

The model's raw order is not the best answer to show by default: on Last.fm 2k, multiplying
``similar_items``' scores by a little popularity finds more of a listener's other artists, in
the long tail too. So at train time (``calibration.calibrate_deep``, with the "deep cuts"
calibration, on the same validation split and fit) every setting of a small family
(:data:`FAMILY`: score x popularity^e, a shrinkage of scores by the song's listeners, a
listener floor; :class:`recommender.ranking.DefaultRanking`) answers validation listeners as
the bot would, for each command by the measure that matches what it does:

- "similar" (/soundalike): one song of theirs as the seed, the one they played most, and every
  one in turn (at most :data:`ALL_SEEDS_PER_LISTENER` of them, drawn at random; each listener
  counts once), the two ways the test figures ask;
- "mix" (/mix): two songs of theirs as a mix's seeds (the protocol of ``evaluate --protocol mix``);
- "for_you" (/foryou): half of their songs folded in (the ``users`` protocol).

The popularity baseline is asked the same way, as ``evaluate`` asks it (its long-tail figures
from the most listened songs outside the head). :func:`choose_setting` keeps, among the
settings showing at least :data:`COVERAGE_FACTOR` times the distinct songs popularity shows to
the same listeners, the best mean of hit rate@k and long-tail hit rate@k (over the ways asked),
preferring the settings that beat popularity on both figures in every way the command was
asked, by more than the validation sample's noise: the lower bound of the per-listener gain
(``metrics.paired_gain``, one-sided 95%) is above 0. A default that loses to "most listened",
or beats it only within the noise of a few hundred listeners, is not worth its name. The plain
order wins ties, and is kept when no setting covers enough. The test listeners are never
looked at.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommender.ranking import PLAIN_DEFAULT, DefaultRanking, RankingOptions

from .item2item import BaselineFigures
from .metrics import DEFAULT_HEAD, GAIN_CONFIDENCE_Z, ListFigures, head_items, paired_gain
from .ranking_context import RankingContext, ranking_options
from .splits import HeldOutCase, UsersSplit, held_out_cases, item2item_cases, mix_cases

POPULARITY_EXPONENTS = (0.0, 0.1, 0.25, 0.5, 1.0)
SHRINKAGES = (0.0, 10.0)
LISTENER_FLOORS = (1, 5)
# The family tried, the plain order first (so it wins ties).
FAMILY = tuple(
    DefaultRanking(exponent, shrinkage, floor)
    for exponent in POPULARITY_EXPONENTS
    for shrinkage in SHRINKAGES
    for floor in LISTENER_FLOORS
)
# A default must show at least this many times the distinct songs popularity shows.
COVERAGE_FACTOR = 10.0
# Validation listeners asked per command: with a few hundred, a gain over popularity of a
# couple of points is within the noise (one standard error of a hit rate near 0.8 is about
# 0.028 at 200 listeners, 0.013 at 1,000).
DEFAULT_CHOICE_USERS = 1000
# command -> how its validation listeners are asked
COMMANDS = {"similar": "item2item", "mix": "mix", "for_you": "users"}
SIMILAR_SEED_CHOICES = ("most-played", "all")
# "all" seeds at validation: a listener's songs, at most this many drawn at random (the
# demo's listeners have 27 on average; every one would cost a case each for every setting).
ALL_SEEDS_PER_LISTENER = 4


def objective(figures: list[dict], k: int) -> float:
    """The mean over seed choices of (hit rate@k + long-tail hit rate@k) / 2."""
    return float(np.mean([(f[f"hit_rate@{k}"] + f[f"hit_rate@{k}_longtail"]) / 2 for f in figures]))


def choose_setting(
    results: dict[DefaultRanking, list[dict]], baseline: list[dict], k: int
) -> tuple[DefaultRanking, bool]:
    """(setting, whether one met the coverage rule): among the settings whose coverage is at
    least ``COVERAGE_FACTOR`` x the baseline's on every way asked, the best :func:`objective`
    of those that :func:`beats_baseline`, or of all of them when none does (the first of
    equals, in ``results``' order); the plain order when no setting covers enough."""
    covering = {
        setting: figures
        for setting, figures in results.items()
        if all(f["coverage"] >= COVERAGE_FACTOR * b["coverage"] for f, b in zip(figures, baseline))
    }
    if not covering:
        return PLAIN_DEFAULT, False
    winning = {setting: figures for setting, figures in covering.items() if beats_baseline(figures, k)}
    candidates = winning or covering
    # max() keeps the first of equals, so the plain order (first in the family) wins ties.
    return max(candidates, key=lambda setting: objective(candidates[setting], k)), True


def gain_names(k: int) -> tuple[str, str]:
    """The keys of a setting's figures holding the lower bounds of its gains over popularity."""
    return (f"hit_rate@{k}_gain_low", f"hit_rate@{k}_longtail_gain_low")


def beats_baseline(figures: list[dict], k: int) -> bool:
    """Whether the lower bounds of the gains over popularity in hit rate@k and long-tail hit
    rate@k (:func:`metrics.paired_gain`) are above 0 in every way asked."""
    return all(f[name] > 0 for f in figures for name in gain_names(k))


class DefaultChooser:
    """The validation listeners of one split, asked as each command asks, for every setting."""

    def __init__(
        self,
        context: RankingContext,
        split: UsersSplit,
        source: sp.spmatrix,
        k: int,
        seed: int,
        *,
        per_artist_cap: int = 2,
        min_listeners: int = 1,
        head: int = DEFAULT_HEAD,
        max_users: int = DEFAULT_CHOICE_USERS,
        family: tuple[DefaultRanking, ...] = FAMILY,
    ):
        self.context, self.split, self.source, self.k, self.seed = context, split, source, k, seed
        self.per_artist_cap, self.min_listeners, self.max_users = per_artist_cap, min_listeners, max_users
        self.head_size, self.family = head, family
        self.head = head_items(context.listeners, head)

    def options(self, default: DefaultRanking) -> RankingOptions:
        return ranking_options(
            count=self.k, per_artist_cap=self.per_artist_cap, min_listeners=self.min_listeners, default=default
        )

    def case_sets(self, command: str) -> list[tuple[str, list[HeldOutCase]]]:
        """(name, cases) for each way ``command``'s validation listeners are asked."""
        split, seed, users = self.split, self.seed, self.max_users
        if command == "similar":
            return [
                (choice, item2item_cases(split, self.source, choice, seed, users, ALL_SEEDS_PER_LISTENER))
                for choice in SIMILAR_SEED_CHOICES
            ]
        if command == "mix":
            return [("two seeds", mix_cases(split, seed, users))]
        return [("history", held_out_cases(split, "users", seed, users))]

    def choose(self, command: str) -> dict:
        """The setting chosen for ``command``, with the validation figures it was chosen on."""
        context, k = self.context, self.k
        about_songs, fold_in = command != "for_you", command == "for_you"
        options = {setting: self.options(setting) for setting in self.family}
        plain = self.options(PLAIN_DEFAULT)
        results: dict[DefaultRanking, list[dict]] = {setting: [] for setting in self.family}
        baseline: list[dict] = []
        names = []
        for name, cases in self.case_sets(command):
            names.append(name)
            per_setting = {setting: self._figures() for setting in self.family}
            popular = BaselineFigures(context, self.head, self._figures(), self._figures())
            for case in cases:
                pool, scores = context.pool(case.seeds, plain.pool_size, fold_in=fold_in)
                for setting, setting_options in options.items():
                    shown = context.rank(pool, scores, setting_options, case.seeds, seed_artists=about_songs)
                    per_setting[setting].add(shown, case.targets, case.weight, listener=case.user)
                popular.add(case, plain, seed_artists=about_songs)
            popular_hits = popular.figures.listener_rates()
            popular_longtail_hits = popular.longtail.listener_rates(longtail=True)
            for setting, figures in per_setting.items():
                row = figures.result()
                for gained, ours, theirs in zip(
                    gain_names(k),
                    (figures.listener_rates(), figures.listener_rates(longtail=True)),
                    (popular_hits, popular_longtail_hits),
                ):
                    row[gained.removesuffix("_low")], row[gained] = paired_gain(ours, theirs)
                results[setting].append(row)
            baseline.append(popular.result()[0])
        chosen, met = choose_setting(results, baseline, k)
        return {
            "default": chosen.to_dict(),
            "coverage_rule_met": met,
            "beats_popularity": met and beats_baseline(results[chosen], k),
            "validation": {
                "protocol": COMMANDS[command],
                "asked": names,
                "k": k,
                "head": self.head_size,
                "users": len(self.split.visible)
                if self.max_users is None
                else min(len(self.split.visible), self.max_users),
                "objective": f"mean of hit_rate@{k} and hit_rate@{k}_longtail over {', '.join(names)}",
                "coverage_rule": f"coverage >= {COVERAGE_FACTOR:g} x popularity's",
                "preferred": (
                    f"settings whose gains over popularity's hit_rate@{k} and hit_rate@{k}_longtail have a "
                    f"lower bound above 0 (paired over listeners, mean - {GAIN_CONFIDENCE_Z:g} standard errors) "
                    "on every way asked"
                ),
                "seeds_per_listener_with_all": ALL_SEEDS_PER_LISTENER if command == "similar" else None,
                "popularity": [_rounded(b, k) for b in baseline],
            },
            "grid": [
                {
                    **setting.to_dict(),
                    "objective": round(objective(figures, k), 4),
                    "figures": [_rounded(f, k) for f in figures],
                }
                for setting, figures in results.items()
            ],
        }

    def _figures(self) -> ListFigures:
        context = self.context
        return ListFigures(self.k, context.listeners, context.training.n_users, None, context.item_group, self.head)


def _rounded(figures: dict, k: int) -> dict:
    names = (f"hit_rate@{k}", f"hit_rate@{k}_longtail", "coverage", "novelty", "mean_listeners")
    gains = [name for low in gain_names(k) for name in (low.removesuffix("_low"), low) if name in figures]
    return {name: round(float(figures[name]), 4) for name in (*names, *gains)}
