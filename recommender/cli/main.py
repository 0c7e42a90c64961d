"""``python -m recommender``: the command line over the library.

Each command module of this package registers its own sub-commands (its
``register(subparsers)``), so this file only assembles them and turns expected failures
(:class:`SoundalikeError`, a file the system refuses, a mistyped argument) into one line
``error: ...`` and exit status 2. Only warnings are logged unless ``-v`` asks for the details.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import NoReturn

from recommender.cli import data, evaluate, query, retrain, train
from recommender.config import load_config
from recommender.errors import SoundalikeError
from recommender.text import strip_invisible

# An error message may quote catalog text (the closest titles): cleaned like any, this long at most.
MAX_ERROR_CHARS = 4000


class Parser(argparse.ArgumentParser):
    """argparse with the CLI's one error style: ``error: ...`` and where to find help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m recommender",
        description="Soundalike: import listening data, train, resolve titles, recommend, evaluate.",
    )
    parser.add_argument("--config", help="config file (default: config.toml at the project root)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    data_parser = commands.add_parser("data", help="build or import datasets")
    data_commands = data_parser.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)
    data.register(data_commands)  # import-msd, import-csv, download-msd, demo
    train.register(commands)  # train, models, rollback
    query.register(commands)  # similar, mix, resolve
    evaluate.register(commands)
    retrain.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        args.config_obj = load_config(args.config)
        result = args.func(args)
    except SoundalikeError as error:
        print(f"error: {strip_invisible(str(error), MAX_ERROR_CHARS)}", file=sys.stderr)
        return 2
    except OSError as error:  # a disk that is full or a file the system refuses, not a bug
        logging.getLogger(__name__).debug("details", exc_info=True)
        where = f": {error.filename}" if error.filename else ""
        print(f"error: {error.strerror or error}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)
