"""``python -m recommender train``: weighting, implicit models, tuning on a validation split.

implicit expects a **users x items** matrix (a row per listener); ``Dataset.interactions``
already is one, and nothing here transposes it (the original project passed songs x users).

Weighting turns play counts into confidences before fitting:

- ``raw``: the counts as they are (a 300 000-play outlier dominates everything);
- ``log``: ``1 + log(count)`` (counts below 1 count as 1);
- ``bm25``: ``implicit.nearest_neighbours.bm25_weight(counts, K1, B)`` on the users x items
  matrix: long histories are damped and ubiquitous items weigh less.

For the ``bm25`` kNN algorithm BM25 is its own weighting, so ``weighting = "bm25"`` there
means "let the algorithm weigh" (never twice).

BLAS threads are limited to one with ``threadpoolctl`` around model construction and
fitting, as implicit asks: its solvers parallelise themselves and a threaded OpenBLAS
underneath makes them many times slower.

``--tune`` searches on a validation split carved from the training part only
(``train_test_split`` of the training matrix); the test split is touched exactly once,
after the choice, to report the held-out figure beside the popularity baseline.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from .config import ALGORITHMS, WEIGHTINGS, TrainParams
from .errors import ConfigError
from .model import FACTOR_ALGORITHMS, LoadedModel

log = logging.getLogger(__name__)

# Weighted values must stay positive: implicit reads a negative value as "disliked".
_MIN_CONFIDENCE = 1e-6


# -- weighting -------------------------------------------------------------------------
def weight_interactions(counts: sp.spmatrix, weighting: str, k1: float = 1.2, b: float = 0.75) -> sp.csr_matrix:
    """Users x items play counts -> users x items confidences (float32 CSR, same pattern)."""
    matrix = sp.csr_matrix(counts, dtype=np.float32, copy=True)
    matrix.eliminate_zeros()
    if weighting == "raw":
        pass
    elif weighting == "log":
        matrix.data = 1.0 + np.log(np.maximum(matrix.data, 1.0))
    elif weighting == "bm25":
        from implicit.nearest_neighbours import bm25_weight

        matrix = bm25_weight(matrix, K1=k1, B=b).tocsr().astype(np.float32)
        # An item played by (nearly) everyone gets idf <= 0; keep it a (tiny) positive.
        np.maximum(matrix.data, _MIN_CONFIDENCE, out=matrix.data)
    else:
        raise ConfigError(f"weighting {weighting!r} is not one of {', '.join(WEIGHTINGS)}")
    matrix.sort_indices()
    return matrix


def training_matrix(counts: sp.spmatrix, params: TrainParams) -> sp.csr_matrix:
    weighting = params.weighting
    if params.algorithm == "bm25" and weighting == "bm25":
        weighting = "raw"  # BM25Recommender weighs by BM25 itself
    return weight_interactions(counts, weighting, params.bm25_k1, params.bm25_b)


# -- fitting ---------------------------------------------------------------------------
def make_model(params: TrainParams):
    """The implicit model for ``params`` (CPU; call inside ``threadpool_limits``)."""
    import implicit.als
    import implicit.bpr
    import implicit.lmf
    import implicit.nearest_neighbours as knn

    if params.algorithm == "als":
        return implicit.als.AlternatingLeastSquares(
            factors=params.factors,
            regularization=params.regularization,
            alpha=params.alpha,
            iterations=params.iterations,
            random_state=params.random_state,
            num_threads=params.threads,
            use_gpu=False,
        )
    if params.algorithm == "bpr":
        return implicit.bpr.BayesianPersonalizedRanking(
            factors=params.factors,
            learning_rate=params.learning_rate,
            regularization=params.regularization,
            iterations=params.iterations,
            random_state=params.random_state,
            num_threads=params.threads,
            use_gpu=False,
        )
    if params.algorithm == "lmf":
        return implicit.lmf.LogisticMatrixFactorization(
            factors=params.factors,
            learning_rate=params.learning_rate,
            regularization=params.regularization,
            iterations=params.iterations,
            random_state=params.random_state,
            num_threads=params.threads,
        )
    if params.algorithm == "cosine":
        return knn.CosineRecommender(K=params.neighbours, num_threads=params.threads)
    return knn.BM25Recommender(K=params.neighbours, K1=params.bm25_k1, B=params.bm25_b, num_threads=params.threads)


@dataclass
class FittedModel:
    """A fitted implicit model plus what the store and serving need to know about it."""

    params: TrainParams
    implicit_model: object
    weighted: sp.csr_matrix  # the users x items confidences it was fitted on
    seconds: float  # implicit's whole fit: its set-up (a transpose) and every iteration
    iteration_seconds: list[float] = field(default_factory=list)  # implicit's own, per iteration

    @property
    def typical_weight(self) -> float:
        """Mean confidence of the training data: fold-in weight 1.0 means this much."""
        data = self.weighted.data
        return float(data.mean()) if data.size else 1.0

    def arrays(self) -> dict[str, object]:
        if self.params.algorithm in FACTOR_ALGORITHMS:
            return {"item_factors": np.ascontiguousarray(self.implicit_model.item_factors, dtype=np.float32)}
        return {"similarity": sp.csr_matrix(self.implicit_model.similarity, dtype=np.float32)}

    def manifest_fields(self) -> dict:
        n_users, n_items = self.weighted.shape
        return {
            "algorithm": self.params.algorithm,
            "weighting": self.params.weighting,
            "parameters": self.params.to_dict(),
            "typical_weight": self.typical_weight,
            "n_items": int(n_items),
            "training": {
                "users": int(n_users),
                "interactions": int(self.weighted.nnz),
                "seconds": round(self.seconds, 3),
                **(
                    {"median_iteration_seconds": round(float(np.median(self.iteration_seconds)), 3)}
                    if self.iteration_seconds
                    else {}
                ),
            },
        }

    def loaded(self, version: str = "unpublished") -> LoadedModel:
        """The serving view of this fit, without a trip through the store."""
        return LoadedModel.from_arrays(self.arrays(), self.manifest_fields(), version=version)


def fit(
    params: TrainParams,
    counts: sp.spmatrix,
    *,
    show_progress: bool = False,
    progress: Callable[[float], None] | None = None,
) -> FittedModel:
    """Weigh ``counts`` (users x items) and fit the implicit model for ``params``.

    ``progress`` (0..1) is called after each iteration of the factor models.
    """
    weighted = training_matrix(counts, params)
    iteration_seconds: list[float] = []
    callback = None
    if params.algorithm in FACTOR_ALGORITHMS:
        total = max(params.iterations, 1)

        def callback(iteration: int, elapsed: float, *_: object) -> None:
            iteration_seconds.append(elapsed)
            if progress is not None:
                progress(min(1.0, (iteration + 1) / total))

    started = time.perf_counter()
    # implicit checks BLAS threads when the model is built, so build it inside the limit too.
    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        # implicit's kNN models hand their own COO product to fit() and then warn about it.
        warnings.filterwarnings("ignore", message="Method expects CSR input")
        model = make_model(params)
        if callback is not None:
            model.fit(weighted, show_progress=show_progress, callback=callback)
        else:
            model.fit(weighted, show_progress=show_progress)
    if progress is not None and callback is None:
        progress(1.0)  # kNN models fit in one step
    return FittedModel(
        params=params,
        implicit_model=model,
        weighted=weighted,
        seconds=time.perf_counter() - started,
        iteration_seconds=iteration_seconds,
    )


# -- tuning ----------------------------------------------------------------------------
# Small grids: each value is a sensible setting for implicit-feedback data; the product
# of each grid is a few hundred configurations, of which tune() tries a random subset.
SEARCH_SPACES: dict[str, dict[str, tuple]] = {
    "als": {
        "weighting": ("log", "bm25", "raw"),
        "factors": (32, 64, 128),
        "regularization": (0.01, 0.05, 0.2, 1.0),
        "alpha": (0.5, 1.0, 2.0, 4.0),
        "iterations": (10, 15, 25),
    },
    "bpr": {
        "factors": (32, 64, 128),
        "learning_rate": (0.01, 0.05, 0.1),
        "regularization": (0.001, 0.01, 0.1),
        "iterations": (50, 100, 200),
    },
    "lmf": {
        "weighting": ("log", "bm25"),
        "factors": (30, 60),
        "learning_rate": (0.5, 1.0),
        "regularization": (0.3, 0.6, 1.0),
        "iterations": (30,),
    },
    "cosine": {"weighting": ("raw", "log", "bm25"), "neighbours": (20, 50, 100, 200, 400)},
    "bm25": {"neighbours": (20, 50, 100, 200, 400), "bm25_k1": (0.6, 1.2, 3.0, 100.0), "bm25_b": (0.5, 0.75, 0.9)},
}


def candidate_params(base: TrainParams, max_trials: int, seed: int) -> list[TrainParams]:
    """``base`` first, then distinct random picks from its algorithm's grid."""
    space = SEARCH_SPACES[base.algorithm]
    names = list(space)
    grid = [dict(zip(names, values)) for values in itertools.product(*(space[n] for n in names))]
    order = np.random.default_rng(seed).permutation(len(grid))
    chosen = [base]
    for index in order:
        if len(chosen) >= max_trials:
            break
        params = base.replace(**grid[index])
        if params not in chosen:
            chosen.append(params)
    return chosen


@dataclass
class Trial:
    params: TrainParams
    validation: float
    seconds: float


@dataclass
class TuneResult:
    best: TrainParams
    metric: str
    trials: list[Trial]
    test: dict  # the chosen configuration refit on the whole training part, on the test split
    baseline: dict  # popularity on the same split
    split: dict = field(default_factory=dict)

    @property
    def best_trial(self) -> Trial:
        return next(t for t in self.trials if t.params == self.best)

    def summary(self) -> dict:
        return {
            "metric": self.metric,
            "trials": len(self.trials),
            "validation_best": round(self.best_trial.validation, 6),
            "space": {k: list(v) for k, v in SEARCH_SPACES[self.best.algorithm].items()},
            **self.split,
        }


def tune(
    counts: sp.spmatrix,
    base: TrainParams,
    *,
    k: int = 10,
    seed: int = 1,
    train_share: float = 0.8,
    max_trials: int = 40,
    time_budget: float = 90.0,
    show_progress: bool = False,
    split: Callable | None = None,
) -> TuneResult:
    """Pick parameters by precision@k on a validation split of the training part.

    1. ``train, test = split(counts, train_share, seed)`` (the evaluation's holdout split);
    2. ``fit_part, validation = split(train, train_share, seed + 1)``;
    3. each candidate is fitted on ``fit_part`` and scored on ``validation`` only, until
       ``max_trials`` or ``time_budget`` seconds (at least ``base`` is always tried);
    4. the best is refit on ``train`` and scored once on ``test``, beside popularity.
    """
    from . import evaluation

    split = split or evaluation.holdout_split
    metric = f"precision@{k}"
    train, test = split(counts, train_share, seed)
    fit_part, validation = split(train, train_share, seed + 1)
    trials: list[Trial] = []
    started = time.monotonic()
    candidates = candidate_params(base, max_trials, seed)
    bar = tqdm(candidates, desc="tuning", unit="trial", disable=not show_progress)
    for params in bar:
        if trials and time.monotonic() - started > time_budget:
            log.info("tuning stopped by its %.0f s budget after %d trials", time_budget, len(trials))
            break
        trial_start = time.perf_counter()
        fitted = fit(params, fit_part)
        score = evaluation.holdout_metrics(fitted, fit_part, validation, k)[metric]
        trials.append(Trial(params, score, time.perf_counter() - trial_start))
        bar.set_postfix(best=f"{max(t.validation for t in trials):.4f}")
    bar.close()
    best = max(trials, key=lambda t: t.validation).params  # first of equals: base wins ties
    final = fit(best, train)
    test_metrics = evaluation.holdout_metrics(final, train, test, k)
    baseline = evaluation.holdout_metrics(evaluation.PopularityRecommender.fit(train), train, test, k)
    return TuneResult(
        best=best,
        metric=metric,
        trials=trials,
        test=test_metrics,
        baseline=baseline,
        split={"protocol": "holdout", "k": k, "seed": seed, "train_share": train_share, "validation_seed": seed + 1},
    )


# -- the command -----------------------------------------------------------------------
def dataset_fields(dataset) -> dict:
    return {
        "name": dataset.name,
        "fingerprint": dataset.fingerprint,
        "users": int(dataset.n_users),
        "items": int(dataset.n_items),
        "interactions": int(dataset.interactions.nnz),
    }


def params_from_args(config, args: argparse.Namespace) -> TrainParams:
    base = config.training
    return base.replace(
        algorithm=getattr(args, "algorithm", None),
        weighting=getattr(args, "weighting", None),
        factors=getattr(args, "factors", None),
        iterations=getattr(args, "iterations", None),
        regularization=getattr(args, "regularization", None),
        alpha=getattr(args, "alpha", None),
        learning_rate=getattr(args, "learning_rate", None),
        neighbours=getattr(args, "neighbours", None),
    )


def format_metrics(metrics: dict) -> str:
    return ", ".join(f"{name} {value:.4f}" for name, value in metrics.items() if isinstance(value, float))


def calibrate_novelty(
    dataset, params: TrainParams, config, report: Callable[[str], None] = print, interactions: sp.spmatrix | None = None
) -> dict:
    """Calibrate "deep cuts" for this data (``evaluation.calibrate_deep``: a validation split of
    the training data) and say what was chosen; the result goes into the model's manifest."""
    from . import evaluation

    evaluation_config, serving = config.evaluation, config.serving
    report(
        f"Calibrating the deep cuts setting on a validation split of the training users (seed "
        f"{evaluation_config.random_state + 1}) ..."
    )
    novelty = evaluation.calibrate_deep(
        dataset,
        params,
        k=evaluation_config.k,
        seed=evaluation_config.random_state,
        train_share=evaluation_config.train_share,
        per_artist_cap=serving.per_artist_cap,
        min_listeners=serving.min_listeners,
        interactions=interactions,
    )
    for name, part in (("/soundalike and /mix", novelty["similar"]), ("/foryou", novelty["for_you"])):
        chosen = next((row for row in part["grid"] if row["beta"] == part["deep_beta"]), None)
        if chosen is None:
            report(
                f"Deep cuts for {name}: beta 0: no beta kept {evaluation.DEEP_HIT_FLOOR:.0%} of balanced's hits, "
                "so deep cuts answer like balanced"
            )
            continue
        report(
            f"Deep cuts for {name}: beta {part['deep_beta']:g}: {chosen['hit_share']:.0%} of balanced's hit "
            f"rate, median listeners {chosen['listener_share']:.0%} of balanced's"
            + (
                ""
                if part["listener_target_met"]
                else f" (the target, at most {evaluation.DEEP_LISTENER_TARGET:.0%}, was not reachable)"
            )
        )
    return novelty


def train_command(args: argparse.Namespace) -> int:
    from . import evaluation
    from .dataset import Dataset
    from .store import ModelStore

    config = args.config_obj
    name = args.dataset or config.data.default_dataset
    dataset = Dataset.open(config.datasets_dir, name)
    params = params_from_args(config, args)
    k, seed, share = config.evaluation.k, config.evaluation.random_state, config.evaluation.train_share
    print(
        f"Dataset {name}: {dataset.n_users:,} users x {dataset.n_items:,} items, "
        f"{dataset.interactions.nnz:,} interactions"
    )
    manifest_extra: dict = {}
    metrics: dict = {}
    if args.tune:
        print(
            f"Tuning {params.algorithm} on a validation split of the training part "
            f"(up to {args.tune_trials} trials, {args.tune_seconds:.0f} s) ..."
        )
        result = tune(
            dataset.interactions,
            params,
            k=k,
            seed=seed,
            train_share=share,
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
        params = result.best
        print(f"Chosen on validation: {params.describe()}")
        metrics = {**result.split, "model": result.test, "baseline": result.baseline}
        manifest_extra["tuning"] = result.summary()
    elif not args.no_eval:
        print(f"Evaluating {params.describe()} on the holdout split (seed {seed}) ...")
        report = evaluation.evaluate(dataset, params, "holdout", k, seed, train_share=share)
        metrics = {key: report[key] for key in ("protocol", "k", "seed", "train_share", "model", "baseline")}
    if metrics:
        print(f"Held-out test: model {format_metrics(metrics['model'])}")
        print(f"               popularity {format_metrics(metrics['baseline'])}")
    if not args.no_calibrate:
        manifest_extra["novelty"] = calibrate_novelty(dataset, params, config)
    print(f"Training {params.describe()} on all {dataset.interactions.nnz:,} interactions ...")
    fitted = fit(params, dataset.interactions, show_progress=not args.quiet)
    print(f"Trained in {fitted.seconds:.1f} s")
    if args.no_publish:
        print("Not published (--no-publish).")
        return 0
    manifest = {**fitted.manifest_fields(), "dataset": dataset_fields(dataset), "metrics": metrics, **manifest_extra}
    store = ModelStore.for_dataset(config.models_dir, name)
    version = store.publish(fitted.arrays(), manifest)
    print(f"Published {name}/{version} (now current) in {store.folder}")
    return 0


def _open_dataset_quietly(config, name: str):
    """The Dataset to check models against, or None (with a warning) when it cannot be opened."""
    from .dataset import Dataset
    from .errors import SoundalikeError

    try:
        return Dataset.open(config.datasets_dir, name)
    except SoundalikeError as error:
        print(f"warning: {error}; models are checked without their dataset")
        return None


def models_command(args: argparse.Namespace) -> int:
    """List the versions; with --verify check each whole (files, manifest, contents, dataset).

    Exits 1 when a version is damaged, so a script or CI can act on it."""
    from .errors import ModelError, ModelForOtherData
    from .store import ModelStore

    config = args.config_obj
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
    return 1 if damaged else 0


def rollback_command(args: argparse.Namespace) -> int:
    from .store import ModelStore

    config = args.config_obj
    name = args.dataset or config.data.default_dataset
    store = ModelStore.for_dataset(config.models_dir, name)
    before = store.current_version()
    version = store.rollback(_open_dataset_quietly(config, name))
    print(f"{name}: current moved from {before} to {version} (the version served before it)")
    return 0


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


def register(subparsers) -> None:
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
