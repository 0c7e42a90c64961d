"""``python -m recommender train | models | rollback``: publish models, list them, go back.

``train`` fits on all of a dataset's interactions and publishes the model as the next version.
Before that, the same configuration is scored on the holdout split beside the popularity
baseline (or chosen there with ``--tune``), and "deep cuts" is calibrated for the data; both
go into the manifest.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from recommender.config import ALGORITHMS, ENGINES, WEIGHTINGS, Config, TrainParams
from recommender.dataset import Dataset
from recommender.errors import ConfigError, ModelError, ModelForOtherData, SoundalikeError
from recommender.evaluation.calibration import calibrate_novelty
from recommender.evaluation.protocols import evaluate
from recommender.evaluation.tuning import tune
from recommender.store import ModelStore
from recommender.training import FittedModel, dataset_fields, fit

if TYPE_CHECKING:
    from recommender.spark.training import SparkFit

# The [training] keys `train` and `evaluate` take as options (--learning-rate: learning_rate).
PARAM_OPTIONS = (
    "algorithm",
    "weighting",
    "factors",
    "iterations",
    "regularization",
    "alpha",
    "learning_rate",
    "neighbours",
)


def add_param_arguments(parser: argparse.ArgumentParser) -> None:
    """The [training] overrides shared by `train` and `evaluate`."""
    parser.add_argument("--algorithm", choices=ALGORITHMS, help="default: [training] algorithm")
    parser.add_argument("--weighting", choices=WEIGHTINGS, help="play counts -> confidence: raw, 1+log, bm25")
    parser.add_argument("--factors", type=int, help="latent factors (als, bpr, lmf)")
    parser.add_argument("--iterations", type=int)
    parser.add_argument("--regularization", type=float)
    parser.add_argument("--alpha", type=float, help="ALS confidence multiplier")
    parser.add_argument("--learning-rate", type=float, help="bpr, lmf")
    parser.add_argument("--neighbours", type=int, help="neighbours kept per item (cosine, bm25)")


def param_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The [training] values given as options."""
    return {name: getattr(args, name) for name in PARAM_OPTIONS if getattr(args, name, None) is not None}


def params_from_args(config: Config, args: argparse.Namespace) -> TrainParams:
    engine = {"engine": getattr(args, "engine", None), "spark_master": getattr(args, "master", None)}
    return config.training.replace(**param_overrides(args), **engine)


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """--engine and --master: who fits the model (implicit here, or Spark's ALS on a cluster)."""
    parser.add_argument(
        "--engine", choices=ENGINES, help="implicit (this machine) or spark (Spark's ALS); default: [training] engine"
    )
    parser.add_argument(
        "--master",
        help="the spark engine's master: local[2], spark://host:7077, yarn (default: [training] spark_master)",
    )


def check_master_use(params: TrainParams, args: argparse.Namespace) -> None:
    """--master is refused, not ignored, when the implicit engine fits."""
    if getattr(args, "master", None) is not None and params.engine != "spark":
        raise ConfigError("--master names where the spark engine runs: add --engine spark (or set [training] engine)")


def format_metrics(metrics: dict) -> str:
    return ", ".join(f"{name} {value:.4f}" for name, value in metrics.items() if isinstance(value, float))


# -- train -----------------------------------------------------------------------------
def train_command(args: argparse.Namespace) -> int:
    config: Config = args.config_obj
    name = args.dataset or config.data.default_dataset
    dataset = Dataset.open(config.datasets_dir, name)
    params = params_from_args(config, args)
    check_master_use(params, args)
    print(
        f"Dataset {name}: {dataset.n_users:,} users x {dataset.n_items:,} items, "
        f"{dataset.n_interactions:,} interactions"
    )
    manifest_extra: dict = {}
    metrics: dict = {}
    if args.tune:
        params, metrics, manifest_extra["tuning"] = _tune(args, config, dataset, params)
    elif not args.no_eval:
        metrics = _held_out_figures(config, dataset, params)
    if metrics:
        print(f"Held-out test: model {format_metrics(metrics['model'])}")
        print(f"               popularity {format_metrics(metrics['baseline'])}")
    if not args.no_calibrate:
        manifest_extra["novelty"] = calibrate_novelty(dataset, params, config)
    print(f"Training {params.describe()} on all {dataset.n_interactions:,} interactions ...")
    fitted: FittedModel | SparkFit
    if params.engine == "spark" and dataset.is_parquet:
        # Spark reads the Parquet interactions itself: the matrix never comes into this process.
        from recommender.spark.training import fit_parquet

        fitted = fit_parquet(
            params, dataset.interactions_parquet.resolve().as_uri(), n_users=dataset.n_users, n_items=dataset.n_items
        )
    else:
        fitted = fit(params, dataset.interactions, show_progress=not args.quiet)
    where = f" on Spark ({params.spark_master})" if params.engine == "spark" else ""
    print(f"Trained{where} in {fitted.seconds:.1f} s")
    if args.no_publish:
        print("Not published (--no-publish).")
        return 0
    manifest = {**fitted.manifest_fields(), "dataset": dataset_fields(dataset), "metrics": metrics, **manifest_extra}
    store = ModelStore.for_dataset(config.models_dir, name)
    version = store.publish(fitted.arrays(), manifest)
    print(f"Published {name}/{version} (now current) in {store.folder}")
    return 0


def _tune(
    args: argparse.Namespace, config: Config, dataset: Dataset, params: TrainParams
) -> tuple[TrainParams, dict, dict]:
    """The configuration chosen on validation, its held-out figures and the tuning summary."""
    evaluation = config.evaluation
    print(
        f"Tuning {params.algorithm} on a validation split of the training part "
        f"(up to {args.tune_trials} trials, {args.tune_seconds:.0f} s) ..."
    )
    result = tune(
        dataset.interactions,
        params,
        k=evaluation.k,
        seed=evaluation.random_state,
        train_share=evaluation.train_share,
        max_trials=args.tune_trials,
        time_budget=args.tune_seconds,
        show_progress=not args.quiet,
    )
    ranked = sorted(result.trials, key=lambda t: -t.validation)
    print(
        f"{len(result.trials)} trials in {sum(t.seconds for t in result.trials):.0f} s; the best by "
        f"validation {result.metric}:"
    )
    for trial in ranked[:5]:
        print(f"  validation {result.metric} {trial.validation:.4f}  {trial.params.describe()}")
    print(f"Chosen on validation: {result.best.describe()}")
    return result.best, {**result.split, "model": result.test, "baseline": result.baseline}, result.summary()


def _held_out_figures(config: Config, dataset: Dataset, params: TrainParams) -> dict:
    """The configuration on the holdout split beside popularity, as the manifest keeps them."""
    evaluation = config.evaluation
    if params.engine == "spark" and dataset.is_parquet:
        # Split, fitted and counted by Spark: the matrix never comes into this process.
        from recommender.spark.evaluation import DEFAULT_HELD_OUT_USERS, holdout_figures

        print(
            f"Evaluating {params.describe()} on Spark's holdout split (seed {evaluation.random_state}, "
            f"up to {DEFAULT_HELD_OUT_USERS:,} held-out listeners) ..."
        )
        return holdout_figures(
            params,
            dataset.interactions_parquet.resolve().as_uri(),
            n_users=dataset.n_users,
            n_items=dataset.n_items,
            k=evaluation.k,
            seed=evaluation.random_state,
            train_share=evaluation.train_share,
        )
    print(f"Evaluating {params.describe()} on the holdout split (seed {evaluation.random_state}) ...")
    report = evaluate(
        dataset, params, "holdout", evaluation.k, evaluation.random_state, train_share=evaluation.train_share
    )
    return {key: report[key] for key in ("protocol", "k", "seed", "train_share", "model", "baseline")}


# -- models and rollback ---------------------------------------------------------------
def _open_dataset_quietly(config: Config, name: str) -> Dataset | None:
    """The Dataset to check models against, or None (with a warning) when it cannot be opened."""
    try:
        return Dataset.open(config.datasets_dir, name)
    except SoundalikeError as error:
        print(f"warning: {error}; models are checked without their dataset")
        return None


def models_command(args: argparse.Namespace) -> int:
    """List the versions; with --verify check each whole (files, manifest, contents, dataset).

    Exits 1 when a version is damaged, so a script or CI can act on it."""
    config: Config = args.config_obj
    name = args.dataset or config.data.default_dataset
    store = ModelStore.for_dataset(config.models_dir, name)
    versions = store.versions()
    if not versions:
        print(f"No models for {name} in {store.folder}.")
        return 0
    try:
        current = store.current_version()
    except ModelError as error:
        current = None
        print(f"warning: {error}")
    dataset = _open_dataset_quietly(config, name) if args.verify else None
    damaged: dict[str, str] = {}
    other_data: list[str] = []
    for version in versions:
        marker = "*" if version == current else " "
        try:
            manifest = store.load(dataset, version).manifest if args.verify else store.read_manifest(version)
        except ModelForOtherData as error:
            other_data.append(version)
            print(f"{marker} {version}  TRAINED ON OTHER DATA: {error}")
            continue
        except ModelError as error:
            damaged[version] = str(error).removeprefix(f"model {name}/{version}: ")
            print(f"{marker} {version}  DAMAGED: {error}")
            continue
        model_metrics = (manifest.get("metrics") or {}).get("model", {})
        shown = format_metrics(model_metrics) or "no metrics"
        params = TrainParams.from_dict(manifest.get("parameters", {}))
        print(f"{marker} {version}  {manifest.get('created', '?')}  {params.describe()}  {shown}")
    if args.verify:
        _print_verified(store, versions, current, damaged, other_data)
    return 1 if damaged else 0


def _print_verified(
    store: ModelStore, versions: list[str], current: str | None, damaged: dict[str, str], other_data: list[str]
) -> None:
    """What --verify checked, and which version is served when the current one cannot be."""
    findings = [f"{v} DAMAGED ({why})" for v, why in damaged.items()]
    findings += [f"{v} trained on other data" for v in other_data]
    good = len(versions) - len(damaged) - len(other_data)
    if findings:
        findings.append("others OK" if good else "none OK")
    else:
        findings.append("all OK")
    count = f"{len(versions)} version{'s' if len(versions) != 1 else ''}"
    print(f"verified {count}: " + ", ".join(findings))
    serving = next((v for v in store.serving_order()[0] if v not in damaged and v not in other_data), None)
    if serving != current:
        print(f"serving: {serving or 'nothing'} (current {current or 'unset'} cannot be served)")


def rollback_command(args: argparse.Namespace) -> int:
    config: Config = args.config_obj
    name = args.dataset or config.data.default_dataset
    store = ModelStore.for_dataset(config.models_dir, name)
    before = store.current_version()
    version = store.rollback(_open_dataset_quietly(config, name))
    print(f"{name}: current moved from {before} to {version} (the version served before it)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train",
        help="train a model and publish it as the dataset's next version",
        description="Train on all of a dataset's interactions and publish the model as the next "
        "version (it becomes current). Before that, the same configuration is fitted on the "
        "holdout training split and scored on its test split beside the popularity baseline "
        "(the figures go into the manifest). Defaults come from config.toml [training].",
    )
    train.add_argument("--dataset", help="dataset name (default: [data] default_dataset)")
    add_param_arguments(train)
    add_engine_arguments(train)
    train.add_argument(
        "--tune",
        action="store_true",
        help="search parameters on a validation split of the training part, then "
        "report the chosen ones on the untouched test split",
    )
    train.add_argument("--tune-trials", type=int, default=40, help="most configurations to try (default 40)")
    train.add_argument(
        "--tune-seconds", type=float, default=90.0, help="stop starting new trials after this long (default 90)"
    )
    train.add_argument("--no-eval", action="store_true", help="skip the holdout figures (large data)")
    train.add_argument(
        "--no-calibrate",
        action="store_true",
        help="skip calibrating the deep cuts setting on a validation split (one more fit); "
        "the model then answers deep cuts with the default beta",
    )
    train.add_argument("--no-publish", action="store_true", help="train and report, publish nothing")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(func=train_command)

    models = subparsers.add_parser("models", help="list a dataset's model versions (* = current)")
    models.add_argument("--dataset", help="dataset name (default: [data] default_dataset)")
    models.add_argument(
        "--verify",
        action="store_true",
        help="check every version whole (checksums, manifest, contents, dataset); exit 1 if one is damaged",
    )
    models.set_defaults(func=models_command)

    rollback = subparsers.add_parser("rollback", help="serve the version served before the current one again")
    rollback.add_argument("--dataset", help="dataset name (default: [data] default_dataset)")
    rollback.set_defaults(func=rollback_command)
