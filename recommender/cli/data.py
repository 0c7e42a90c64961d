"""``python -m recommender data import-msd | import-csv | import-listenbrainz | download-msd | demo``.

Each handler takes the parsed arguments (``args.config_obj`` is the loaded Config), writes
datasets under ``config.datasets_dir / <name>`` and returns an exit status. Expected failures
are :class:`SoundalikeError` subclasses, which the CLI prints as one line.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

from recommender.config import Config
from recommender.errors import SoundalikeError
from recommender.importers import demo
from recommender.importers.csv import CsvOptions, import_csv
from recommender.importers.detection import parse_separator
from recommender.importers.download import download_msd
from recommender.importers.dump_files import MonthRange, parse_month
from recommender.importers.listenbrainz import import_listenbrainz
from recommender.importers.msd import import_msd
from recommender.store import ModelStore

from .arguments import whole_number

DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def dataset_dest(args: argparse.Namespace) -> Path:
    """Where ``--name`` goes; an existing dataset there is refused unless ``--replace``."""
    name = args.name
    if not DATASET_NAME.fullmatch(name):
        raise SoundalikeError(
            f"dataset name {name!r}: use letters, digits, '-', '_' and '.', "
            "starting with a letter or digit (at most 64 characters)"
        )
    dest = args.config_obj.datasets_dir / name
    refuse_to_replace(args.config_obj, name, dest, replace=getattr(args, "replace", False))
    return dest


def _trained_on(config: Config, name: str) -> dict[str, str | None]:
    """Each published model version of dataset ``name`` -> the dataset fingerprint it was trained on."""
    store = ModelStore.for_dataset(config.models_dir, name)
    versions: dict[str, str | None] = {}
    for version in store.versions():
        try:
            versions[version] = (store.read_manifest(version).get("dataset") or {}).get("fingerprint")
        except (SoundalikeError, AttributeError):
            versions[version] = None  # damaged: it is refused anyway
    return versions


def _describe_existing(dest: Path) -> str:
    try:
        manifest = json.loads((dest / "manifest.json").read_text(encoding="utf-8"))
        return f"{manifest['users']:,} users, {manifest['items']:,} items, imported {manifest.get('created', '?')}"
    except (OSError, ValueError, KeyError, TypeError):
        return "unreadable or incomplete"


def refuse_to_replace(config: Config, name: str, dest: Path, *, replace: bool) -> None:
    """An import never overwrites a dataset by accident: without ``replace`` it stops, saying
    what is there and what replacing it would do to the models trained on it."""
    if not dest.exists() or replace:
        return
    models = sorted(_trained_on(config, name))
    consequence = (
        f"; models {', '.join(models)} were trained on it and would be refused until you train again" if models else ""
    )
    raise SoundalikeError(
        f"dataset {name!r} already exists ({_describe_existing(dest)}){consequence}: "
        "pass --replace to replace it, or choose another --name"
    )


def report_models_after_replace(config: Config, name: str, dest: Path) -> None:
    """After an import: say whether the models of this dataset still fit the data now there."""
    versions = _trained_on(config, name)
    if not versions:
        return
    try:
        fingerprint = json.loads((dest / "manifest.json").read_text(encoding="utf-8"))["fingerprint"]
    except (OSError, ValueError, KeyError, TypeError):
        fingerprint = None
    stale = [version for version, trained_on in versions.items() if trained_on != fingerprint]
    if not stale:
        print(f"The data is the same as before: the models of {name!r} ({', '.join(versions)}) still fit it.")
        return
    print(
        f"warning: models {', '.join(stale)} of {name!r} were trained on the data just replaced; the bot, "
        f"the console and the CLI will refuse them until you train again: "
        f"python -m recommender train --dataset {name}"
    )


def _print_summary(summary) -> None:
    for line in summary.lines():
        print(line)


def import_msd_command(args: argparse.Namespace) -> int:
    if args.engine == "spark":
        from recommender.cli.spark_data import import_msd_on_spark

        summary = import_msd_on_spark(args, dataset_dest(args))
        _print_summary(summary)
        report_models_after_replace(args.config_obj, args.name, summary.dest)
        return 0
    _refuse_master(args)
    summary = import_msd(
        triplets=Path(args.triplets),
        tracks=Path(args.tracks),
        dest=dataset_dest(args),
        name=args.name,
        on_error=args.on_error,
        progress=not args.no_progress,
    )
    _print_summary(summary)
    report_models_after_replace(args.config_obj, args.name, summary.dest)
    return 0


def import_csv_command(args: argparse.Namespace) -> int:
    if args.engine == "spark":
        from recommender.cli.spark_data import import_csv_on_spark

        summary = import_csv_on_spark(args, dataset_dest(args))
        _print_summary(summary)
        report_models_after_replace(args.config_obj, args.name, summary.dest)
        return 0
    _refuse_master(args)
    separator = parse_separator(args.sep)
    options = CsvOptions(
        separator=separator,
        catalog_separator=parse_separator(args.catalog_sep) if args.catalog_sep else None,
        quote=args.quote,
        interactions_header=args.interactions_header,
        catalog_header=args.catalog_header,
        user_col=args.user_col,
        item_col=args.item_col,
        count_col=args.count_col,
        catalog_item_col=args.catalog_item_col,
        title_col=args.title_col,
        artist_col=args.artist_col,
        on_error=args.on_error,
    )
    summary = import_csv(
        interactions=Path(args.interactions),
        catalog=Path(args.catalog) if args.catalog is not None else None,
        dest=dataset_dest(args),
        name=args.name,
        options=options,
        progress=not args.no_progress,
    )
    _print_summary(summary)
    report_models_after_replace(args.config_obj, args.name, summary.dest)
    return 0


def import_listenbrainz_command(args: argparse.Namespace) -> int:
    months = MonthRange(
        parse_month(args.first, "--from") if args.first else None,
        parse_month(args.last, "--to") if args.last else None,
    )
    if args.engine == "spark":
        from recommender.cli.spark_data import import_listenbrainz_on_spark

        summary = import_listenbrainz_on_spark(args, dataset_dest(args), months)
        _print_summary(summary)
        report_models_after_replace(args.config_obj, args.name, summary.dest)
        print(f"Next: python -m recommender train --dataset {args.name}")
        return 0
    _refuse_master(args)
    summary = import_listenbrainz(
        dump=args.dump,
        dest=dataset_dest(args),
        name=args.name,
        months=months,
        min_listeners=args.min_listeners,
        on_error=args.on_error,
        progress=not args.no_progress,
    )
    _print_summary(summary)
    report_models_after_replace(args.config_obj, args.name, summary.dest)
    print(f"Next: python -m recommender train --dataset {args.name}")
    return 0


def download_msd_command(args: argparse.Namespace) -> int:
    dest = args.dest if args.dest is not None else args.config_obj.data_root / "downloads"
    files = download_msd(
        Path(dest),
        base_url=args.base_url,
        retries=args.retries,
        timeout=args.timeout,
        force=args.force,
        progress=not args.no_progress,
    )
    for path in files:
        print(f"ready: {path}")
    tracks = next((p for p in files if p.name == "unique_tracks.txt"), None)
    triplets = next((p for p in files if p.name == "train_triplets.txt"), None)
    if tracks and triplets:
        print(f"next: python -m recommender data import-msd --triplets {triplets} --tracks {tracks}")
    return 0


def demo_command(args: argparse.Namespace) -> int:
    config: Config = args.config_obj
    dest = config.datasets_dir / args.name
    refuse_to_replace(config, args.name, dest, replace=getattr(args, "replace", False))
    started = time.perf_counter()
    demo.build_demo_dataset(dest, name=args.name, users=args.users, seed=args.seed)
    manifest = json.loads((dest / "manifest.json").read_text(encoding="utf-8"))
    print(
        f"Built dataset {args.name!r} in {dest}: {manifest['users']:,} synthetic listeners, "
        f"{manifest['items']:,} songs, {manifest['interactions']:,} listener-song pairs "
        f"(seed {args.seed}, {time.perf_counter() - started:.1f} s)."
    )
    report_models_after_replace(config, args.name, dest)
    print(f"Next: python -m recommender train --dataset {args.name}")
    return 0


def _add_common(parser: argparse.ArgumentParser, default_name: str | None) -> None:
    if default_name is None:
        parser.add_argument("--name", required=True, help="dataset name (folder under data/datasets)")
    else:
        parser.add_argument(
            "--name", default=default_name, help=f"dataset name (folder under data/datasets; default {default_name})"
        )
    parser.add_argument(
        "--on-error",
        choices=("stop", "skip"),
        default="stop",
        help="a malformed row stops the import (default) or is skipped and counted",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_replace_option(parser)


def _refuse_master(args: argparse.Namespace) -> None:
    if args.master is not None:
        raise SoundalikeError("--master names where Spark runs: add --engine spark, or leave --master out")


def _add_engine(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=("memory", "spark"),
        default="memory",
        help="memory: read here into memory (default); spark: Spark reads the files (file://, hdfs://, "
        "s3a://) and writes a dataset Spark trains on directly (README, Training on Spark)",
    )
    parser.add_argument(
        "--master", help="with --engine spark: local[2], spark://host:7077, yarn (default: [training] spark_master)"
    )


def add_replace_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--replace",
        action="store_true",
        help="replace a dataset of that name (without it, an existing one stops the import; "
        "models trained on the old data are then refused until you train again)",
    )


# -- options checked as they are parsed (the demo's) ------------------------------------
def _dataset_name(text: str) -> str:
    if not DATASET_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a dataset name: use letters, digits, '.', '_' or '-' "
            "(at most 64, starting with a letter or digit)"
        )
    return text


def _user_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= demo.MAX_USERS:
        raise argparse.ArgumentTypeError(f"{value} listeners is outside 1..{demo.MAX_USERS:,}")
    return value


def register(data_subparsers: argparse._SubParsersAction) -> None:
    _register_import_msd(data_subparsers)
    _register_import_csv(data_subparsers)
    _register_import_listenbrainz(data_subparsers)
    _register_download_msd(data_subparsers)
    _register_demo(data_subparsers)


def _register_import_msd(data_subparsers: argparse._SubParsersAction) -> None:
    msd = data_subparsers.add_parser(
        "import-msd",
        help="import the Million Song Dataset's triplets and track catalog",
        description="Import train_triplets.txt (user<TAB>song<TAB>count) and unique_tracks.txt "
        "(track<SEP>song<SEP>artist<SEP>title). Items are every song of either file, "
        "sorted by song id; each song takes the title and artist of its smallest track "
        "id; songs missing from the catalog are titled by their id.",
    )
    msd.add_argument("--triplets", required=True, help="train_triplets.txt (with --engine spark: any path Spark reads)")
    msd.add_argument("--tracks", required=True, help="unique_tracks.txt (with --engine spark: any path Spark reads)")
    _add_common(msd, "msd")
    _add_engine(msd)
    msd.set_defaults(func=import_msd_command)


def _register_import_csv(data_subparsers: argparse._SubParsersAction) -> None:
    csv = data_subparsers.add_parser(
        "import-csv",
        help="import a user/item/count file and a catalog",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Import any delimited user, item[, count] file plus an optional catalog "
        "(item, title[, artist]).\nColumns are 0-based numbers, or names when the file "
        "has a header. Repeated (user, item) rows are summed. The separator and a header\n"
        "line are detected when not given; .parquet files are read as Parquet.\n\n"
        "A comma-separated pair with header lines (user,item,count / item,title,artist):\n"
        "  python -m recommender data import-csv --interactions plays.csv \\\n"
        "    --catalog catalog.csv --name mine\n\n"
        "Last.fm HetRec 2011 (items are artists, so the artist name is both title and "
        "artist):\n"
        "  python -m recommender data import-csv \\\n"
        "    --interactions ../shared/datasets/hetrec2011-lastfm-2k/user_artists.dat \\\n"
        "    --catalog ../shared/datasets/hetrec2011-lastfm-2k/artists.dat --catalog-header \\\n"
        "    --catalog-item-col 0 --title-col 1 --artist-col 1 --name lastfm",
    )
    csv.add_argument(
        "--interactions", required=True, help="user, item[, count] file (with --engine spark: any path Spark reads)"
    )
    csv.add_argument("--catalog", help="item, title[, artist] file (default: none; items are then titled by their id)")
    csv.add_argument(
        "--sep",
        default="auto",
        help="field separator: a character, an escape such as "
        "'\\t', or tab/comma/semicolon/pipe (default: detected in "
        "each file, and the import says what it found)",
    )
    csv.add_argument("--catalog-sep", help="the catalog's separator, when it differs from --sep")
    csv.add_argument(
        "--quote", default="auto", help="quote character, or 'none' (default: '\"' unless the separator is a tab)"
    )
    csv.add_argument(
        "--interactions-header",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the interactions file starts with a header line, or not (default: detected)",
    )
    csv.add_argument(
        "--catalog-header",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the catalog starts with a header line, or not (default: detected)",
    )
    csv.add_argument("--user-col", default="0", help="user column (default 0)")
    csv.add_argument("--item-col", default="1", help="item column (default 1)")
    csv.add_argument(
        "--count-col",
        default="auto",
        help="play count column, or 'none' to count each row as one play "
        "(default: column 2 when the file has 3 or more columns, else none)",
    )
    csv.add_argument("--catalog-item-col", default="0", help="the catalog's item column (default 0)")
    csv.add_argument("--title-col", default="1", help="the catalog's title column (default 1)")
    csv.add_argument(
        "--artist-col",
        default="auto",
        help="the catalog's artist column, or 'none' (default: the column named artist when "
        "the catalog has a header, else none: artist 'Unknown artist'); for a catalog "
        "of artists give the name column again",
    )
    _add_common(csv, None)
    _add_engine(csv)
    csv.set_defaults(func=import_csv_command)


def _register_import_listenbrainz(data_subparsers: argparse._SubParsersAction) -> None:
    lb = data_subparsers.add_parser(
        "import-listenbrainz",
        help="import a ListenBrainz listens dump (real listening up to this month, CC0)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Import a ListenBrainz listens dump: the listenbrainz-listens-dump-... folder or its\n"
        ".tar.zst / .tar.xz archive as published at\n"
        "https://data.metabrainz.org/pub/musicbrainz/listenbrainz/ (listens/<year>/<month>.listens,\n"
        "one JSON listen per line). Users are listeners, songs are recordings (merged by\n"
        "MusicBrainz recording id when ListenBrainz matched the listen, else by normalised title\n"
        "and artist), counts are listens. The archive is read as a stream, never unpacked.\n\n"
        "  python -m recommender data import-listenbrainz \\\n"
        "    --dump listenbrainz-listens-dump-2000-20250101-000000-full.tar.zst \\\n"
        "    --from 2015-01 --to 2025-12 --min-listeners 5 --name lb",
    )
    lb.add_argument(
        "--dump",
        type=Path,
        required=True,
        help="the dump folder, .tar.zst or .tar.xz (with --engine spark: the extracted folder, any path Spark reads)",
    )
    lb.add_argument("--from", dest="first", metavar="YYYY-MM", help="first month to import (default: the dump's first)")
    lb.add_argument("--to", dest="last", metavar="YYYY-MM", help="last month to import, inclusive (default: the last)")
    lb.add_argument(
        "--min-listeners",
        type=whole_number(1, "must be 1 or more, got {value}"),
        default=1,
        metavar="N",
        help="keep only recordings at least N listeners played (default 1: all)",
    )
    _add_common(lb, "lb")
    _add_engine(lb)
    lb.set_defaults(func=import_listenbrainz_command)


def _register_download_msd(data_subparsers: argparse._SubParsersAction) -> None:
    download = data_subparsers.add_parser(
        "download-msd",
        help="download the MSD triplets and track catalog (resumable)",
        description="Fetch train_triplets.txt.zip and unique_tracks.txt with a progress bar, resume "
        "an interrupted download (HTTP Range, a .part file), check the size, and unzip "
        "the triplets.",
    )
    download.add_argument("--dest", type=Path, help="folder (default: data/downloads)")
    download.add_argument("--base-url", help="fetch both files from this folder URL instead of millionsongdataset.com")
    download.add_argument(
        "--retries", type=int, default=5, help="how many times a broken transfer is resumed (default 5)"
    )
    download.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds without data before a transfer counts as broken (default 60)",
    )
    download.add_argument("--force", action="store_true", help="download again even if the files exist")
    download.add_argument("--no-progress", action="store_true", help="no progress bar")
    download.set_defaults(func=download_msd_command)


def _register_demo(data_subparsers: argparse._SubParsersAction) -> None:
    demo_parser = data_subparsers.add_parser(
        "demo",
        help="build the demo dataset: synthetic listeners over the shipped catalog of real songs",
        description="Build a dataset from data/demo/catalog.csv with synthetic listeners "
        "(genre and era tastes, popular-song skew). The same seed gives the same data.",
    )
    demo_parser.add_argument(
        "--name",
        type=_dataset_name,
        default=demo.DEFAULT_NAME,
        help=f"dataset name under the data root's datasets/ (default {demo.DEFAULT_NAME})",
    )
    demo_parser.add_argument(
        "--users",
        type=_user_count,
        default=demo.DEFAULT_USERS,
        help=f"number of synthetic listeners (default {demo.DEFAULT_USERS:,})",
    )
    demo_parser.add_argument(
        "--seed",
        type=whole_number(0, "the seed must not be negative, got {value}"),
        default=demo.DEFAULT_SEED,
        help=f"random seed (default {demo.DEFAULT_SEED})",
    )
    add_replace_option(demo_parser)
    demo_parser.set_defaults(func=demo_command)
