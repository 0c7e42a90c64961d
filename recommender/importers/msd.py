"""``data import-msd``: the Million Song Dataset's Taste Profile triplets and its track catalog.

The files (shared notes, msd-files.md):

- ``train_triplets.txt``: ``user_id<TAB>song_id<TAB>play_count``, 48 M lines grouped by user;
- ``unique_tracks.txt``: ``track_id<SEP>song_id<SEP>artist<SEP>title`` (``<SEP>`` literally),
  1 M tracks over fewer songs.

What the dataset holds:

- Items are every song of the catalog and every song of the triplets, **sorted by song id**.
- One title and artist per song: those of its catalog row with the **smallest track id** (byte
  order), so the choice does not depend on the order of the file. An empty title falls back to
  the song id and an empty artist to "Unknown artist".
- A song in the triplets with no catalog row keeps its id as title and "Unknown artist" as
  artist; the import says how many there were. Catalog songs nobody played are kept (zero
  listeners).
- Users are numbered in order of first appearance; a user who reappears later in the file is
  the same user, and repeated (user, song) lines are summed. Play counts must be positive
  whole numbers.

Reading goes through :mod:`recommender.importers.reading` (chunks parsed by pyarrow in worker
threads, exact line numbers for bad rows, ``--on-error skip``); nothing is written until every
row has been read, and then only through :func:`recommender.dataset.write_dataset`.

Measured on full-size files from ``python -m bench.generate --scale 1.0`` (48.5 M triplets,
1 M tracks), 2 cores, with ``python -m recommender -v data import-msd ...`` (the phase lines
below are its debug log): 14.8 s wall and 1.7 GB peak RSS for the whole command when the cores
were free (catalog 1.3 s, triplets 7.0 s, vocabularies 0.8 s, items 1.0 s, matrix 1.2 s,
writing 2.7 s, the item-major copy and the content hash made while the matrix is written);
user + sys CPU about 23 s, so expect more wall time on a busy machine. pandas
``read_csv(engine="pyarrow")`` with categories, the triplets only, took 30 s and 9.9 GB in the
bench.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recommender.dataset import write_dataset
from recommender.errors import DataError

from .encoding import UNKNOWN_ARTIST, InteractionsBuilder, factorize_strings, first_positions, items_frame, text_or
from .layout import Field, Layout, inspect_head
from .reading import ImportSummary, ReadReport, plural, read_chunks, read_table, single_array, validate_on_error

log = logging.getLogger(__name__)

TRIPLETS = "train_triplets.txt"
TRACKS = "unique_tracks.txt"
TRACK_SEPARATOR = "<SEP>"
TITLE_RULE = "catalog row with the smallest track id"


def triplets_layout(path: Path) -> Layout:
    what = "triplets file"
    head = inspect_head(path, what, "\t", header=False)  # empty file, byte-order mark
    return Layout(
        path,
        what,
        "\t",
        3,
        (
            Field("user", "user id", 0, "id"),
            Field("item", "song id", 1, "id"),
            Field("count", "play count", 2, "count"),
        ),
        data_offset=head.data_offset,
    )


def tracks_layout(path: Path) -> Layout:
    what = "track catalog"
    head = inspect_head(path, what, TRACK_SEPARATOR, header=False)
    return Layout(
        path,
        what,
        TRACK_SEPARATOR,
        4,
        (
            Field("track", "track id", 0, "id"),
            Field("song", "song id", 1, "id"),
            Field("artist", "artist", 2, "text"),
            Field("title", "title", 3, "text"),
        ),
        data_offset=head.data_offset,
    )


@dataclass
class SongCatalog:
    """One row per song id: the title and artist of its smallest track id."""

    song_ids: pa.Array
    titles: pa.Array
    artists: pa.Array
    tracks: int  # catalog rows read


def read_song_catalog(path: Path, report: ReadReport, *, on_error: str = "stop", progress: bool = True) -> SongCatalog:
    table = read_table(tracks_layout(path), report, on_error=on_error, progress=progress)
    if table.num_rows == 0:
        raise DataError("no rows to import" + (" (every row was skipped)" if report.skipped else ""), path=path)
    songs = factorize_strings(table.column("song"))
    chosen = first_positions(songs.codes)  # the first row of each song, in file order
    # Only songs with several tracks need the smallest track id looked up; there are few.
    shared = np.bincount(songs.codes)[songs.codes] > 1
    if shared.any():
        rows = np.flatnonzero(shared)
        subset = pa.table({"code": songs.codes[rows], "track": table.column("track").take(pa.array(rows))})
        order = pc.sort_indices(subset, sort_keys=[("code", "ascending"), ("track", "ascending")]).to_numpy()
        codes_sorted = songs.codes[rows][order]
        firsts = np.flatnonzero(np.diff(codes_sorted, prepend=-1))
        chosen[codes_sorted[firsts]] = rows[order][firsts]
    picked = pa.array(chosen)
    return SongCatalog(
        songs.uniques,
        text_or(single_array(table.column("title")).take(picked), songs.uniques),
        text_or(single_array(table.column("artist")).take(picked), pa.scalar(UNKNOWN_ARTIST)),
        table.num_rows,
    )


def import_msd(
    *, triplets: Path, tracks: Path, dest: Path, name: str = "msd", on_error: str = "stop", progress: bool = True
) -> ImportSummary:
    """Import the triplets and the track catalog into the dataset folder ``dest``."""
    started = time.perf_counter()
    validate_on_error(on_error)
    triplets, tracks, dest = Path(triplets), Path(tracks), Path(dest)
    triplets_view = triplets_layout(triplets)  # fail on a missing or empty file before any work

    catalog_report = ReadReport(tracks)
    catalog = read_song_catalog(tracks, catalog_report, on_error=on_error, progress=progress)
    log.debug(
        "catalog: %d tracks, %d songs in %.1f s", catalog.tracks, len(catalog.song_ids), time.perf_counter() - started
    )

    mark = time.perf_counter()
    report = ReadReport(triplets)
    builder = InteractionsBuilder()
    for part in read_chunks(triplets_view, builder.encode, report, on_error=on_error, progress=progress):
        builder.add(part, report.expected_rows())
    if builder.rows == 0:
        raise DataError("no rows to import" + (" (every row was skipped)" if report.skipped else ""), path=triplets)
    log.debug("triplets: %d rows read in %.1f s", builder.rows, time.perf_counter() - mark)
    mark = time.perf_counter()
    builder.finish()
    played = builder.item_ids
    log.debug(
        "vocabularies: %d users, %d songs merged in %.1f s",
        len(builder.user_ids),
        len(played),
        time.perf_counter() - mark,
    )

    mark = time.perf_counter()
    items = _song_items(catalog, played)
    item_ids, titles, artists, unknown = items.ids, items.titles, items.artists, items.unknown
    log.debug("items: %d in %.1f s", len(item_ids), time.perf_counter() - mark)

    mark = time.perf_counter()
    matrix = builder.to_csr(items.columns, len(item_ids))
    log.debug("matrix: %d x %d, %d stored in %.1f s", *matrix.shape, matrix.nnz, time.perf_counter() - mark)

    mark = time.perf_counter()
    reports = [report, catalog_report]
    write_dataset(
        dest,
        name=name,
        interactions=matrix,
        items=items_frame(item_ids, titles, artists),
        user_ids=builder.user_ids,
        source={
            "kind": "msd",
            "triplets": str(triplets),
            "tracks": str(tracks),
            "rows": report.rows,
            "tracks_rows": catalog.tracks,
            "skipped_rows": sum(r.skipped for r in reports),
            "unknown_songs": unknown,
            "title_rule": TITLE_RULE,
        },
    )
    log.debug("written in %.1f s", time.perf_counter() - mark)

    notes = []
    if unknown:
        notes.append(
            f"{plural(unknown, 'song')} in {triplets.name} not in {tracks.name}: titled by "
            f"their song id, artist {UNKNOWN_ARTIST!r}"
        )
    notes.append(f"{plural(len(item_ids) - len(played), 'catalog song')} without listeners (kept)")
    return ImportSummary(
        name,
        dest,
        matrix.shape[0],
        matrix.shape[1],
        int(matrix.nnz),
        report.rows,
        time.perf_counter() - started,
        reports,
        notes,
    )


@dataclass(frozen=True)
class SongItems:
    """The dataset's items: catalog songs and played songs the catalog lacks, sorted by song id."""

    ids: pa.Array
    titles: pa.Array
    artists: pa.Array
    columns: np.ndarray  # the column of each played song (in the builder's order of first appearance)
    unknown: int  # played songs the catalog lacks


def _song_items(catalog: SongCatalog, played: pa.Array) -> SongItems:
    in_catalog = pc.index_in(played, value_set=catalog.song_ids)
    unknown_songs = played.filter(pc.is_null(in_catalog))
    unknown = len(unknown_songs)
    all_ids = pa.concat_arrays([catalog.song_ids, unknown_songs])
    order = pc.sort_indices(all_ids).to_numpy()
    taken = pa.array(order)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    position = pc.fill_null(in_catalog, -1).to_numpy().astype(np.int64)
    position[position < 0] = len(catalog.song_ids) + np.arange(unknown)  # where the unknown songs were appended
    return SongItems(
        ids=all_ids.take(taken),
        titles=pa.concat_arrays([catalog.titles, unknown_songs]).take(taken),
        artists=pa.concat_arrays([catalog.artists, pa.array([UNKNOWN_ARTIST] * unknown, pa.string())]).take(taken),
        columns=rank[position],
        unknown=unknown,
    )
