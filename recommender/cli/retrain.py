"""``python -m recommender retrain``: learn from the bot's 👍, promote only if not worse.

The retrain itself is :func:`recommender.retrain.retrain`. ``--json-progress`` prints one JSON
object per line for the bot, which runs this as a subprocess: ``{"stage", "progress" (0..1),
"message"}``, ending with ``{"stage": "done", "promoted", "version", "reason", "metrics"}`` (or
``"stage": "error"``). Those lines are shown in Discord, so they name no server path.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from recommender.config import Config
from recommender.errors import SoundalikeError, without_paths
from recommender.feedback.backends import location_of, log_names
from recommender.retrain import retrain

log = logging.getLogger(__name__)


def retrain_command(args: argparse.Namespace) -> int:
    config: Config = args.config_obj
    name = args.dataset or config.data.default_dataset

    def emit(payload: dict) -> None:
        if args.json_progress:
            sys.stdout.write(json.dumps(payload) + "\n")
            sys.stdout.flush()

    last_stage = [""]
    # --json-progress lines are for the bot, which shows them in Discord: no server paths in
    # them (a message naming one is logged here whole, on stderr).
    roots = (config.data_root, *log_names(config.database_location), config.base_dir, Path.home())

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


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "retrain",
        help="train on the dataset plus the bot's 👍 feedback; promote only if not worse",
        description="Each member's 👍 songs become one extra listener (play count = feedback weight; "
        "👎 never counts); in servers listed in [listenbrainz] train_from_linked, so do the catalog songs "
        "of members' linked ListenBrainz listens, weighted like a 👍. The candidate and the current "
        "model's configuration are scored with the "
        "same protocol, split and seed; the candidate becomes current unless its figure drops by "
        "more than the tolerance.",
    )
    parser.add_argument("--dataset", help="dataset name (default: [data] default_dataset)")
    parser.add_argument(
        "--feedback-db",
        type=location_of,
        help="the bot's log: a SQLite file or a postgresql:// URL (default: [bot] database)",
    )
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
