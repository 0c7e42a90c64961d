"""``data import-listenbrainz``: a ListenBrainz listens dump -> a dataset of recordings.

The dump (``docs/users/listenbrainz-dumps.rst`` in metabrainz/listenbrainz-server) is a folder
``listenbrainz-listens-dump-<n>-<date>-full/`` with ``listens/<year>/<month>.listens`` files of
one JSON listen per line, published as a ``.tar.xz`` (and newer ones as ``.tar.zst``) at
https://data.metabrainz.org/pub/musicbrainz/listenbrainz/ under CC0. The format and the rules
for one listen are in :mod:`recommender.importers.listens` (pure functions a cluster reader can
reuse); a block of lines is parsed at once by :mod:`recommender.importers.listen_blocks` by those
rules, or, when any line is not plainly a good listen, line by line with them.

What the dataset holds: users are listeners, items are recordings, a cell is the number of
listens (plays). Recordings are merged by ``recording_mbid`` when ListenBrainz matched the
listen, else by the normalised (title, artist); an unmatched spelling whose key is the key of
exactly one matched recording counts for that recording. ``--from``/``--to`` keep the listens
of those months (whole months, UTC; files of other months are not parsed), ``--min-listeners``
keeps the recordings at least that many listeners played, and listeners left with no
recording are dropped. The catalog keeps ``recording_mbid`` ("" when unmatched) and
``artist_mbids`` next to title and artist.

Reading streams: :mod:`.dump_files` hands over each month file as a stream (an archive is
never unpacked), read a block of lines at a time, and listens are counted in
chunks of :data:`CHUNK_LISTENS` (summed per listener and recording, then handed to
:class:`~.encoding.InteractionsBuilder`): a month is never in memory, only its distinct
(listener, recording) pairs once encoded. Nothing is written until the whole dump has been
read; a damaged or truncated archive stops the import with nothing written.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recommender.dataset import write_dataset
from recommender.errors import DataError, SoundalikeError

from .dump_files import DAMAGED_ARCHIVE_ERRORS, MonthFile, MonthRange, month_files
from .encoding import InteractionsBuilder, items_frame
from .listen_blocks import BlockListens, parse_block
from .listens import TEXT_ITEM_PREFIX, BadListen, Listen, parse_listen_line, recording_key
from .reading import ImportSummary, ReadReport, plural, validate_on_error

log = logging.getLogger(__name__)

CHUNK_LISTENS = 1 << 20
BLOCK_BYTES = 4 << 20
NOTED_SPELLINGS = 1 << 21


# -- counting listens ---------------------------------------------------------------------------


@dataclass
class Recording:
    """What the catalog shows of a recording: the first listen of it that was read."""

    title: str
    artist: str
    recording_mbid: str
    artist_mbids: str  # comma-separated


@dataclass
class ListenCounts:
    """Listens read so far: chunks of (listener, recording) summed into the builder, and the
    catalog of every recording seen."""

    builder: InteractionsBuilder = field(default_factory=InteractionsBuilder)
    recordings: dict[str, Recording] = field(default_factory=dict)
    # normalised (title, artist) spellings of matched listens -> their MBID ("" when two MBIDs
    # share a spelling: then an unmatched listen of it cannot be told apart)
    spelled: dict[str, str] = field(default_factory=dict)
    listens: int = 0
    matched: int = 0
    outside: int = 0
    _users: list[str] = field(default_factory=list)  # listens read one line at a time
    _items: list[str] = field(default_factory=list)
    _blocks: list[tuple[pa.Array, pa.Array]] = field(default_factory=list)  # listens read a block at a time
    _pending: int = 0
    # (title, artist, MBID) spellings already noted: a recording's spellings recur every block.
    _noted: set[tuple[str, str, str]] = field(default_factory=set)

    def _spelling(self, title: str, artist: str, mbid: str) -> None:
        if (title, artist, mbid) in self._noted:
            return
        if len(self._noted) >= NOTED_SPELLINGS:
            self._noted.clear()  # only a shortcut: noting a spelling twice changes nothing
        self._noted.add((title, artist, mbid))
        key = recording_key(title, artist)
        known = self.spelled.setdefault(key, mbid)
        if known and known != mbid:
            self.spelled[key] = ""

    def _catalog(self, item: str, listen: Listen) -> None:
        self.recordings[item] = Recording(
            listen.title, listen.artist, listen.recording_mbid, ",".join(listen.artist_mbids)
        )

    def add(self, listen: Listen) -> None:
        item = listen.item_id
        self._users.append(listen.user)
        self._items.append(item)
        self.listens += 1
        self._pending += 1
        if listen.recording_mbid:
            self.matched += 1
            self._spelling(listen.submitted_title, listen.submitted_artist, item)
        if item not in self.recordings:
            self._catalog(item, listen)
        if self._pending >= CHUNK_LISTENS:
            self.flush()

    def add_block(self, block: BlockListens, keep: np.ndarray) -> None:
        """The listens of a block read at once; ``keep`` says which rows are in the months."""
        if self._users:  # listens read line by line before this block stay before it
            self._blocks.append((pa.array(self._users, pa.string()), pa.array(self._items, pa.string())))
            self._users, self._items = [], []
        if not keep.all():
            rows = pa.array(np.flatnonzero(keep))
            users, items, matched = block.users.take(rows), block.items.take(rows), block.matched[keep]
            titles, artists = block.titles.take(rows), block.artists.take(rows)
            first_row = np.flatnonzero(keep)
        else:
            users, items, matched, titles, artists = (
                block.users,
                block.items,
                block.matched,
                block.titles,
                block.artists,
            )
            first_row = np.arange(len(keep))
        n = len(users)
        if n == 0:
            return
        self.listens += n
        self.matched += int(matched.sum())
        if matched.any():
            spelled = (
                pa.table(
                    {
                        "title": titles.filter(pa.array(matched)),
                        "artist": artists.filter(pa.array(matched)),
                        "item": items.filter(pa.array(matched)),
                    }
                )
                .group_by(["title", "artist", "item"], use_threads=False)
                .aggregate([])
            )
            for title, artist, item in zip(*(spelled.column(c).to_pylist() for c in ("title", "artist", "item"))):
                self._spelling(title, artist, item)
        encoded = pc.dictionary_encode(items)
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        _, firsts = np.unique(codes, return_index=True)
        firsts.sort()  # the first listen of each recording, in file order
        names = encoded.dictionary.take(pa.array(codes[firsts])).to_pylist()
        new = [position for position, item in enumerate(names) if item not in self.recordings]
        if new:
            for position, listen in zip(new, block.listens(first_row[firsts[new]])):
                self._catalog(names[position], listen)
        self._blocks.append((users, items))
        self._pending += n
        if self._pending >= CHUNK_LISTENS:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        users = [array for array, _ in self._blocks]
        items = [array for _, array in self._blocks]
        if self._users:  # lines read one at a time since the last block
            users.append(pa.array(self._users, pa.string()))
            items.append(pa.array(self._items, pa.string()))
        table = pa.table({"user": pa.chunked_array(users, pa.string()), "item": pa.chunked_array(items, pa.string())})
        self._users, self._items, self._blocks, self._pending = [], [], [], 0
        summed = table.group_by(["user", "item"], use_threads=False).aggregate([([], "count_all")])
        summed = summed.rename_columns({"count_all": "count"})  # groups in order of first appearance
        self.builder.add(self.builder.encode(summed))


def _bad_line(file: MonthFile, report: ReadReport, number: int, error: BadListen, on_error: str) -> None:
    if on_error == "stop":
        raise DataError(
            f"{error} (pass --on-error skip to skip bad lines and count them)", path=file.name, line=number
        ) from None
    report.skipped += 1
    if report.first_skip is None:
        report.first_skip = (number, str(error))


def _read_lines(
    file: MonthFile,
    block: bytes,
    first_line: int,
    counts: ListenCounts,
    report: ReadReport,
    window: MonthRange,
    on_error: str,
) -> None:
    """A block one line at a time: each bad line named by its number."""
    start, end = window.start, window.end
    lines = block.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    for number, line in enumerate(lines, start=first_line):
        line = line.rstrip(b"\r")
        if not line.strip():
            continue
        try:
            listen = parse_listen_line(line)
        except BadListen as error:
            _bad_line(file, report, number, error, on_error)
            continue
        if (start is not None and listen.listened_at < start) or (end is not None and listen.listened_at >= end):
            counts.outside += 1
            continue
        report.rows += 1
        counts.add(listen)


def read_month(
    file: MonthFile,
    counts: ListenCounts,
    report: ReadReport,
    window: MonthRange,
    *,
    on_error: str,
    progress: bool,
) -> None:
    """Count the listens of one month file, a block of lines at a time: parsed whole by
    :func:`~.listen_blocks.parse_block` when every line is a good listen, else line by line
    (a bad line stops the import with ``on_error="stop"``, or is skipped and counted)."""
    from tqdm import tqdm  # the other importers' progress bar

    start, end = window.start, window.end
    next_line = 1
    with tqdm(
        total=file.size,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=f"listens {file.year}-{file.month:02d}",
        disable=None if progress else True,
    ) as bar:
        while True:
            block = file.stream.read(BLOCK_BYTES)
            if not block:
                break
            if not block.endswith(b"\n"):
                block += file.stream.readline()  # whole lines only (the last may lack its newline)
            lines = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
            parsed = parse_block(block, lines) if block.endswith(b"\n") else None
            if parsed is None:
                _read_lines(file, block, next_line, counts, report, window, on_error)
            else:
                keep = np.ones(len(parsed.listened_at), dtype=bool)
                if start is not None:
                    keep &= parsed.listened_at >= start
                if end is not None:
                    keep &= parsed.listened_at < end
                counts.outside += int(len(keep) - keep.sum())
                report.rows += int(keep.sum())
                counts.add_block(parsed, keep)
            next_line += lines
            bar.update(len(block))


# -- the import ---------------------------------------------------------------------------------


def _columns(item_ids: pa.Array, spelled: dict[str, str]) -> tuple[list[str], np.ndarray, int]:
    """The dataset's items (sorted ids) and the column of each item the builder saw: an
    unmatched spelling of exactly one matched recording goes to that recording's column."""
    targets = []
    merged = 0
    known = set(item_ids.to_pylist())
    for item in item_ids.to_pylist():
        if item.startswith(TEXT_ITEM_PREFIX):
            mbid = spelled.get(item[len(TEXT_ITEM_PREFIX) :])
            if mbid and mbid in known:
                targets.append(mbid)
                merged += 1
                continue
        targets.append(item)
    final = sorted(set(targets))
    position = {item: column for column, item in enumerate(final)}
    return final, np.fromiter((position[t] for t in targets), dtype=np.int64, count=len(targets)), merged


def import_listenbrainz(
    *,
    dump: Path,
    dest: Path,
    name: str = "lb",
    months: MonthRange | None = None,
    min_listeners: int = 1,
    on_error: str = "stop",
    progress: bool = True,
) -> ImportSummary:
    """Import a listens dump (folder, ``.tar.zst`` or ``.tar.xz``) into the dataset folder ``dest``."""
    started = time.perf_counter()
    validate_on_error(on_error)
    if min_listeners < 1:
        raise SoundalikeError(f"--min-listeners must be 1 or more, got {min_listeners}")
    dump, dest = Path(dump), Path(dest)
    window = months or MonthRange()
    counts = ListenCounts()
    reports: list[ReadReport] = []
    files = skipped_files = 0
    try:
        for file in month_files(dump):
            files += 1
            if not window.holds_month(file.year, file.month):
                skipped_files += 1
                continue
            report = ReadReport(Path(file.name))
            reports.append(report)
            read_month(file, counts, report, window, on_error=on_error, progress=progress)
    except DAMAGED_ARCHIVE_ERRORS as error:
        raise DataError(
            f"the archive is damaged or ends early ({error or type(error).__name__}); nothing was imported: "
            "download it again",
            path=dump,
        ) from None
    if files == 0:
        raise DataError("no listens/<year>/<month>.listens files in this dump", path=dump)
    counts.flush()
    if counts.listens == 0:
        why = f" in {window.describe()}" if window != MonthRange() else ""
        raise DataError(f"no listens to import{why}", path=dump)
    log.debug("%d listens read in %.1f s", counts.listens, time.perf_counter() - started)

    builder = counts.builder
    builder.finish()
    item_ids, columns, merged = _columns(builder.item_ids, counts.spelled)
    matrix = builder.to_csr(columns, len(item_ids))
    user_ids = builder.user_ids

    played_by = np.bincount(matrix.indices, minlength=matrix.shape[1])
    keep_items = np.flatnonzero(played_by >= min_listeners)
    dropped_items = len(item_ids) - len(keep_items)
    if dropped_items:
        matrix = matrix[:, keep_items].tocsr()
        item_ids = [item_ids[i] for i in keep_items]
    keep_users = np.flatnonzero(np.diff(matrix.indptr) > 0)
    dropped_users = matrix.shape[0] - len(keep_users)
    if dropped_users:
        matrix = matrix[keep_users]
        user_ids = user_ids.take(pa.array(keep_users))
    if matrix.shape[1] == 0:
        raise DataError(
            f"no recording has {min_listeners} or more listeners (of {len(played_by):,} recordings); "
            "lower --min-listeners",
            path=dump,
        )

    catalog = [counts.recordings[item] for item in item_ids]
    items = items_frame(
        pa.array(item_ids, pa.string()),
        pa.array([r.title for r in catalog], pa.string()),
        pa.array([r.artist for r in catalog], pa.string()),
    )
    items["recording_mbid"] = [r.recording_mbid for r in catalog]
    items["artist_mbids"] = [r.artist_mbids for r in catalog]
    plays = int(pc.sum(pa.array(matrix.data)).as_py() or 0)
    write_dataset(
        dest,
        name=name,
        interactions=matrix,
        items=items,
        user_ids=user_ids,
        source={
            "kind": "listenbrainz",
            "dump": str(dump),
            "months": window.describe(),
            "files": files - skipped_files,
            "listens": counts.listens,
            "matched_listens": counts.matched,
            "outside_months": counts.outside,
            "skipped_lines": sum(r.skipped for r in reports),
            "merged_spellings": merged,
            "min_listeners": min_listeners,
            "dropped_recordings": dropped_items,
            "dropped_listeners": dropped_users,
            "plays": plays,
        },
    )

    notes = [
        f"{plural(counts.matched, 'listen')} of {counts.listens:,} matched to a MusicBrainz recording "
        f"({100 * counts.matched / counts.listens:.0f}%); the rest are merged by title and artist"
    ]
    if merged:
        notes.append(f"{plural(merged, 'unmatched spelling')} counted for the matched recording of the same name")
    if skipped_files:
        notes.append(f"{plural(skipped_files, 'month file')} outside {window.describe()} not read")
    if counts.outside:
        notes.append(f"{plural(counts.outside, 'listen')} dated outside {window.describe()} left out")
    if dropped_items:
        notes.append(
            f"{plural(dropped_items, 'recording')} with fewer than {min_listeners} listeners left out"
            + (f", and {plural(dropped_users, 'listener')} with nothing left" if dropped_users else "")
        )
    return ImportSummary(
        name,
        dest,
        matrix.shape[0],
        matrix.shape[1],
        int(matrix.nnz),
        counts.listens,
        time.perf_counter() - started,
        reports,
        notes,
    )
