"""``data import-listenbrainz --engine spark``: a ListenBrainz listens dump read by Spark.

For dumps too big for one machine (billions of listens). The dump must be the extracted
folder (``listens/<year>/<month>.listens``, a local path or any URL Spark reads): a
``.tar.zst``/``.tar.xz`` is one compressed stream Spark cannot split, so it is refused with
what to do instead. Only the month files in ``--from``/``--to`` are read (listed with
Hadoop's file system, so ``hdfs://`` and ``s3a://`` work as ``file://`` does).

Each line goes through :func:`recommender.importers.listens.parse_listen_line` on the
executors, so a line is a listen, or bad, for the same reasons as in the in-memory importer
(:mod:`recommender.importers.listenbrainz`), and the same rules follow: listens dated outside
the months are left out; an unmatched spelling whose normalised key belongs to exactly one
matched recording counts for it; ``--min-listeners`` keeps the recordings at least that many
listeners played. Differences, because Spark reads files in parallel and has no "first line":
a bad line is named by its file (not its line number) with the reason; a recording's catalog
row is its earliest listen (ties: smallest title, artist), not the first line read.

The executors import :mod:`recommender`: a job on a cluster carries the package with it
(:func:`recommender.spark.session.package_zip`), so the workers need only its dependencies
(``requirements.txt``'s, in the Python that ``spark.pyspark.python`` names).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from recommender.errors import DataError
from recommender.importers.dump_files import MONTH_FILE, XZ_SUFFIXES, ZSTD_SUFFIXES, MonthRange
from recommender.importers.listens import TEXT_ITEM_PREFIX, BadListen, parse_listen_line, recording_key
from recommender.importers.reading import plural

from .importing import Reader, SparkSource

ARCHIVE_SUFFIXES = ZSTD_SUFFIXES + XZ_SUFFIXES
_SHOWN_LINE_CHARS = 60
CATALOG_COLUMNS = ("title", "artist", "recording_mbid", "artist_mbids")  # as the in-memory importer's
# Where a dump folder keeps its month files: the folder itself, or the one folder inside it.
_GLOBS = ("listens/*/*.listens", "*/listens/*/*.listens")


def refuse_archive(url: str) -> None:
    """Spark cannot split a .tar.zst/.tar.xz: say what to do instead."""
    if url.lower().rstrip("/").endswith(ARCHIVE_SUFFIXES):
        raise DataError(
            "Spark cannot read a compressed dump archive in parallel: extract it first "
            "(tar -xf ...; then pass the listenbrainz-listens-dump-... folder to --dump), "
            "or import the archive with --engine memory, which reads it as a stream",
            path=url,
        )


def month_paths(session: Any, url: str, months: MonthRange) -> tuple[list[tuple[int, int, str]], int]:
    """The dump's month files in ``months`` as (year, month, url), sorted, and how many files
    the dump has in all."""
    jvm = session.sparkContext._jvm
    conf = session.sparkContext._jsc.hadoopConfiguration()
    root = url.rstrip("/")
    found: list[tuple[int, int, str]] = []
    for pattern in _GLOBS:
        glob = jvm.org.apache.hadoop.fs.Path(f"{root}/{pattern}")
        statuses = glob.getFileSystem(conf).globStatus(glob) or []
        for status in statuses:
            path = status.getPath().toString()
            match = MONTH_FILE.search(path)
            if match and status.isFile():
                found.append((int(match.group(1)), int(match.group(2)), path))
        if found:
            break
    if not found:
        raise DataError("no listens/<year>/<month>.listens files in this dump", path=url)
    chosen = sorted(entry for entry in found if months.holds_month(entry[0], entry[1]))
    return chosen, len(found)


def _shown(line: bytes) -> str:
    text = line.decode("utf-8", "replace")
    return text if len(text) <= _SHOWN_LINE_CHARS else text[:_SHOWN_LINE_CHARS] + "…"


def parse_lines(rows: Iterable[Any]) -> Iterator[tuple]:
    """(file, raw line bytes) rows -> one tuple per non-blank line: a listen, or the reason it is not one.

    Runs on the executors; the rules are :func:`parse_listen_line`'s, written once."""
    for file, raw in rows:
        line = bytes(raw).rstrip(b"\r")
        if not line.strip():
            continue
        try:
            listen = parse_listen_line(line)
        except BadListen as error:
            yield (None, None, None, None, None, None, None, None, f"{file}: {error} (line {_shown(line)!r})")
            continue
        key = recording_key(listen.submitted_title, listen.submitted_artist) if listen.recording_mbid else None
        yield (
            listen.user,
            listen.listened_at,
            listen.item_id,
            key,
            listen.title,
            listen.artist,
            listen.recording_mbid,
            ",".join(listen.artist_mbids),
            None,
        )


def _schema() -> Any:
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    names = ("user", "listened_at", "item", "spelling", "title", "artist", "recording_mbid", "artist_mbids", "error")
    return StructType([StructField(n, LongType() if n == "listened_at" else StringType(), True) for n in names])


def listenbrainz_reader(
    dump_url: str, months: MonthRange | None = None, *, min_listeners: int = 1, on_error: str = "stop"
) -> Reader:
    """A reader of an extracted listens dump folder at ``dump_url`` (what :func:`spark_url` gives)."""
    refuse_archive(dump_url)
    window = months or MonthRange()
    if min_listeners < 1:
        raise DataError(f"--min-listeners must be 1 or more, got {min_listeners}")

    def read(session: Any) -> SparkSource:
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        chosen, files = month_paths(session, dump_url, window)
        notes: list[str] = []
        if not chosen:
            raise DataError(f"no listens to import in {window.describe()} (no month file of the dump is in it)")
        raw = session.read.text([path for _, _, path in chosen]).select(
            F.input_file_name().alias("file"), F.col("value").cast("binary").alias("value")
        )
        parsed = session.createDataFrame(raw.rdd.mapPartitions(parse_lines), _schema())
        parsed = parsed.persist(StorageLevel.MEMORY_AND_DISK)

        bad = parsed.where(F.col("error").isNotNull())
        example = bad.select("error").limit(1).collect()
        skipped = 0
        if example:
            skipped = bad.count()
            lines = plural(skipped, "line")
            if on_error != "skip":
                raise DataError(
                    f"{lines} of the dump {'is not a listen' if skipped == 1 else 'are not listens'} "
                    f"(for example {example[0]['error']}); nothing was imported: "
                    "pass --on-error skip to skip bad lines and count them",
                    path=dump_url,
                )
            notes.append(f"Skipped {plural(skipped, 'bad line')} (for example {example[0]['error']}).")

        good = parsed.where(F.col("error").isNull()).drop("error")
        start, end = window.start, window.end
        inside = F.lit(True)
        if start is not None:
            inside = inside & (F.col("listened_at") >= start)
        if end is not None:
            inside = inside & (F.col("listened_at") < end)
        tally = good.agg(
            F.count("*").alias("all"),
            F.sum(inside.cast("long")).alias("inside"),
            F.sum((inside & (F.col("recording_mbid") != "")).cast("long")).alias("matched"),
        ).first()
        listens, matched = int(tally["inside"] or 0), int(tally["matched"] or 0)
        outside = int(tally["all"]) - listens
        if listens == 0:
            why = f" in {window.describe()}" if window != MonthRange() else ""
            raise DataError(f"no listens to import{why}", path=dump_url)
        kept = good.where(inside)

        # Spellings of matched listens that belong to exactly one recording: "~<key>" -> that MBID.
        spelled = (
            kept.where(F.col("spelling").isNotNull())
            .groupBy("spelling")
            .agg(F.countDistinct("item").alias("mbids"), F.min("item").alias("mbid"))
            .where(F.col("mbids") == 1)
            .select(F.concat(F.lit(TEXT_ITEM_PREFIX), F.col("spelling")).alias("item"), "mbid")
        )
        merged = spelled.join(kept.select("item").distinct(), "item").count()
        counted = (
            kept.join(spelled, "item", "left")
            .withColumn("counted_as", F.coalesce(F.col("mbid"), F.col("item")))
            .persist(StorageLevel.MEMORY_AND_DISK)
        )

        played_by = counted.groupBy("counted_as").agg(F.countDistinct("user").alias("listeners"))
        keep = played_by.where(F.col("listeners") >= min_listeners).select(F.col("counted_as").alias("item_id"))
        dropped_items = dropped_users = 0
        if min_listeners > 1:
            items_before = counted.select("counted_as").distinct().count()
            users_before = counted.select("user").distinct().count()
            keep = keep.persist(StorageLevel.MEMORY_AND_DISK)
            kept_items = keep.count()
            if kept_items == 0:
                raise DataError(
                    f"no recording has {min_listeners} or more listeners (of {items_before:,} recordings); "
                    "lower --min-listeners",
                    path=dump_url,
                )
            counted = counted.join(keep.withColumnRenamed("item_id", "counted_as"), "counted_as", "left_semi")
            dropped_items = items_before - kept_items
            dropped_users = users_before - counted.select("user").distinct().count()

        plays = counted.select("user", F.col("counted_as").alias("item"), F.lit(1.0).alias("count"))
        # A recording's catalog row: its own earliest listen (a merged spelling's are not its).
        catalog = (
            kept.groupBy(F.col("item").alias("item_id"))
            .agg(F.min(F.struct("listened_at", "title", "artist", "recording_mbid", "artist_mbids")).alias("first"))
            .join(keep, "item_id", "left_semi")
            .select("item_id", *(F.col(f"first.{c}").alias(c) for c in CATALOG_COLUMNS))
        )

        notes.insert(
            0,
            f"{plural(matched, 'listen')} of {listens:,} matched to a MusicBrainz recording "
            f"({100 * matched / listens:.0f}%); the rest are merged by title and artist",
        )
        if merged:
            notes.append(f"{plural(merged, 'unmatched spelling')} counted for the matched recording of the same name")
        if files > len(chosen):
            notes.append(f"{plural(files - len(chosen), 'month file')} outside {window.describe()} not read")
        if outside:
            notes.append(f"{plural(outside, 'listen')} dated outside {window.describe()} left out")
        if dropped_items:
            notes.append(
                f"{plural(dropped_items, 'recording')} with fewer than {min_listeners} listeners left out"
                + (f", and {plural(dropped_users, 'listener')} with nothing left" if dropped_users else "")
            )
        description = {
            "kind": "listenbrainz",
            "dump": dump_url,
            "months": window.describe(),
            "files": len(chosen),
            "listens": listens,
            "matched_listens": matched,
            "outside_months": outside,
            "skipped_lines": skipped,
            "merged_spellings": merged,
            "min_listeners": min_listeners,
            "dropped_recordings": dropped_items,
            "dropped_listeners": dropped_users,
        }
        return SparkSource(plays, catalog, description, notes)

    return read


__all__ = ["listenbrainz_reader", "month_paths", "parse_lines", "refuse_archive"]
