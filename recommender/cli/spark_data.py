"""``data import-msd | import-csv | import-listenbrainz --engine spark``: the options of the in-memory importers, read
by Spark (recommender.spark.importing). Imported only when ``--engine spark`` is given."""

from __future__ import annotations

import argparse
from pathlib import Path
from urllib.parse import unquote

from recommender.errors import SoundalikeError
from recommender.importers.detection import AUTO, NONE_WORDS, detect_format, parse_separator
from recommender.importers.dump_files import MonthRange
from recommender.importers.reading import ImportSummary
from recommender.spark.importing import SparkCsvOptions, csv_reader, import_with_spark, msd_reader, spark_url


def _master(args: argparse.Namespace) -> str:
    return args.master or args.config_obj.training.spark_master


def import_msd_on_spark(args: argparse.Namespace, dest: Path) -> ImportSummary:
    reader = msd_reader(spark_url(args.triplets), spark_url(args.tracks))
    return import_with_spark(reader, dest, name=args.name, master=_master(args), on_error=args.on_error)


def _local(url: str) -> Path | None:
    return Path(unquote(url.removeprefix("file://"))) if url.startswith("file://") else None


def _format(url: str, what: str, separator: str, header: bool | None, quote: str | None, flags: tuple[str, str]):
    """(separator, header): as given, else detected in a local file's first lines; Spark's
    other file systems have no cheap first lines here, so there they must be given."""
    if url.rstrip("/").endswith(".parquet"):
        return separator, bool(header)
    local = _local(url)
    if separator != AUTO and header is not None:
        return separator, header
    if local is None or local.is_dir():
        raise SoundalikeError(
            f"the {what} at {url}: pass {flags[0]} and --{flags[1]} (or --no-{flags[1]}); "
            "they are detected only in a single local file"
        )
    notes: list[str] = []
    found = detect_format(
        local,
        what,
        separator,
        header,
        quote,
        named=False,
        separator_option=flags[0],
        header_option=flags[1],
        notes=notes,
    )
    for note in notes:
        print(note)
    return found


def _spec(value: str | None) -> str | None:
    return None if value is None or value.strip().lower() in NONE_WORDS else value.strip()


def import_csv_on_spark(args: argparse.Namespace, dest: Path) -> ImportSummary:
    interactions = spark_url(args.interactions)
    catalog = spark_url(args.catalog) if args.catalog is not None else None
    separator = parse_separator(args.sep)
    quote = None if args.quote.lower() in NONE_WORDS else args.quote
    sep, header = _format(
        interactions,
        "interactions file",
        separator,
        args.interactions_header,
        quote,
        ("--sep", "interactions-header"),
    )
    catalog_sep, catalog_header = sep, False
    if catalog is not None:
        given = parse_separator(args.catalog_sep) if args.catalog_sep else separator
        catalog_sep, catalog_header = _format(
            catalog, "catalog", given, args.catalog_header, quote, ("--catalog-sep", "catalog-header")
        )
    if quote == AUTO:
        quote = None if sep == "\t" else '"'
    artist_col = args.artist_col
    if artist_col == AUTO:
        artist_col = "artist" if catalog_header else "none"
    options = SparkCsvOptions(
        separator=sep,
        catalog_separator=catalog_sep,
        quote=quote,
        interactions_header=header,
        catalog_header=catalog_header,
        user_col=args.user_col,
        item_col=args.item_col,
        count_col=_spec(args.count_col),
        catalog_item_col=args.catalog_item_col,
        title_col=args.title_col,
        artist_col=_spec(artist_col),
    )
    reader = csv_reader(interactions, catalog, options)
    return import_with_spark(reader, dest, name=args.name, master=_master(args), on_error=args.on_error)


def import_listenbrainz_on_spark(args: argparse.Namespace, dest: Path, months: MonthRange) -> ImportSummary:
    from recommender.spark.listenbrainz import listenbrainz_reader, refuse_archive

    refuse_archive(str(args.dump))  # before spark_url, which would only check that the file exists
    reader = listenbrainz_reader(spark_url(args.dump), months, min_listeners=args.min_listeners, on_error=args.on_error)
    return import_with_spark(reader, dest, name=args.name, master=_master(args), on_error=args.on_error)
