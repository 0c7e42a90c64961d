"""``python -m recommender evaluate``: offline figures, always beside the popularity baseline.

The figures are :func:`recommender.evaluation.protocols.evaluate`'s; this command chooses the
configuration (``--model V``, else current, else [training]; then option overrides), prints
the tables, and adds the bot's online 👍/👎 rates when its feedback log exists.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from recommender.config import Config, TrainParams
from recommender.dataset import Dataset
from recommender.errors import SoundalikeError
from recommender.evaluation.calibration import calibrate_deep, default_line
from recommender.evaluation.defaults import COMMANDS, DEFAULT_CHOICE_USERS
from recommender.evaluation.knobs import DEFAULT_KNOB_USERS
from recommender.evaluation.metrics import DEFAULT_HEAD
from recommender.evaluation.protocols import DEFAULT_GENRE_PAIRS, PROTOCOLS, evaluate
from recommender.evaluation.splits import (
    DEFAULT_MAX_HELDOUT_USERS,
    DEFAULT_MAX_HOLDOUT_USERS,
    DEFAULT_SEED_CHOICE,
    SEED_CHOICES,
)
from recommender.feedback.offline import online_rates
from recommender.ranking import MIX_STRATEGY, PLAIN_DEFAULT, DefaultRanking
from recommender.service import calibrated_deep_beta, calibrated_default
from recommender.store import ModelStore

from .arguments import whole_number
from .train import add_engine_arguments, add_param_arguments, check_master_use, param_overrides, params_from_args

log = logging.getLogger(__name__)


def _model_params(config: Config, args: argparse.Namespace) -> tuple[TrainParams, str]:
    """The configuration to evaluate: --model V, else current, else [training]; then overrides."""
    store = ModelStore.for_dataset(config.models_dir, args.dataset or config.data.default_dataset)
    version = args.model or store.current_version()
    overrides = param_overrides(args)
    if version is None:
        return params_from_args(config, args), "the [training] configuration (no model published yet)"
    manifest = store.read_manifest(version)
    params = TrainParams.from_dict(manifest.get("parameters", {})).replace(**overrides)
    # Which engine re-fits it, and where, is this deployment's choice (--engine, [training]).
    params = params.replace(
        engine=getattr(args, "engine", None) or config.training.engine,
        spark_master=getattr(args, "master", None) or config.training.spark_master,
    )
    label = f"model {version}'s configuration" + (" with overrides" if overrides else "")
    return params, label


def _calibrated_deep_beta(config: Config, args: argparse.Namespace, key: str = "deep_beta") -> float | None:
    """The "deep" beta calibrated for the evaluated model (--model V, else current), when its
    configuration is evaluated as published (no overrides); else None (the constant). ``key``:
    "deep_beta" (/soundalike, /mix) or "for_you_deep_beta" (/foryou)."""
    if param_overrides(args):
        return None
    store = ModelStore.for_dataset(config.models_dir, args.dataset or config.data.default_dataset)
    version = args.model or store.current_version()
    return None if version is None else calibrated_deep_beta(store.read_manifest(version), key)


def _calibrated_defaults(config: Config, args: argparse.Namespace) -> dict[str, DefaultRanking]:
    """Each command's default ranking chosen for the evaluated model (--model V, else current),
    when its configuration is evaluated as published and --plain-default is not given; else
    the model's own order for every command."""
    if param_overrides(args) or args.plain_default:
        return dict.fromkeys(COMMANDS, PLAIN_DEFAULT)
    store = ModelStore.for_dataset(config.models_dir, args.dataset or config.data.default_dataset)
    version = args.model or store.current_version()
    if version is None:
        return dict.fromkeys(COMMANDS, PLAIN_DEFAULT)
    manifest = store.read_manifest(version)
    return {command: calibrated_default(manifest, command) for command in COMMANDS}


def choose_default_command(args: argparse.Namespace, config: Config, dataset: Dataset, params: TrainParams) -> int:
    """``--choose-default``: choose each command's default ranking (and "deep cuts") on a validation
    split carved from the training users, exactly as ``train`` does; the test users are never read."""
    evaluation, serving = config.evaluation, config.serving
    seed = evaluation.random_state if args.seed is None else args.seed
    k = args.k or evaluation.k
    novelty = calibrate_deep(
        dataset,
        params,
        k=k,
        seed=seed,
        train_share=evaluation.train_share,
        per_artist_cap=serving.per_artist_cap,
        min_listeners=serving.min_listeners,
        default_users=args.default_users,
        head=args.head,
    )
    if args.json:
        print(json.dumps({"dataset": dataset.name, "params": params.to_dict(), "novelty": novelty}))
        return 0
    print(
        f"Choosing each command's default on a validation split of the training users (split seed {seed}, "
        f"validation seed {seed + 1}; the test users are never read), k={k}, long tail beyond the {args.head} "
        f"most listened"
    )
    print(f"Configuration: {params.describe()}")
    for command, name in (("similar", "/soundalike"), ("mix", "/mix"), ("for_you", "/foryou")):
        choice = novelty["default_choice"][command]
        print(default_line(name, choice, k))
        best = sorted(choice["grid"], key=lambda row: -row["objective"])[:3]
        for row in best:
            setting = DefaultRanking(row["popularity_exponent"], row["shrinkage"], row["min_listeners"])
            print(f"    objective {row['objective']:.4f}  {setting.describe()}")
    print(
        f"Deep cuts, relative to the default: /soundalike and /mix {novelty['deep_beta']:g}, "
        f"/foryou {novelty['for_you_deep_beta']:g}"
    )
    return 0


def _online(database_path: Path | str) -> dict | None:
    """Per-version 👍/👎 rates from the bot's log (a file or a PostgreSQL URL), or None when
    there is no log to read."""
    if isinstance(database_path, Path) and not database_path.exists():
        return None
    try:
        return online_rates(database_path)
    except SoundalikeError as error:
        log.warning("online feedback not shown: %s", error)
        return None


def evaluate_command(args: argparse.Namespace) -> int:
    config: Config = args.config_obj
    name = args.dataset or config.data.default_dataset
    dataset = Dataset.open(config.datasets_dir, name)
    params, label = _model_params(config, args)
    check_master_use(params, args)
    if args.choose_default:
        return choose_default_command(args, config, dataset, params)
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
        seed_choice=args.seed_choice,
        head=args.head,
        defaults=_calibrated_defaults(config, args),
    )
    report["dataset"] = name
    report["evaluated"] = label
    online = _online(config.database_location)
    if online is not None:
        report["online"] = online
    if args.json:
        print(json.dumps(report, sort_keys=False))
    else:
        _print_report(report, label, online)
    return 0


# -- the tables ------------------------------------------------------------------------
def _print_report(report: dict, label: str, online: dict | None) -> None:
    protocol, k = report["protocol"], report["k"]
    share = round(report["train_share"] * 100)
    how = {
        "holdout": f"{share}% of interactions to train, the rest to test",
        "users": f"{100 - share}% of users held out (at most {DEFAULT_MAX_HELDOUT_USERS}), "
        "half of each history folded in",
        "item2item": f"{100 - share}% of users held out, one song of each as the seed "
        f"({report.get('item2item_setup', {}).get('seed_choice', DEFAULT_SEED_CHOICE)})",
        "mix": f"{100 - share}% of users held out, two songs of each as a mix's seeds",
    }[protocol]
    print(f"Protocol {protocol} ({how}; seed {report['seed']}), k={k}, {report['users_evaluated']:,} users scored")
    print(f"Evaluating {label}: {TrainParams.from_dict(report['params']).describe()}")
    print("(re-fitted on the training part; the published model itself saw all the data)")
    if "item2item_setup" in report:
        _print_item2item(report)
    else:
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


def _print_item2item(report: dict) -> None:
    setup, k = report["item2item_setup"], report["k"]
    print(
        f"{setup['cases']:,} answers ranked as the bot ranks them (pool {setup['pool_size']}); long tail = "
        f"outside the {setup['head']} most listened songs; the popularity baseline's long-tail figures are "
        "those of the most listened songs outside them"
    )
    print(f"default ranking: {setup['default_described']}")
    columns = [f"hit_rate@{k}", f"recall@{k}", f"hit_rate@{k}_longtail", f"recall@{k}_longtail"]
    columns += ["coverage", "novelty", "mean_listeners"]
    print(f"{'metric':<22} {'model':>9} {'plain':>9} {'popularity':>11}")
    for name in columns:
        model, plain, baseline = (report[row][name] for row in ("model", "plain", "baseline"))
        print(f"{name:<22} {model:>9.4f} {plain:>9.4f} {baseline:>11.4f}")


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
        print(f"deep cuts: beta {setup['deep_beta']:g} from balanced ({how})")
    print(f"balanced: {setup['default_described']}; long tail = outside the {setup['head']} most listened songs")
    columns = [f"hit_rate@{k}", f"recall@{k}", f"hit_rate@{k}_longtail", f"recall@{k}_longtail"]
    columns += ["coverage", "novelty", "diversity", "mean_listeners", "median_listeners"]
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
    rows = [*report["mix"].items(), ("popularity baseline", report["mix_baseline"])]
    for name, figures in rows:
        print(
            f"{name:<24}"
            + "".join(
                f"{figures[column]:>22.1f}" if column == "mean_listeners" else f"{figures[column]:>22.4f}"
                for column in columns
            )
        )


def register(subparsers: argparse._SubParsersAction) -> None:
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
    parser.add_argument(
        "--seed-choice",
        choices=SEED_CHOICES,
        default=DEFAULT_SEED_CHOICE,
        help="item2item: the seed song of each held-out user: the one they played most (default), one drawn "
        "at random, or every one in turn (all, averaged over every answer)",
    )
    parser.add_argument(
        "--head",
        type=whole_number(0, "the head must be 0 or more songs, got {value}", unit=" of songs"),
        default=DEFAULT_HEAD,
        help=f"long-tail figures count only hits outside this many most listened songs of the training "
        f"part (default {DEFAULT_HEAD})",
    )
    parser.add_argument(
        "--plain-default",
        action="store_true",
        help="rank with the model's own order as balanced, not the default chosen at train time "
        "(how answers were ranked before that choice)",
    )
    parser.add_argument(
        "--choose-default",
        action="store_true",
        help="choose each command's default ranking (and deep cuts) on a validation split carved from the "
        "training users, as train does, and print the choice; the test users are never read",
    )
    parser.add_argument(
        "--default-users",
        type=int,
        default=DEFAULT_CHOICE_USERS,
        help=f"--choose-default: most validation users asked (default {DEFAULT_CHOICE_USERS})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_param_arguments(parser)
    add_engine_arguments(parser)
    parser.set_defaults(func=evaluate_command)
