"""``python -m recommender retrain``: learn from the bot's 👍, promote only if not worse.

1. Take the dataset's retrain lock (one retrain per dataset; a lock left by a dead process
   is taken over).
2. Read the positive feedback (``recommender.feedback.log.read_positive_feedback``): each
   Discord member's 👍 songs become one extra listener row whose play count is
   ``feedback_weight``. A 👎 is never a play.
3. Score the current model's configuration and the candidate (same configuration, dataset
   plus feedback rows) with the same protocol, split and seed. Feedback rows only ever join
   the training part, so both are judged on the same held-out listeners.
4. Promote (calibrate "deep cuts" for the data, fit on everything, publish, move
   ``current``) unless the candidate's primary figure is worse than the current one's by
   more than ``tolerance``; otherwise keep the current model and say why.

``--json-progress`` prints one JSON object per line for the bot, which runs this as a
subprocess: ``{"stage", "progress" (0..1), "message"}``, ending with
``{"stage": "done", "promoted", "version", "reason", "metrics"}`` (or ``"stage": "error"``).
A killed retrain leaves the store as it was: publishing is atomic, and the next publish
removes the killed one's temporary folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .errors import ModelError, SoundalikeError, without_paths
from .store import ModelStore, pid_alive

log = logging.getLogger(__name__)

LOCK_NAME = ".retrain.lock"
FeedbackReader = Callable[[Path], Iterable[tuple[str, str]]]
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


def default_feedback_reader(db_path: Path) -> list[tuple[str, str]]:
    """``read_positive_feedback`` from the bot's log; nothing when the log does not exist."""
    if not Path(db_path).exists():
        return []
    from .feedback import log as feedback_log

    reader = getattr(feedback_log, "read_positive_feedback", None)
    if reader is None:
        raise ModelError("recommender.feedback.log has no read_positive_feedback(); cannot read feedback")
    return list(reader(db_path))


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


def feedback_rows(dataset, pairs: Iterable[tuple[str, str]], weight: float) -> FeedbackRows:
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


def retrain(
    config,
    dataset_name: str,
    *,
    feedback_db: Path | None = None,
    feedback_weight: float | None = None,
    tolerance: float | None = None,
    protocol: str | None = None,
    params_from: str = "current",
    read_feedback: FeedbackReader | None = None,
    report: Reporter | None = None,
) -> dict:
    """Train a candidate on dataset + feedback; promote it only if it is not worse.

    Returns the final report (the ``done`` object without its ``stage``/``progress``).
    """
    from .dataset import Dataset
    from .evaluation import evaluate, primary_metric
    from .training import TrainParams, calibrate_novelty, dataset_fields, fit

    report = report or (lambda stage, progress, message: None)
    feedback_db = Path(feedback_db) if feedback_db is not None else config.database_path
    weight = config.bot.feedback_weight if feedback_weight is None else feedback_weight
    tolerance = config.bot.promotion_tolerance if tolerance is None else tolerance
    protocol = protocol or config.evaluation.protocol
    k, seed, share = config.evaluation.k, config.evaluation.random_state, config.evaluation.train_share
    store = ModelStore.for_dataset(config.models_dir, dataset_name)

    with RetrainLock(store.folder / LOCK_NAME):
        report("load", 0.02, f"loading dataset {dataset_name}")
        dataset = Dataset.open(config.datasets_dir, dataset_name)
        current, current_manifest = serving_version(store, report)
        params = config.training
        if params_from == "current" and current_manifest is not None:
            params = TrainParams.from_dict(current_manifest.get("parameters", {}))

        log.info("reading feedback from %s", feedback_db)
        report("feedback", 0.05, "reading the members' 👍 from the feedback log")
        pairs = (read_feedback or default_feedback_reader)(feedback_db)
        feedback = feedback_rows(dataset, pairs, weight)
        report(
            "feedback",
            0.08,
            f"{feedback.likes} liked songs from {feedback.members} members "
            f"(weight {weight:g} each{f', {feedback.unknown_items} not in the catalog' if feedback.unknown_items else ''})",
        )

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
        if current_report is not None:
            metrics["current"] = current_report["model"]
            metrics["baseline"] = current_report["baseline"]
            current_value = current_report["model"][metric]
            if candidate_value < current_value - tolerance:
                reason = (
                    f"candidate {metric} {candidate_value:.4f} is below current {current} "
                    f"({current_value:.4f}) by more than the tolerance {tolerance:g}; kept {current}"
                )
                report("decide", 0.6, reason)
                return {
                    "promoted": False,
                    "version": current,
                    "reason": reason,
                    "metrics": metrics,
                    "feedback": feedback.summary(),
                }
            reason = (
                f"candidate {metric} {candidate_value:.4f} vs current {current} {current_value:.4f} "
                f"(tolerance {tolerance:g})"
            )
        else:
            reason = f"no current model to compare with; candidate {metric} {candidate_value:.4f}"
        report("decide", 0.6, "promoting: " + reason)

        everything = sp.vstack([dataset.interactions, feedback.matrix], format="csr")
        novelty = calibrate_novelty(
            dataset, params, config, lambda message: report("calibrate", 0.62, message), interactions=everything
        )
        report("train", 0.65, f"training on {everything.nnz:,} interactions ({everything.shape[0]:,} listeners)")
        fitted = fit(params, everything, progress=lambda p: report("train", 0.65 + 0.3 * p, f"training {p:.0%}"))
        manifest = {
            **fitted.manifest_fields(),
            "dataset": dataset_fields(dataset),
            "metrics": {
                "protocol": protocol,
                "k": k,
                "seed": seed,
                "train_share": share,
                "model": candidate_report["model"],
                "baseline": metrics["baseline"],
            },
            "feedback": {**feedback.summary(), "database": str(feedback_db)},
            "retrain": {"compared_with": current, "tolerance": tolerance, "reason": reason},
            "novelty": novelty,
        }
        report("publish", 0.97, "publishing")
        version = store.publish(fitted.arrays(), manifest)
        return {
            "promoted": True,
            "version": version,
            "reason": reason,
            "metrics": metrics,
            "feedback": feedback.summary(),
        }


def retrain_command(args: argparse.Namespace) -> int:
    config = args.config_obj
    name = args.dataset or config.data.default_dataset

    def emit(payload: dict) -> None:
        if args.json_progress:
            sys.stdout.write(json.dumps(payload) + "\n")
            sys.stdout.flush()

    last_stage = [""]
    # --json-progress lines are for the bot, which shows them in Discord: no server paths in
    # them (a message naming one is logged here whole, on stderr).
    roots = (config.data_root, config.database_path, config.base_dir, Path.home())

    def for_the_bot(message: str) -> str:
        shown = without_paths(message, roots)
        if shown != message:
            log.info("%s", message)
        return shown

    def report(stage: str, progress: float, message: str) -> None:
        if args.json_progress:
            emit({"stage": stage, "progress": round(min(max(progress, 0.0), 1.0), 4), "message": for_the_bot(message)})
        elif stage != "train" or last_stage[0] != "train":  # people need no per-iteration lines
            print(f"[{stage}] {message}", flush=True)
        last_stage[0] = stage

    try:
        result = retrain(
            config,
            name,
            feedback_db=args.feedback_db,
            feedback_weight=args.feedback_weight,
            tolerance=args.tolerance,
            protocol=args.protocol,
            params_from=args.params,
            report=report,
        )
    except SoundalikeError as error:
        emit({"stage": "error", "progress": 1.0, "message": for_the_bot(str(error))})
        raise
    message = (
        f"promoted {name}/{result['version']}" if result["promoted"] else f"kept {name}/{result['version']}"
    ) + f": {result['reason']}"
    if args.json_progress:
        emit({"stage": "done", "progress": 1.0, "message": message, **result})
    else:
        print(message)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "retrain",
        help="train on the dataset plus the bot's 👍 feedback; promote only if not worse",
        description="Each member's 👍 songs become one extra listener (play count = feedback weight; "
        "👎 never counts). The candidate and the current model's configuration are scored with the "
        "same protocol, split and seed; the candidate becomes current unless its figure drops by "
        "more than the tolerance.",
    )
    parser.add_argument("--dataset", help="dataset name (default: [data] default_dataset)")
    parser.add_argument("--feedback-db", type=Path, help="the bot's SQLite log (default: [bot] database)")
    parser.add_argument("--feedback-weight", type=float, help="play count of one 👍 (default: [bot] feedback_weight)")
    parser.add_argument(
        "--tolerance", type=float, help="allowed drop of the figure (default: [bot] promotion_tolerance)"
    )
    parser.add_argument("--protocol", choices=("holdout", "users", "item2item"), help="default: [evaluation] protocol")
    parser.add_argument(
        "--params",
        choices=("current", "config"),
        default="current",
        help="train the current model's configuration (default) or config.toml [training]",
    )
    parser.add_argument("--json-progress", action="store_true", help="one JSON object per line on stdout")
    parser.set_defaults(func=retrain_command)
