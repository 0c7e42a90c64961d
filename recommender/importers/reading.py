"""The chunked reader every importer uses: a delimited file (its :class:`~.layout.Layout`) ->
checked Arrow tables, in order.

How a file is read (the fast path)
    The file is cut at line ends into chunks of about 64 MB; each chunk is parsed by pyarrow's
    CSV reader in a worker thread (pyarrow and numpy release the GIL, so two chunks are parsed
    at once on two cores). What becomes of a chunk is the caller's ``transform`` (importers
    encode it with :mod:`recommender.importers.encoding`), run in the same worker. No Python
    code runs per row.

When a chunk is rejected
    pyarrow's errors do not say which line failed, so a rejected chunk is scanned again line by
    line in Python (:class:`LineChecker`), which names the line, the field and the byte. With
    ``on_error="stop"`` the first bad line ends the import with a :class:`DataError`; with
    ``"skip"`` the bad lines are dropped, the rest of the chunk is parsed again and the skips are
    counted (:class:`ReadReport`). The Python rules are a little stricter than pyarrow's (no
    stray carriage returns, counts are plain digits), so whatever the scan keeps parses.
"""

from __future__ import annotations

import csv as stdlib_csv
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from io import BufferedReader
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from tqdm import tqdm

from recommender.errors import DataError, SoundalikeError

from .layout import (
    MAX_LINE_BYTES,
    PADDING,
    Layout,
    open_input,
    separator_hint,
    separator_name,
    split_line,
    utf8_problem,
)

CHUNK_BYTES = 64 << 20
MIN_CHUNK_BYTES = 4 << 20
MAX_WORKERS = 4
ON_ERROR_CHOICES = ("stop", "skip")


# Bytes a multi-character separator (the MSD's "<SEP>") may be swapped for before pyarrow,
# which only splits on one character; a chunk uses the first one it does not contain.
SEPARATOR_STAND_INS = bytes([0x1F, 0x1E, 0x1D, 0x1C, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06])

T = TypeVar("T")


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def default_workers() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores))


def validate_on_error(on_error: str) -> str:
    if on_error not in ON_ERROR_CHOICES:
        raise SoundalikeError(f"on_error must be one of {ON_ERROR_CHOICES}, got {on_error!r}")
    return on_error


# -- checking lines one by one (only for chunks pyarrow rejected) --------------------------------


class LineChecker:
    """The rules a row must meet, applied to one line at a time, with a reason when it fails."""

    def __init__(self, layout: Layout):
        self.layout = layout

    def problem(self, line: bytes) -> str | None:
        """Why ``line`` (without its newline) is not a valid row; None when it is (or is blank)."""
        layout = self.layout
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            return None
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as error:
            return utf8_problem(line, error)
        if "\r" in text:
            return "a carriage return in the middle of the line"
        try:
            fields = split_line(text, layout.separator, layout.quote)
        except stdlib_csv.Error as error:
            return f"badly quoted field: {error}"
        if len(fields) != layout.n_fields:
            return (
                f"expected {layout.n_fields} fields separated by {separator_name(layout.separator)}, "
                f"found {len(fields)}"
                + separator_hint(text, layout.separator, layout.separator_option, layout.n_fields)
            )
        for f in layout.fields:
            value = fields[f.index]
            if f.kind == "id" and not value.strip(PADDING):
                return f"empty {f.label}"
            if f.kind == "count":
                digits = value.strip(" ")
                if digits.startswith("-") and digits[1:].isascii() and digits[1:].isdigit():
                    return f"{f.label} must be positive, found {digits}"
                if not (digits.isascii() and digits.isdigit()):
                    return f"{f.label} {value!r} is not a whole number"
                number = int(digits)
                if number <= 0:
                    return f"{f.label} must be positive, found {number}"
                if number >= 2**63:
                    return f"{f.label} {digits} is too large"
        return None


# -- the chunked reader -------------------------------------------------------------------------


class _Rejected(Exception):
    """pyarrow refused a chunk, or a vectorised check failed; the reason is pyarrow's or ours."""


class _BadLine(Exception):
    def __init__(self, index: int, reason: str):
        super().__init__(reason)
        self.index = index  # 0-based line within the chunk
        self.reason = reason


class _Unreadable(Exception):
    """pyarrow refused lines the Python scan accepted (should not happen; reported, not hidden)."""


@dataclass
class _ChunkOutput(Generic[T]):
    value: T
    rows: int
    skipped: int
    first_skip: tuple[int, str] | None


@dataclass
class ReadReport:
    """Rows read and rows skipped in one file."""

    path: Path
    rows: int = 0
    skipped: int = 0
    first_skip: tuple[int, str] | None = None  # (line, reason)
    body_bytes: int = 0  # bytes of rows in the file
    bytes_done: int = 0  # of which read so far
    unit: str = "line"  # where a skip is: a text file's line, a Parquet file's row

    def expected_rows(self) -> int | None:
        """The file's rows, extrapolated from what was read so far (sizes arrays once)."""
        if not self.bytes_done or not self.rows:
            return None
        return int((self.rows + self.skipped) * self.body_bytes / self.bytes_done * 1.02) + 1024

    def skip_message(self) -> str | None:
        if not self.skipped or self.first_skip is None:
            return None
        line, reason = self.first_skip
        rows = "row" if self.skipped == 1 else "rows"
        return f"{self.path}: skipped {self.skipped} malformed {rows} (first at {self.unit} {line}: {reason})"


def _parse(layout: Layout, data: memoryview | bytes) -> pa.Table:
    """Parse a chunk of whole lines with pyarrow and run the vectorised checks."""
    delimiter = layout.separator
    if len(delimiter) > 1:
        raw = bytes(data)
        stand_in = next((b for b in SEPARATOR_STAND_INS if b not in raw), None)
        if stand_in is None:
            raise _Rejected("the chunk uses every stand-in byte for the separator")
        data = raw.replace(delimiter.encode("utf-8"), bytes([stand_in]))
        delimiter = chr(stand_in)
    types = layout.column_types()
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(
                column_names=[f"f{i}" for i in range(layout.n_fields)],
                block_size=max(len(data) + 1, 1 << 16),
                use_threads=False,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, quote_char=layout.quote or False, newlines_in_values=False, ignore_empty_lines=True
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                include_columns=list(types),
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                check_utf8=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
        raise _Rejected(str(error)) from None
    columns = {}
    for f in layout.fields:
        column = single_array(table.column(f"f{f.index}"))
        if f.kind != "count" and _has_padding(column):
            column = pc.ascii_trim(column, PADDING)
        if len(column):
            if f.kind == "id" and pc.min(pc.binary_length(column)).as_py() == 0:
                raise _Rejected(f"empty {f.label}")
            if f.kind == "count" and (column.null_count or pc.min(column).as_py() < 1):
                raise _Rejected(f"{f.label} below 1")
        columns[f.name] = column
    return pa.table(columns)


def single_array(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One contiguous array (copying only when there really are several chunks)."""
    if isinstance(values, pa.ChunkedArray):
        return values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
    return values


def _has_padding(values: pa.Array) -> bool:
    """Whether any value starts or ends with a space or tab (cheap: two byte gathers)."""
    n = len(values)
    data_buffer = values.buffers()[2] if n else None
    if data_buffer is None or values.type != pa.string():
        return False
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32, count=n + 1, offset=values.offset * 4)
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    starts, ends = offsets[:-1], offsets[1:]
    if not np.all(ends > starts):  # some values are empty: look at the others only
        filled = ends > starts
        starts, ends = starts[filled], ends[filled]
    return any(bool(np.any((edge == 0x20) | (edge == 0x09))) for edge in (data[starts], data[ends - 1]))


def _rescan(
    layout: Layout, data: memoryview | bytes, *, stop_at_first: bool
) -> tuple[tuple[int, str] | None, int, bytes]:
    """Check each line in Python: (first bad line, number of bad lines, the good lines)."""
    checker = LineChecker(layout)
    lines = bytes(data).split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    first: tuple[int, str] | None = None
    bad = 0
    keep: list[bytes] = []
    for index, line in enumerate(lines):
        problem = checker.problem(line)
        if problem is None:
            keep.append(line)
            continue
        bad += 1
        if first is None:
            first = (index, problem)
            if stop_at_first:
                break
    return first, bad, (b"\n".join(keep) + b"\n") if keep else b""


def _parse_rescued(layout: Layout, good: bytes, original: _Rejected) -> pa.Table:
    if not good.strip(b"\r\n"):
        return layout.empty_table()
    try:
        return _parse(layout, good)
    except _Rejected as again:
        raise _Unreadable(f"{original} / {again}") from None


def _process_chunk(
    layout: Layout, data: memoryview | bytes, transform: Callable[[pa.Table], T], on_error: str
) -> _ChunkOutput[T]:
    """Worker: parse (rescuing or rejecting bad lines) and transform one chunk."""
    try:
        table = _parse(layout, data)
        return _ChunkOutput(transform(table), table.num_rows, 0, None)
    except _Rejected as rejection:
        first, bad, good = _rescan(layout, data, stop_at_first=on_error == "stop")
        if first is not None and on_error == "stop":
            raise _BadLine(*first) from None
        table = _parse_rescued(layout, good, rejection)
        return _ChunkOutput(transform(table), table.num_rows, bad, first)


def line_number_at(path: Path, offset: int) -> int:
    """1-based number of the line that starts at byte ``offset`` (counts the newlines before it)."""
    newlines = 0
    with open(path, "rb") as handle:
        remaining = offset
        while remaining > 0:
            block = handle.read(min(remaining, 16 << 20))
            if not block:
                break
            newlines += block.count(b"\n")
            remaining -= len(block)
    return newlines + 1


def read_chunks(
    layout: Layout,
    transform: Callable[[pa.Table], T],
    report: ReadReport,
    *,
    on_error: str = "stop",
    chunk_bytes: int | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> Iterator[T]:
    """Yield ``transform(table)`` for each chunk of ``layout.path``, in file order.

    ``table`` has one column per :class:`Field` (strings, or int64 for counts), already checked.
    ``transform`` runs in a worker thread, so it must only touch its own chunk. Raises
    :class:`DataError` naming the file and line of the first bad row (``on_error="stop"``), or
    skips bad rows and counts them in ``report`` (``"skip"``).
    """
    validate_on_error(on_error)
    workers = workers or default_workers()
    with open_input(layout.path, layout.what) as handle:
        body = max(0, os.fstat(handle.fileno()).st_size - layout.data_offset)
        report.body_bytes = body
        chunks = _LineChunks(handle, layout, body, chunk_bytes or CHUNK_BYTES, workers)
        bar = _progress_bar(layout.path, body, progress)
        pending: deque[tuple[int, int, Future[_ChunkOutput[T]]]] = deque()  # (offset, length, parse)
        with ThreadPoolExecutor(workers, thread_name_prefix="import") as pool:
            try:
                while not chunks.eof:
                    # A buffer is refilled only once the chunk parsed from it has been collected.
                    while len(pending) >= chunks.count:
                        yield _collect(layout, report, *pending.popleft())
                    offset, lines = chunks.next()
                    if len(lines):
                        parse = pool.submit(_process_chunk, layout, lines, transform, on_error)
                        pending.append((offset, len(lines), parse))
                    bar.update(len(lines))
                while pending:
                    yield _collect(layout, report, *pending.popleft())
            finally:
                for _, _, future in pending:
                    future.cancel()
                bar.close()


def _progress_bar(path: Path, body: int, progress: bool) -> tqdm:
    return tqdm(
        total=body,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=path.name,
        disable=None if progress else True,
        leave=False,
        mininterval=0.5,
    )


class _LineChunks:
    """A file's rows cut at line ends into chunks, read into a few buffers used in turn.

    A chunk is a view into its buffer, so the caller must be done with it (its parse
    collected) before the buffer comes round again, ``count`` chunks later. A line longer than
    a buffer grows that buffer, up to ``MAX_LINE_BYTES``.
    """

    def __init__(self, handle: BufferedReader, layout: Layout, body: int, chunk_bytes: int, workers: int):
        # Smaller chunks for smaller files, so every worker gets some (but not tiny ones).
        size = max(1, min(chunk_bytes, body + 1, max(MIN_CHUNK_BYTES, body // (4 * workers) + 1)))
        self.count = max(1, min(workers + 1, body // size + 1))
        self.buffers = [bytearray(size) for _ in range(self.count)]
        self.handle, self.path = handle, layout.path
        handle.seek(layout.data_offset)
        self.offset = layout.data_offset  # where the next chunk starts in the file
        self.carry = b""  # the start of the line the last chunk cut off
        self.eof = False
        self.turn = 0

    def next(self) -> tuple[int, memoryview]:
        """The next chunk: its offset in the file and its whole lines (empty once nothing is left)."""
        index = self.turn % self.count
        self.turn += 1
        view, filled, cut = self._fill(index)
        self.carry = bytes(view[cut:filled])
        offset = self.offset
        self.offset += cut
        return offset, view[:cut]

    def _fill(self, index: int) -> tuple[memoryview, int, int]:
        """Buffer ``index`` holding the carried line start and as much of the file as fits:
        (its view, bytes filled, where its last whole line ends)."""
        if len(self.carry) >= len(self.buffers[index]):  # the line in progress outgrew this buffer
            grown = min(max(2 * len(self.carry), len(self.buffers[index])), MAX_LINE_BYTES)
            self.buffers[index] = bytearray(grown)
        buffer = self.buffers[index]
        view = memoryview(buffer)
        view[: len(self.carry)] = self.carry
        filled = len(self.carry)
        while True:
            filled = self._read_into(view, filled)
            cut = filled if self.eof else buffer.rfind(b"\n", 0, filled) + 1
            if cut or self.eof:
                return view, filled, cut
            # One line fills the whole buffer: make this buffer room for it.
            if len(buffer) >= MAX_LINE_BYTES:
                raise DataError(
                    f"line is longer than {MAX_LINE_BYTES >> 20} MB; is this a text file?",
                    path=self.path,
                    line=line_number_at(self.path, self.offset),
                )
            bigger = bytearray(min(2 * len(buffer), MAX_LINE_BYTES))
            bigger[:filled] = view[:filled]
            self.buffers[index] = buffer = bigger
            view = memoryview(buffer)

    def _read_into(self, view: memoryview, filled: int) -> int:
        while filled < len(view):
            got = self.handle.readinto(view[filled:])
            if not got:
                self.eof = True
                break
            filled += got
        return filled


def _collect(layout: Layout, report: ReadReport, chunk_offset: int, length: int, future: Future[_ChunkOutput[T]]) -> T:
    """A parsed chunk's transform, its rows and skips counted; a bad line named by its number."""
    path = layout.path
    try:
        output = future.result()
    except _BadLine as bad:
        line = line_number_at(path, chunk_offset) + bad.index
        reason = bad.reason
        if layout.header_option and line == 1 and "is not a whole number" in reason:
            reason += f" (if line 1 is a header, pass {layout.header_option})"
        raise DataError(reason, path=path, line=line) from None
    except _Unreadable as unreadable:
        raise DataError(
            f"rows from this line on could not be read: {unreadable}",
            path=path,
            line=line_number_at(path, chunk_offset),
        ) from None
    report.rows += output.rows
    report.bytes_done += length
    if output.skipped:
        if report.first_skip is None and output.first_skip is not None:
            index, reason = output.first_skip
            report.first_skip = (line_number_at(path, chunk_offset) + index, reason)
        report.skipped += output.skipped
    return output.value


def read_table(layout: Layout, report: ReadReport, *, on_error: str, progress: bool = True) -> pa.Table:
    """A whole (small) file as one table, through the same checks as the big ones."""
    tables = list(read_chunks(layout, lambda table: table, report, on_error=on_error, progress=progress))
    return pa.concat_tables(tables) if tables else layout.empty_table()


# -- what an import did --------------------------------------------------------------------------


@dataclass
class ImportSummary:
    """What an import did, for the command to print and for tests to check."""

    name: str
    dest: Path
    users: int
    items: int
    interactions: int
    rows: int
    seconds: float
    reports: list[ReadReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return sum(r.skipped for r in self.reports)

    def lines(self) -> list[str]:
        out = [
            f"Imported {self.name!r}: {self.users:,} users, {self.items:,} items, "
            f"{self.interactions:,} user-item pairs from {self.rows:,} rows in "
            f"{self.seconds:.1f} s -> {self.dest}"
        ]
        out += [m for r in self.reports if (m := r.skip_message())]
        out += self.notes
        return out
