"""Retraining: learn from the bot's 👍, promote only if not worse.

1. Take the dataset's retrain lock (one retrain per dataset; a lock left by a dead process
   is taken over).
2. Read the positive feedback (``recommender.feedback.offline.read_positive_feedback``): each
   Discord member's 👍 songs become one extra listener row whose play count is
   ``feedback_weight``. A 👎 is never a play.
3. Score the current model's configuration and the candidate (same configuration, dataset
   plus feedback rows) with the same protocol, split and seed. Feedback rows only ever join
   the training part, so both are judged on the same held-out listeners.
4. Promote (calibrate "deep cuts" for the data, fit on everything, publish, move
   ``current``) unless the candidate's primary figure is worse than the current one's by
   more than ``tolerance``; otherwise keep the current model and say why.

Progress goes to a ``report(stage, progress, message)`` callback; the command
(``python -m recommender retrain``, :mod:`recommender.cli.retrain`) prints it, as JSON lines
with ``--json-progress`` for the bot, which runs it as a subprocess. A killed retrain leaves
the store as it was: publishing is atomic, and the next publish removes the killed one's
temporary folder.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recommender.config import Config, TrainParams
from recommender.dataset import Dataset
from recommender.errors import ModelError
from recommender.evaluation.calibration import calibrate_novelty
from recommender.evaluation.metrics import primary_metric
from recommender.evaluation.protocols import evaluate
from recommender.feedback.backends import location_of, shown_url
from recommender.feedback.offline import read_positive_feedback
from recommender.listenbrainz.training import ListeningSummary, linked_listening
from recommender.store import ModelStore, pid_alive
from recommender.training import dataset_fields, fit

log = logging.getLogger(__name__)

LOCK_NAME = ".retrain.lock"
FeedbackReader = Callable[[Path | str], Iterable[tuple[str, str]]]
ListeningReader = Callable[..., tuple[list[tuple[str, str]], ListeningSummary]]
Reporter = Callable[[str, float, str], None]


class RetrainBusy(ModelError):
    """Another retrain of the same dataset is running."""


class RetrainLock:
    """An O_EXCL lock file holding the owner's pid; a dead owner's lock is taken over."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.held = False

    def _owner(self) -> int | None:
        try:
            return int(self.path.read_text(encoding="ascii").split()[0])
        except (FileNotFoundError, ValueError, IndexError, UnicodeDecodeError):
            return None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is not None and owner != os.getpid() and pid_alive(owner):
                    raise RetrainBusy(
                        f"a retrain of {self.path.parent.name!r} is already running (pid {owner}); "
                        f"wait for it to finish"
                    ) from None
                # Dead owner (or unreadable lock): take it over. Re-read just before removing
                # so a lock another process has just taken over is left alone.
                if self._owner() == owner:
                    log.info("taking over a stale retrain lock %s (pid %s is gone)", self.path, owner)
                    self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(f"{os.getpid()} {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")
            self.held = True
            return
        raise RetrainBusy(f"could not take the retrain lock {self.path}")

    def release(self) -> None:
        if self.held and self._owner() == os.getpid():
            self.path.unlink(missing_ok=True)
        self.held = False

    def __enter__(self) -> RetrainLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def default_feedback_reader(db_path: Path | str) -> list[tuple[str, str]]:
    """The members' likes in the bot's log (a file or a PostgreSQL URL; read-only); nothing
    when the log does not exist."""
    return read_positive_feedback(db_path)


@dataclass
class FeedbackRows:
    matrix: sp.csr_matrix  # one row per member, play count = weight on each liked item
    members: int
    likes: int
    unknown_items: int
    weight: float

    def summary(self) -> dict:
        return {
            "members": self.members,
            "likes": self.likes,
            "unknown_items": self.unknown_items,
            "weight": self.weight,
        }


def feedback_rows(dataset: Dataset, pairs: Iterable[tuple[str, str]], weight: float) -> FeedbackRows:
    """Turn ``(member_key, item_id)`` likes into listener rows over the dataset's items."""
    if weight <= 0:
        raise ModelError(f"feedback weight must be above 0, got {weight}")
    member_rows: dict[str, int] = {}
    cells: set[tuple[int, int]] = set()
    unknown = 0
    for member, item_id in pairs:
        item = dataset.item_index(str(item_id))
        if item is None:
            unknown += 1  # a song from another catalog version: nothing to learn here
            continue
        row = member_rows.setdefault(str(member), len(member_rows))
        cells.add((row, item))
    rows = np.fromiter((r for r, _ in cells), dtype=np.int64, count=len(cells))
    cols = np.fromiter((c for _, c in cells), dtype=np.int64, count=len(cells))
    matrix = sp.csr_matrix(
        (np.full(len(cells), weight, dtype=np.float32), (rows, cols)),
        shape=(len(member_rows), dataset.n_items),
    )
    return FeedbackRows(matrix, len(member_rows), len(cells), unknown, float(weight))


def serving_version(store: ModelStore, report: Reporter) -> tuple[str | None, dict | None]:
    """The version being served (the first good one in the store's serving order, as the bot
    picks it) and its manifest."""
    candidates, problems = store.serving_order()
    for problem in problems:
        report("load", 0.02, f"{problem}; using the next good version")
    for version in candidates:
        try:
            return version, store.verify(version)
        except ModelError as error:
            report("load", 0.02, f"{error}; skipping it")
    return None, None


@dataclass(frozen=True)
class Comparison:
    """The candidate (dataset + feedback) against the current model's configuration, on one split."""

    promote: bool
    reason: str
    metrics: dict  # protocol, k, seed, train_share, metric, candidate, baseline[, current]
    candidate: dict  # the candidate's figures


def retrain(
    config: Config,
    dataset_name: str,
    *,
    feedback_db: Path | str | None = None,
    feedback_weight: float | None = None,
    tolerance: float | None = None,
    protocol: str | None = None,
    params_from: str = "current",
    read_feedback: FeedbackReader | None = None,
    report: Reporter | None = None,
    read_listening: ListeningReader | None = None,
) -> dict:
    """Train a candidate on dataset + feedback; promote it only if it is not worse.

    Feedback is the members' 👍 and, for servers listed in ``[listenbrainz]
    train_from_linked``, the catalog songs of their linked ListenBrainz accounts' recent
    listens, weighted like a 👍 (:mod:`recommender.listenbrainz.training`).

    Returns the final report (the ``done`` object without its ``stage``/``progress``).
    """
    report = report or (lambda stage, progress, message: None)
    # A file, or a PostgreSQL URL (never made a Path: that would fold its //).
    feedback_db = location_of(feedback_db) if feedback_db is not None else config.database_location
    shown_db = shown_url(feedback_db) if isinstance(feedback_db, str) else str(feedback_db)
    weight = config.bot.feedback_weight if feedback_weight is None else feedback_weight
    tolerance = config.bot.promotion_tolerance if tolerance is None else tolerance
    protocol = protocol or config.evaluation.protocol
    store = ModelStore.for_dataset(config.models_dir, dataset_name)

    with RetrainLock(store.folder / LOCK_NAME):
        report("load", 0.02, f"loading dataset {dataset_name}")
        dataset = Dataset.open(config.datasets_dir, dataset_name)
        current, current_manifest = serving_version(store, report)
        params = config.training
        if params_from == "current" and current_manifest is not None:
            params = TrainParams.from_dict(current_manifest.get("parameters", {}))
            # Which engine fits, and where, is this deployment's choice, not the model's.
            params = params.replace(engine=config.training.engine, spark_master=config.training.spark_master)
        log.info("reading feedback from %s", shown_db)
        report("feedback", 0.05, "reading the members' 👍 from the feedback log")
        liked = list((read_feedback or default_feedback_reader)(feedback_db))
        listened, listening = (read_listening or linked_listening)(config, dataset, feedback_db, report)
        feedback = feedback_rows(dataset, [*liked, *listened], weight)
        report("feedback", 0.08, _feedback_line(feedback, played=bool(listened)) + _listening_line(listening))
        comparison = _compare(config, dataset, params, protocol, current, feedback, tolerance, report)
        outcome = {
            "reason": comparison.reason,
            "metrics": comparison.metrics,
            "feedback": feedback.summary(),
            "listening": listening.to_dict(),
        }
        if not comparison.promote:
            report("decide", 0.6, comparison.reason)
            return {"promoted": False, "version": current, **outcome}
        report("decide", 0.6, "promoting: " + comparison.reason)
        manifest = {
            "feedback": {**feedback.summary(), "database": shown_db, "listening": listening.to_dict()},
            "retrain": {"compared_with": current, "tolerance": tolerance, "reason": comparison.reason},
        }
        version = _train_and_publish(config, store, dataset, params, feedback, comparison, manifest, report)
        return {"promoted": True, "version": version, **outcome}


def _feedback_line(feedback: FeedbackRows, *, played: bool = False) -> str:
    unknown = f", {feedback.unknown_items} not in the catalog" if feedback.unknown_items else ""
    what = "songs liked or played" if played else "liked songs"
    return f"{feedback.likes} {what} from {feedback.members} members (weight {feedback.weight:g} each{unknown})"


def _listening_line(listening: ListeningSummary) -> str:
    if not listening.members:
        return ""
    unavailable = f", {listening.unavailable} could not be read" if listening.unavailable else ""
    return (
        f"; with {listening.matched} of {listening.listens} listens of {listening.members} linked ListenBrainz "
        f"accounts matched ({listening.songs} member-song pairs{unavailable})"
    )


def _compare(
    config: Config,
    dataset: Dataset,
    params: TrainParams,
    protocol: str,
    current: str | None,
    feedback: FeedbackRows,
    tolerance: float,
    report: Reporter,
) -> Comparison:
    """Score the current model's configuration and the candidate with the same protocol, split
    and seed; the candidate is promoted unless its primary figure drops by more than ``tolerance``."""
    k, seed, share = config.evaluation.k, config.evaluation.random_state, config.evaluation.train_share
    metric = primary_metric(protocol, k)
    current_report = None
    if current is not None:
        report("evaluate", 0.1, f"scoring the current model {current}'s configuration ({protocol}, seed {seed})")
        current_report = evaluate(dataset, params, protocol, k, seed, train_share=share)
    report("evaluate", 0.35, f"scoring the candidate ({params.describe()} + feedback)")
    candidate_report = evaluate(dataset, params, protocol, k, seed, train_share=share, extra_train=feedback.matrix)
    candidate_value = candidate_report["model"][metric]
    metrics = {
        "protocol": protocol,
        "k": k,
        "seed": seed,
        "train_share": share,
        "metric": metric,
        "candidate": candidate_report["model"],
        "baseline": candidate_report["baseline"],
    }
    if current_report is None:
        reason = f"no current model to compare with; candidate {metric} {candidate_value:.4f}"
        return Comparison(True, reason, metrics, candidate_report["model"])
    metrics["current"] = current_report["model"]
    metrics["baseline"] = current_report["baseline"]
    current_value = current_report["model"][metric]
    if candidate_value < current_value - tolerance:
        reason = (
            f"candidate {metric} {candidate_value:.4f} is below current {current} "
            f"({current_value:.4f}) by more than the tolerance {tolerance:g}; kept {current}"
        )
        return Comparison(False, reason, metrics, candidate_report["model"])
    reason = (
        f"candidate {metric} {candidate_value:.4f} vs current {current} {current_value:.4f} (tolerance {tolerance:g})"
    )
    return Comparison(True, reason, metrics, candidate_report["model"])


def _train_and_publish(
    config: Config,
    store: ModelStore,
    dataset: Dataset,
    params: TrainParams,
    feedback: FeedbackRows,
    comparison: Comparison,
    manifest_extra: dict,
    report: Reporter,
) -> str:
    """Calibrate "deep cuts" for dataset + feedback, fit on all of it and publish: the new version."""
    everything = sp.vstack([dataset.interactions, feedback.matrix], format="csr")
    novelty = calibrate_novelty(
        dataset, params, config, lambda message: report("calibrate", 0.62, message), interactions=everything
    )
    report("train", 0.65, f"training on {everything.nnz:,} interactions ({everything.shape[0]:,} listeners)")
    fitted = fit(params, everything, progress=lambda p: report("train", 0.65 + 0.3 * p, f"training {p:.0%}"))
    metrics = comparison.metrics
    manifest = {
        **fitted.manifest_fields(),
        "dataset": dataset_fields(dataset),
        "metrics": {
            **{key: metrics[key] for key in ("protocol", "k", "seed", "train_share")},
            "model": comparison.candidate,
            "baseline": metrics["baseline"],
        },
        **manifest_extra,
        "novelty": novelty,
    }
    report("publish", 0.97, "publishing")
    return store.publish(fitted.arrays(), manifest)
