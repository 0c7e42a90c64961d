"""``data import-msd | import-csv --engine spark``: Spark reads the files, wherever Spark can
(``file://``, ``hdfs://``, ``s3a://``), and writes a dataset Spark trains on directly.

A reader turns its files into a :class:`SparkSource`: ``plays`` (user, item, count: one row per
play line, validated) and ``catalog`` (item_id, title, artist: possibly several rows per id).
:func:`write_spark_dataset` does the rest for every reader, so another format (a ListenBrainz
dump: ``spark.read.json`` of its listens, a count of listens per user and recording, the
recording's name and artist as catalog) plugs in as one more reader function.

What the dataset holds (see recommender.dataset: ``"storage": "parquet"``):

- ``interactions.parquet/``: (user int32, item int32, count float32), repeated pairs summed,
  written by Spark's executors, sorted by user.
- ``items.parquet``, ``users.parquet``, ``listeners.npy`` and the item-major arrays
  (``item_users_indptr.npy``, ``item_users_indices.npy``): the files serving reads today. The
  item-major arrays are streamed to disk one Parquet part at a time from Spark's sort by
  (item, user), so no process ever holds the matrix; serving memory-maps them as before.
- ``manifest.json`` with a fingerprint: a hash of the counts, of the catalog's ids and the XOR
  of Spark's ``xxhash64`` of every (user, item, count) row (independent of partitioning).

Choices that differ from the in-memory importers, because Spark reads files in parallel and
has no "first line" order: users and items are numbered in **byte order of their ids** (the
MSD importer already orders songs so); a catalog id listed twice takes the row with the
smallest (title, artist). Rows with an empty user or item, or a count that is not a positive
number, stop the import with how many there were and one example (``--on-error skip`` drops
them and says how many).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from recommender.atomic import atomic_directory
from recommender.dataset import (
    FORMAT_VERSION,
    INTERACTIONS_PARQUET,
    ITEM_USERS_INDICES,
    ITEM_USERS_INDPTR,
    ITEMS,
    LISTENERS,
    MANIFEST,
    PARQUET_STORAGE,
    USERS,
)
from recommender.errors import DataError
from recommender.importers.encoding import UNKNOWN_ARTIST
from recommender.importers.reading import ImportSummary

TRACK_SEPARATOR = "<SEP>"


def spark_url(path: str | Path) -> str:
    """A path as Spark reads it: URLs (hdfs://, s3a://, file://) as given, local paths as file:// URLs."""
    text = str(path)
    if "://" in text:
        return text
    local = Path(text).expanduser().resolve()
    if not local.exists():
        raise DataError("no such file or folder", path=local)
    return local.as_uri()


@dataclass
class SparkSource:
    """What a reader gives :func:`write_spark_dataset`."""

    plays: Any  # DataFrame: user string, item string, count double (one row per line read)
    catalog: Any | None  # DataFrame: item_id string, title string, artist string; None: no catalog
    # (any further string columns, e.g. recording_mbid, are kept in items.parquet; "" where missing)
    description: dict = field(default_factory=dict)  # the manifest's "source"
    notes: list[str] = field(default_factory=list)


Reader = Callable[[Any], SparkSource]


# -- readers --------------------------------------------------------------------------------
def _trimmed(column: Any) -> Any:
    from pyspark.sql import functions as F

    return F.trim(column, F.lit(" \t"))


def _column(frame: Any, spec: str, option: str, what: str) -> Any:
    """A column by 0-based number or (with a header) by name."""
    from pyspark.sql import functions as F

    if spec.isdigit():
        number = int(spec)
        if number >= len(frame.columns):
            raise DataError(f"{option} {spec}: the {what} has {len(frame.columns)} columns (numbered from 0)")
        return F.col(f"`{frame.columns[number]}`")
    if spec not in frame.columns:
        raise DataError(f"{option} {spec!r}: the {what} has no such column (it has {', '.join(frame.columns)})")
    return F.col(f"`{spec}`")


def msd_reader(triplets: str, tracks: str) -> Reader:
    """The Taste Profile triplets (user TAB song TAB count) and unique_tracks.txt
    (track<SEP>song<SEP>artist<SEP>title); each song takes the title of its smallest track id."""

    def read(session: Any) -> SparkSource:
        from pyspark.sql import functions as F

        raw = session.read.csv(triplets, sep="\t", header=False, quote="")
        if len(raw.columns) < 3:
            raise DataError(f"the triplets file has {len(raw.columns)} columns, not user, song, count", path=triplets)
        plays = raw.select(
            _trimmed(F.col("_c0")).alias("user"),
            _trimmed(F.col("_c1")).alias("item"),
            F.col("_c2").try_cast("double").alias("count"),
        )
        tracks_frame = session.read.csv(tracks, sep=TRACK_SEPARATOR, header=False, quote="")
        if len(tracks_frame.columns) < 4:
            raise DataError(
                f"the track catalog has {len(tracks_frame.columns)} fields, not track<SEP>song<SEP>artist<SEP>title",
                path=tracks,
            )
        first = (
            tracks_frame.select(
                F.col("_c1").alias("item_id"),
                F.struct(F.col("_c0"), F.col("_c3"), F.col("_c2")).alias("row"),
            )
            .where(F.col("item_id").isNotNull() & (F.col("item_id") != ""))
            .groupBy("item_id")
            .agg(F.min("row").alias("row"))  # the smallest track id
        )
        catalog = first.select("item_id", F.col("row._c3").alias("title"), F.col("row._c2").alias("artist"))
        return SparkSource(plays, catalog, {"format": "msd", "triplets": triplets, "tracks": tracks})

    return read


@dataclass(frozen=True)
class SparkCsvOptions:
    separator: str = "\t"
    catalog_separator: str | None = None
    quote: str | None = None  # None: no quoting
    interactions_header: bool = False
    catalog_header: bool = False
    user_col: str = "0"
    item_col: str = "1"
    count_col: str | None = "auto"  # None: each row is one play; auto: column 2 if there are 3+ columns
    catalog_item_col: str = "0"
    title_col: str = "1"
    artist_col: str | None = None  # None: "Unknown artist"


def csv_reader(interactions: str, catalog: str | None, options: SparkCsvOptions) -> Reader:
    """A delimited (or .parquet) user, item[, count] file and an optional item, title[, artist] catalog."""

    def load(session: Any, url: str, separator: str, header: bool) -> Any:
        if url.rstrip("/").endswith(".parquet"):
            return session.read.parquet(url)
        return session.read.csv(url, sep=separator, header=header, quote=options.quote or "")

    def read(session: Any) -> SparkSource:
        from pyspark.sql import functions as F

        raw = load(session, interactions, options.separator, options.interactions_header)
        count_col = options.count_col
        if count_col == "auto":
            count_col = "2" if len(raw.columns) >= 3 else None
        count = (
            _column(raw, count_col, "--count-col", "interactions file").cast("string").try_cast("double")
            if count_col is not None
            else F.lit(1.0)
        )
        plays = raw.select(
            _trimmed(_column(raw, options.user_col, "--user-col", "interactions file").cast("string")).alias("user"),
            _trimmed(_column(raw, options.item_col, "--item-col", "interactions file").cast("string")).alias("item"),
            count.alias("count"),
        )
        catalog_frame = None
        if catalog is not None:
            table = load(session, catalog, options.catalog_separator or options.separator, options.catalog_header)
            artist = (
                _column(table, options.artist_col, "--artist-col", "catalog").cast("string")
                if options.artist_col is not None
                else F.lit(None).cast("string")
            )
            item_id = _column(table, options.catalog_item_col, "--catalog-item-col", "catalog").cast("string")
            title = _column(table, options.title_col, "--title-col", "catalog").cast("string")
            catalog_frame = table.select(
                _trimmed(item_id).alias("item_id"), _trimmed(title).alias("title"), _trimmed(artist).alias("artist")
            ).where(F.col("item_id").isNotNull() & (F.col("item_id") != ""))
        return SparkSource(plays, catalog_frame, {"format": "csv", "interactions": interactions, "catalog": catalog})

    return read


# -- the writer every reader shares ------------------------------------------------------------
def _indexed(frame: Any, key: str, index: str) -> Any:
    """``frame`` with ``index`` = 0.. in byte order of ``key`` (Spark's distributed zipWithIndex)."""
    from pyspark.sql.types import LongType, StructField, StructType

    ordered = frame.orderBy(key)
    schema = StructType([*ordered.schema.fields, StructField(index, LongType(), False)])
    return ordered.rdd.zipWithIndex().map(lambda pair: (*pair[0], pair[1])).toDF(schema)


def _checked_plays(plays: Any, on_error: str, notes: list[str]) -> Any:
    from pyspark.sql import functions as F

    good = (
        F.col("user").isNotNull()
        & (F.col("user") != "")
        & F.col("item").isNotNull()
        & (F.col("item") != "")
        & F.col("count").isNotNull()
        & (F.col("count") > 0)
        & ~F.isnan(F.col("count"))
        & (F.col("count") < float("inf"))
    )
    marked = plays.withColumn("_good", F.coalesce(good, F.lit(False)))
    bad = marked.where(~F.col("_good"))
    example = bad.limit(1).collect()
    if example:
        total = bad.count()
        row = example[0]
        shown = f"user {row['user']!r}, item {row['item']!r}, count {row['count']!r}"
        if on_error != "skip":
            raise DataError(
                f"{total:,} rows have an empty user or item or a count that is not a positive number "
                f"(for example {shown}); fix them or pass --on-error skip"
            )
        notes.append(f"Skipped {total:,} rows with an empty user or item or a count that is not positive ({shown}).")
    return marked.where(F.col("_good")).drop("_good")


def _stream_item_users(session: Any, pairs: Any, folder: Path, indices_path: Path, nnz: int) -> None:
    """Each item's users, sorted by (item, user), into one .npy file, one Parquet part at a time."""
    pairs.orderBy("item", "user").select("user").write.parquet(folder.as_uri())
    parts = sorted(folder.glob("part-*.parquet"))
    out = np.lib.format.open_memmap(indices_path, mode="w+", dtype=np.int32, shape=(nnz,))
    at = 0
    for part in parts:
        column = pq.read_table(part, columns=["user"]).column("user").to_numpy()
        out[at : at + column.size] = column
        at += column.size
    out.flush()
    del out
    if at != nnz:
        raise DataError(f"the item-major copy has {at:,} pairs but the interactions {nnz:,}")


def write_spark_dataset(
    session: Any, source: SparkSource, dest: Path, *, name: str, on_error: str = "stop"
) -> ImportSummary:
    """Vocabularies, Parquet interactions, catalog and derived arrays, written atomically to ``dest``."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    started = time.perf_counter()
    notes = list(source.notes)
    plays = _checked_plays(source.plays, on_error, notes)
    summed = plays.groupBy("user", "item").agg(F.sum("count").alias("count"), F.count("*").alias("rows"))
    summed = summed.persist(StorageLevel.MEMORY_AND_DISK)
    rows = int(summed.agg(F.sum("rows")).first()[0] or 0)
    if rows == 0:
        raise DataError("no rows to import" + (" (every row was skipped)" if notes else ""))
    users = _indexed(summed.select(F.col("user").alias("user_id")).distinct(), "user_id", "user")
    played = summed.select(F.col("item").alias("item_id")).distinct()
    extra = (
        [c for c in source.catalog.columns if c not in ("item_id", "title", "artist")]
        if source.catalog is not None
        else []
    )
    if source.catalog is not None:
        chosen = source.catalog.groupBy("item_id").agg(F.min(F.struct("title", "artist", *extra)).alias("row"))
        catalog = chosen.select(
            "item_id",
            F.col("row.title").alias("title"),
            F.col("row.artist").alias("artist"),
            *(F.col(f"row.`{c}`").alias(c) for c in extra),
        )
        items = catalog.join(played, "item_id", "full_outer")
        missing = played.join(catalog, "item_id", "left_anti").count()
        if missing:
            notes.append(f"{missing:,} items of the plays are not in the catalog: titled by their id.")
    else:
        items = played.withColumn("title", F.lit(None).cast("string")).withColumn("artist", F.lit(None).cast("string"))
    items = items.select(
        "item_id",
        F.when(F.coalesce(F.col("title"), F.lit("")) == "", F.col("item_id")).otherwise(F.col("title")).alias("title"),
        F.when(F.coalesce(F.col("artist"), F.lit("")) == "", F.lit(UNKNOWN_ARTIST))
        .otherwise(F.col("artist"))
        .alias("artist"),
        *(F.coalesce(F.col(f"`{c}`").cast("string"), F.lit("")).alias(c) for c in extra),
    )
    items = _indexed(items, "item_id", "item").persist(StorageLevel.MEMORY_AND_DISK)
    users = users.persist(StorageLevel.MEMORY_AND_DISK)
    pairs = (
        summed.alias("s")
        .join(users.alias("u"), F.col("s.user") == F.col("u.user_id"))
        .join(items.alias("i"), F.col("s.item") == F.col("i.item_id"))
        .select(
            F.col("u.user").cast("int").alias("user"),
            F.col("i.item").cast("int").alias("item"),
            F.col("s.count").cast("float").alias("count"),
        )
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    with atomic_directory(dest) as temp:
        pairs.orderBy("user", "item").write.parquet((temp / INTERACTIONS_PARQUET).as_uri())
        item_table = items.orderBy("item").select("item_id", "title", "artist", *extra).toArrow()
        n_items = item_table.num_rows
        pq.write_table(item_table, temp / ITEMS)
        users.orderBy("user").select("user_id").coalesce(1).write.parquet((temp / "users.tmp").as_uri())
        (user_part,) = sorted((temp / "users.tmp").glob("part-*.parquet"))
        user_ids = pq.read_table(user_part)
        user_part.rename(temp / USERS)
        _remove_tree(temp / "users.tmp")
        n_users = user_ids.num_rows
        counts = pairs.groupBy("item").count().toArrow()
        listeners = np.zeros(n_items, dtype=np.int64)
        listeners[counts.column("item").to_numpy().astype(np.int64)] = counts.column("count").to_numpy()
        nnz = int(listeners.sum())
        np.save(temp / LISTENERS, listeners, allow_pickle=False)
        indptr = np.concatenate([[0], np.cumsum(listeners)]).astype(np.int64 if nnz >= 2**31 else np.int32)
        np.save(temp / ITEM_USERS_INDPTR, indptr, allow_pickle=False)
        _stream_item_users(session, pairs, temp / "item_users.tmp", temp / ITEM_USERS_INDICES, nnz)
        _remove_tree(temp / "item_users.tmp")
        content = pairs.agg(F.bit_xor(F.xxhash64("user", "item", "count")).alias("hash")).first()["hash"]
        digest = hashlib.blake2b(digest_size=16)
        digest.update(np.asarray([n_users, n_items, nnz, int(content or 0)], dtype=np.int64).tobytes())
        for item_id in item_table.column("item_id").to_pylist():
            digest.update(str(item_id).encode("utf-8", "surrogatepass") + b"\0")
        manifest = {
            "format_version": FORMAT_VERSION,
            "storage": PARQUET_STORAGE,
            "name": name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "users": n_users,
            "items": n_items,
            "interactions": nnz,
            "items_with_listeners": int(np.count_nonzero(listeners)),
            "fingerprint": digest.hexdigest(),
            "source": {**source.description, "engine": "spark", "master": session.sparkContext.master},
        }
        (temp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    for frame in (summed, users, items, pairs):
        frame.unpersist()
    return ImportSummary(
        name=name,
        dest=dest,
        users=n_users,
        items=n_items,
        interactions=nnz,
        rows=rows,
        seconds=time.perf_counter() - started,
        notes=notes,
    )


def _remove_tree(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def import_with_spark(reader: Reader, dest: Path, *, name: str, master: str, on_error: str = "stop") -> ImportSummary:
    """Run ``reader`` on ``master`` and write the dataset (the command-line entry)."""
    from .session import spark_session

    session = spark_session(master)
    return write_spark_dataset(session, reader(session), dest, name=name, on_error=on_error)


__all__ = [
    "SparkCsvOptions",
    "SparkSource",
    "csv_reader",
    "import_with_spark",
    "msd_reader",
    "spark_url",
    "write_spark_dataset",
]
