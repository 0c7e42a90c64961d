"""Each model's "deep cuts": the novelty beta chosen for its own data, on a validation split.

Similarity scores spread differently on each dataset and model, so one constant beta that
finds deep cuts on one catalog loses most hits on another. At train time (and at a retrain's
promotion) the model's configuration is fitted on a validation split of the training data
and asked as the bot would be, at balanced and at each beta of a grid; the rule in
:func:`choose_deep_beta` picks the beta, which goes into the model's manifest ("novelty").
"""

from __future__ import annotations

from collections.abc import Callable

import scipy.sparse as sp

from recommender.config import Config, TrainParams
from recommender.dataset import Dataset
from recommender.errors import SoundalikeError
from recommender.ranking import NOVELTY_BETA, PLAIN_DEFAULT, DefaultRanking, RankingOptions
from recommender.training import fit

from .defaults import COMMANDS, DEFAULT_CHOICE_USERS, DefaultChooser, gain_names
from .metrics import DEFAULT_HEAD, ListFigures
from .ranking_context import RankingContext, ranking_options
from .splits import UsersSplit, held_out_cases, interactions_of, users_split

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
    dataset: Dataset | sp.spmatrix,
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
    choose_default: bool = True,
    default_users: int = DEFAULT_CHOICE_USERS,
    head: int = DEFAULT_HEAD,
) -> dict:
    """Choose this data's "deep cuts" betas on a validation split of the training data.

    The users held out by ``evaluate --protocol item2item`` (or ``users``) with the same seed
    (the test users) are never looked at: their split's training part is split again
    (``users_split(train, train_share, seed + 1)``), ``params`` are fitted on what remains,
    and at most ``max_users`` validation users are asked as the bot would be, at balanced and
    at each beta of ``grid``, each answer ranked by ``ranking.rank_for_seeds``:

    - "similar" (/soundalike, /mix): one of their songs as the seed (``similar_to_each``);
    - "for_you" (/foryou): half of their songs folded in (``score_for_history``), whose scores
      spread much wider, so the same beta moves them far less.

    See :func:`choose_deep_beta` for the rule. Before that (``choose_default``), each command's
    default ranking ("balanced") is chosen on the same validation listeners and fit
    (:class:`recommender.evaluation.defaults.DefaultChooser`, at most ``default_users`` of them,
    long tail beyond the ``head`` most listened songs), and "deep cuts" is calibrated relative
    to it. Returns what the model's manifest keeps as "novelty": ``deep_beta`` and
    ``for_you_deep_beta``, ``default`` (each command's setting: what serving reads), and the
    validation figures of each choice. ``interactions`` replaces the dataset's own (a
    retrain's dataset + feedback listeners).
    """
    counts = interactions_of(dataset if interactions is None else interactions)
    outer = users_split(counts, train_share, seed)
    inner = users_split(outer.train, train_share, seed + 1)
    if not inner.visible:
        raise SoundalikeError("too few listeners to calibrate the novelty knob on a validation split")
    context = RankingContext.build(dataset, inner.train, fit(params, inner.train))
    defaults = dict.fromkeys(COMMANDS, PLAIN_DEFAULT)
    chosen: dict[str, dict] = {}
    if choose_default:
        chooser = DefaultChooser(
            context,
            inner,
            outer.train,
            k,
            seed + 1,
            per_artist_cap=per_artist_cap,
            min_listeners=min_listeners,
            head=head,
            max_users=default_users,
        )
        for command in COMMANDS:
            chosen[command] = chooser.choose(command)
            defaults[command] = DefaultRanking(**chosen[command]["default"])

    def options(default: DefaultRanking, beta: float | None = None) -> RankingOptions:
        return ranking_options(
            count=k,
            novelty="balanced" if beta is None else "deep",
            deep_beta=beta,
            per_artist_cap=per_artist_cap,
            min_listeners=min_listeners,
            default=default,
        )

    validation = _Validation(context, inner, k, seed, train_share, per_artist_cap, max_users)
    similar = validation.calibrate(
        "item2item", options(defaults["similar"]), {beta: options(defaults["similar"], beta) for beta in grid}
    )
    for_you = validation.calibrate(
        "users", options(defaults["for_you"]), {beta: options(defaults["for_you"], beta) for beta in grid}
    )
    return {
        "deep_beta": similar["deep_beta"],
        "for_you_deep_beta": for_you["deep_beta"],
        "popular_beta": NOVELTY_BETA["popular"],
        **(
            {
                "default": {command: setting.to_dict() for command, setting in defaults.items()},
                "default_choice": chosen,
            }
            if choose_default
            else {}
        ),
        "rule": (
            f"smallest beta whose median listeners are <= {DEEP_LISTENER_TARGET:g} x balanced's while "
            f"hit@{k} stays >= {DEEP_HIT_FLOOR:g} x balanced's (else the largest keeping that floor)"
        ),
        "similar": similar,
        "for_you": for_you,
    }


class _Validation:
    """The validation users of one calibration, asked at balanced and at each beta."""

    def __init__(
        self,
        context: RankingContext,
        split: UsersSplit,
        k: int,
        seed: int,
        train_share: float,
        per_artist_cap: int,
        max_users: int,
    ):
        self.context, self.split, self.k, self.seed = context, split, k, seed
        self.train_share, self.per_artist_cap, self.max_users = train_share, per_artist_cap, max_users

    def figures(self) -> ListFigures:  # no similarity: diversity is not what is calibrated
        context = self.context
        return ListFigures(self.k, context.listeners, context.training.n_users, None, context.item_group)

    def calibrate(self, protocol: str, balanced_options: RankingOptions, deep: dict[float, RankingOptions]) -> dict:
        """The beta chosen for ``protocol``'s answers, with the figures it was chosen on."""
        context, about_songs = self.context, protocol == "item2item"
        balanced, by_beta = self.figures(), {beta: self.figures() for beta in deep}
        cases = held_out_cases(self.split, protocol, self.seed + 1, self.max_users)
        for case in cases:
            pool, scores = context.pool(case.seeds, balanced_options.pool_size, fold_in=not about_songs)
            shown = context.rank(pool, scores, balanced_options, case.seeds, seed_artists=about_songs)
            balanced.add(shown, case.targets)
            for beta, options in deep.items():
                by_beta[beta].add(
                    context.rank(pool, scores, options, case.seeds, seed_artists=about_songs), case.targets
                )
        return self._chosen(protocol, balanced.result(), {beta: f.result() for beta, f in by_beta.items()}, len(cases))

    def _chosen(self, protocol: str, balanced: dict, results: dict[float, dict], users: int) -> dict:
        k = self.k
        chosen, met = choose_deep_beta(balanced, results, k)
        hit, median = balanced[f"hit_rate@{k}"], balanced["median_listeners"]
        return {
            "deep_beta": chosen,
            "listener_target_met": met,
            "validation": {
                "protocol": protocol,
                "k": k,
                "seed": self.seed,
                "validation_seed": self.seed + 1,
                "train_share": self.train_share,
                "users": users,
                "per_artist_cap": self.per_artist_cap,
                f"balanced_hit_rate@{k}": round(hit, 4),
                "balanced_median_listeners": median,
            },
            "grid": [
                {
                    "beta": beta,
                    "hit_share": round(figures[f"hit_rate@{k}"] / hit, 4) if hit else 0.0,
                    "listener_share": round(figures["median_listeners"] / median, 4) if median else 0.0,
                }
                for beta, figures in results.items()
            ],
        }


def calibrate_novelty(
    dataset: Dataset,
    params: TrainParams,
    config: Config,
    report: Callable[[str], None] = print,
    interactions: sp.spmatrix | None = None,
) -> dict:
    """Calibrate "deep cuts" for this data (:func:`calibrate_deep`, with the configuration's
    split, k and serving settings) and say what was chosen; the result goes into the model's
    manifest."""
    evaluation, serving = config.evaluation, config.serving
    report(
        f"Calibrating the deep cuts setting on a validation split of the training users (seed "
        f"{evaluation.random_state + 1}) ..."
    )
    novelty = calibrate_deep(
        dataset,
        params,
        k=evaluation.k,
        seed=evaluation.random_state,
        train_share=evaluation.train_share,
        per_artist_cap=serving.per_artist_cap,
        min_listeners=serving.min_listeners,
        interactions=interactions,
    )
    for command, name in (("similar", "/soundalike"), ("mix", "/mix"), ("for_you", "/foryou")):
        if command in novelty.get("default_choice", {}):
            report(default_line(name, novelty["default_choice"][command], evaluation.k))
    for name, part in (("/soundalike and /mix", novelty["similar"]), ("/foryou", novelty["for_you"])):
        report(_chosen_line(name, part))
    return novelty


def default_line(name: str, choice: dict, k: int) -> str:
    """One line saying which default a command got, and its validation figures beside popularity's."""
    setting = DefaultRanking(**choice["default"])
    row = next(r for r in choice["grid"] if DefaultRanking(**{n: r[n] for n in choice["default"]}) == setting)
    figures, popular = row["figures"][0], choice["validation"]["popularity"][0]
    if not choice["coverage_rule_met"]:
        rule = " (no setting met the coverage rule: the plain order is kept)"
    elif not choice.get("beats_popularity", True):  # models chosen before this rule do not say
        rule = " (no setting had a sure gain over popularity on every validation figure: the best objective is kept)"
    else:
        rule = ""
    line = (
        f"Default for {name}: {setting.describe()}{rule}; validation hit@{k} {figures[f'hit_rate@{k}']:.3f} "
        f"(popularity {popular[f'hit_rate@{k}']:.3f}), long tail {figures[f'hit_rate@{k}_longtail']:.3f}, "
        f"coverage {figures['coverage']:.3f} ({popular['coverage']:.3f})"
    )
    hits, longtail = gain_names(k)
    if all(hits in f and longtail in f for f in row["figures"]):  # models chosen before the bound do not say
        line += (
            f"; gain over popularity, least sure bound over {', '.join(choice['validation']['asked'])}: "
            f"hit@{k} {min(f[hits] for f in row['figures']):+.3f}, "
            f"long tail {min(f[longtail] for f in row['figures']):+.3f}"
        )
    return line


def _chosen_line(name: str, part: dict) -> str:
    chosen = next((row for row in part["grid"] if row["beta"] == part["deep_beta"]), None)
    if chosen is None:
        return (
            f"Deep cuts for {name}: beta 0: no beta kept {DEEP_HIT_FLOOR:.0%} of balanced's hits, "
            "so deep cuts answer like balanced"
        )
    unreachable = f" (the target, at most {DEEP_LISTENER_TARGET:.0%}, was not reachable)"
    return (
        f"Deep cuts for {name}: beta {part['deep_beta']:g}: {chosen['hit_share']:.0%} of balanced's hit "
        f"rate, median listeners {chosen['listener_share']:.0%} of balanced's"
        + ("" if part["listener_target_met"] else unreachable)
    )
