"""Delimited text -> dataset: the chunked reader every importer uses, and ``data import-csv``.

How a file is read (the fast path)
    The file is cut at line ends into chunks of about 64 MB; each chunk is parsed by pyarrow's
    CSV reader in a worker thread (pyarrow and numpy release the GIL, so two chunks are parsed
    at once on two cores). Id columns are read as strings and turned into per-chunk codes by
    :func:`factorize_strings`; the per-chunk vocabularies are merged once at the end
    (:func:`merge_vocabularies`) and the users x items matrix is built in one go
    (:meth:`InteractionsBuilder.to_csr`). No Python code runs per row.

When a chunk is rejected
    pyarrow's errors do not say which line failed, so a rejected chunk is scanned again line by
    line in Python (:class:`LineChecker`), which names the line, the field and the byte. With
    ``on_error="stop"`` the first bad line ends the import with a :class:`DataError`; with
    ``"skip"`` the bad lines are dropped, the rest of the chunk is parsed again and the skips are
    counted (:class:`ReadReport`). The Python rules are a little stricter than pyarrow's (no
    stray carriage returns, counts are plain digits), so whatever the scan keeps parses.

``data import-csv`` reads any ``user, item[, count]`` file plus an optional catalog. Items are
ordered as the catalog lists them (the first row of a repeated id wins), then items that only
the interactions name, in order of first appearance; those keep their id as title. Users are
ordered by first appearance. Repeated (user, item) rows are summed. Spaces and tabs around ids,
titles and artists are dropped (Last.fm's file has an artist id "65  ").

When the separator or a header line is not given (``--sep``, ``--interactions-header``,
``--catalog-header``), they are detected from the file's first lines and the import says what
it found: the separator is the one Python's ``csv.Sniffer`` picks among tab, comma, semicolon
and pipe, checked to split (nearly) every sampled line into the same number of fields (else the
first candidate that does); line 1 is a header when a column is named, when a column holds
whole numbers on the other lines but not on line 1, when every field of line 1 is a usual
column name (user, item, count, title, artist, ...), or else when ``csv.Sniffer.has_header``
says so. A ``.parquet`` file is read as Parquet (columns by name or 0-based number).

Import the Last.fm HetRec 2011 folder (its items are artists, so the artist name serves as both
title and artist; ``user_artists.dat`` has no header, and its third column, the play count, is
used by default)::

    python -m recommender data import-csv \\
        --interactions ../shared/datasets/hetrec2011-lastfm-2k/user_artists.dat \\
        --catalog ../shared/datasets/hetrec2011-lastfm-2k/artists.dat --catalog-header \\
        --catalog-item-col 0 --title-col 1 --artist-col 1 --name lastfm
"""

from __future__ import annotations

import csv as stdlib_csv
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import scipy.sparse as sp
from tqdm import tqdm

from ..dataset import write_dataset
from ..errors import DataError, SoundalikeError

CHUNK_BYTES = 64 << 20
MIN_CHUNK_BYTES = 4 << 20
MAX_LINE_BYTES = 64 << 20
MAX_WORKERS = 4
UNKNOWN_ARTIST = "Unknown artist"
BOM = b"\xef\xbb\xbf"
ON_ERROR_CHOICES = ("stop", "skip")
# Ids and texts lose surrounding spaces and tabs ("65  " and "65" are one artist in Last.fm's data).
PADDING = " \t"

SEPARATOR_NAMES = {"\t": "TAB", ",": "comma", ";": "semicolon", "|": "pipe", " ": "space"}
SEPARATOR_WORDS = {"tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}
# Separators a wrongly split line is checked for, most telling first.
SEPARATOR_CANDIDATES = ("\t", ",", ";", "|")
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


def separator_name(separator: str) -> str:
    return SEPARATOR_NAMES.get(separator, repr(separator))


def parse_separator(text: str) -> str:
    """A separator as typed: a character, an escape like ``\\t``, a word like ``tab``, or
    ``auto`` (detect it in each file)."""
    if text.strip().lower() == AUTO:
        return AUTO
    value = SEPARATOR_WORDS.get(text.lower(), text)
    if "\\" in value:
        try:
            value = value.encode("latin-1", "backslashreplace").decode("unicode_escape")
        except UnicodeDecodeError:
            raise SoundalikeError(f"separator {text!r}: not a valid escape (try '\\t' or 'tab')") from None
    if not value:
        raise SoundalikeError("the separator must not be empty")
    if "\n" in value or "\r" in value:
        raise SoundalikeError(f"separator {text!r}: a line break cannot separate fields")
    return value


def validate_on_error(on_error: str) -> str:
    if on_error not in ON_ERROR_CHOICES:
        raise SoundalikeError(f"on_error must be one of {ON_ERROR_CHOICES}, got {on_error!r}")
    return on_error


# -- what a file looks like ----------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One column an importer needs. ``kind``: "id" (non-empty text), "count" (a positive whole
    number) or "text" (anything, may be empty)."""

    name: str  # column name in the parsed table
    label: str  # how messages call it
    index: int  # 0-based position in the line
    kind: str


@dataclass(frozen=True)
class Layout:
    """Everything the reader needs to know about one delimited file."""

    path: Path
    what: str  # "triplets file", "catalog", ... for messages
    separator: str
    n_fields: int
    fields: tuple[Field, ...]
    quote: str | None = None
    data_offset: int = 0  # first byte of the rows (after a byte-order mark and the header)
    header_option: str | None = None  # the flag that declares a header, for hints
    separator_option: str | None = None  # the flag that sets the separator, for hints

    def column_types(self) -> dict[str, pa.DataType]:
        types: dict[str, pa.DataType] = {}
        for f in self.fields:
            key = f"f{f.index}"
            types[key] = pa.int64() if f.kind == "count" else types.get(key, pa.string())
        return types

    def empty_table(self) -> pa.Table:
        return pa.table({f.name: pa.array([], pa.int64() if f.kind == "count" else pa.string()) for f in self.fields})


@dataclass(frozen=True)
class FileHead:
    """The start of a file: where rows begin and what the first line holds."""

    size: int
    data_offset: int
    first_fields: list[str]  # the header's fields, or the first row's
    header: list[str] | None
    first_line: int = 1  # the line those fields are on (blank lines may come first)


def open_input(path: Path, what: str):
    """Open a file for reading bytes, turning the usual failures into one clear line."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise DataError(f"{what} not found", path=path) from None
    except IsADirectoryError:
        raise DataError(f"{what} is a folder, not a file", path=path) from None
    except PermissionError:
        raise DataError(f"{what} cannot be read (permission denied)", path=path) from None
    except OSError as error:
        raise DataError(f"{what} cannot be opened: {error.strerror}", path=path) from None


def split_line(text: str, separator: str, quote: str | None) -> list[str]:
    if quote is None:
        return text.split(separator)
    return next(stdlib_csv.reader([text], delimiter=separator, quotechar=quote, strict=True))


def inspect_head(path: Path, what: str, separator: str, *, header: bool, quote: str | None = None) -> FileHead:
    """Read the first line: the header when there is one, else the first row (for its width)."""
    with open_input(path, what) as handle:
        size = os.fstat(handle.fileno()).st_size
        start = handle.read(len(BOM))
        offset = len(BOM) if start == BOM else 0
        handle.seek(offset)
        line_number = 0
        while True:
            raw = handle.readline(MAX_LINE_BYTES)
            if not raw:
                if size == 0 or (offset == len(BOM) and size == len(BOM)):
                    raise DataError(f"{what} is empty", path=path)
                raise DataError(f"{what} has no rows (only blank lines)", path=path)
            line_number += 1
            line = raw.rstrip(b"\n").removesuffix(b"\r")
            if not line:
                offset += len(raw)
                continue
            if not raw.endswith(b"\n") and len(raw) == MAX_LINE_BYTES:
                raise DataError(
                    f"line is longer than {MAX_LINE_BYTES >> 20} MB; is this a text file?", path=path, line=line_number
                )
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(_utf8_problem(line, error), path=path, line=line_number) from None
            try:
                fields = split_line(text, separator, quote)
            except stdlib_csv.Error as error:
                raise DataError(f"badly quoted field: {error}", path=path, line=line_number) from None
            if header:
                return FileHead(size, offset + len(raw), fields, fields, line_number)
            return FileHead(size, offset, fields, None, line_number)


def resolve_column(
    spec: str,
    head: FileHead,
    *,
    option: str,
    path: Path,
    what: str,
    separator: str,
    header_option: str,
    separator_option: str | None = None,
) -> int:
    """A column given as a 0-based index or, when the file has a header, by name."""
    spec = spec.strip()
    width = len(head.first_fields)
    if spec.isdigit():
        index = int(spec)
        if index >= width:
            hint = _separator_hint(separator.join(head.first_fields), separator, separator_option)
            raise DataError(
                f"{option} {index} is out of range: the first line has {width} field(s) separated by "
                f"{separator_name(separator)}{hint}",
                path=path,
                line=head.first_line,
            )
        return index
    if head.header is None:
        raise DataError(
            f"{option} {spec!r} is a column name, but the {what} has no header: pass "
            f"{header_option} or give a 0-based column number",
            path=path,
        )
    if spec not in head.header:
        raise DataError(
            f"{option}: no column named {spec!r} (the header has: {', '.join(head.header)})",
            path=path,
            line=head.first_line,
        )
    return head.header.index(spec)


# -- checking lines one by one (only for chunks pyarrow rejected) --------------------------------


def _utf8_problem(line: bytes, error: UnicodeDecodeError) -> str:
    return f"not valid UTF-8: byte {error.start + 1} of the line is 0x{line[error.start]:02x} (save the file as UTF-8)"


def _separator_hint(text: str, expected: str, option: str | None = None, fields: int | None = None) -> str:
    """' (the line looks comma-separated ...)' when another separator explains the line.

    With ``fields`` (the expected count), a candidate must split the line into exactly that
    many fields, unless the expected separator is absent altogether.
    """
    counts = {c: text.count(c) for c in SEPARATOR_CANDIDATES if c != expected}
    if fields is not None and expected in text:
        counts = {c: n for c, n in counts.items() if n == fields - 1}
    best = max(counts, key=counts.get) if counts else None
    if best is None or counts[best] == 0:
        return ""
    advice = f"; pass {option} '{best}'" if option else f"; this file must be {separator_name(expected)}-separated"
    if best == "\t" and option:
        advice = f"; pass {option} '\\t'"
    return f" (the line looks {separator_name(best)}-separated{advice})"


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
            return _utf8_problem(line, error)
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
                + _separator_hint(text, layout.separator, layout.separator_option, layout.n_fields)
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
class _ChunkOutput:
    value: object
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
        if not self.skipped:
            return None
        line, reason = self.first_skip
        rows = "row" if self.skipped == 1 else "rows"
        return f"{self.path}: skipped {self.skipped} malformed {rows} (first at {self.unit} {line}: {reason})"


def _parse(layout: Layout, data) -> pa.Table:
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
    for edge in (data[starts], data[ends - 1]):
        if np.any((edge == 0x20) | (edge == 0x09)):
            return True
    return False


def _rescan(layout: Layout, data, *, stop_at_first: bool) -> tuple[tuple[int, str] | None, int, bytes]:
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


def _process_chunk(layout: Layout, data, transform: Callable[[pa.Table], object], on_error: str) -> _ChunkOutput:
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
    path = layout.path
    workers = workers or default_workers()
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    with open_input(path, layout.what) as handle:
        size = os.fstat(handle.fileno()).st_size
        body = max(0, size - layout.data_offset)
        # Smaller chunks for smaller files, so every worker gets some (but not tiny ones).
        buffer_size = max(1, min(chunk_bytes, body + 1, max(MIN_CHUNK_BYTES, body // (4 * workers) + 1)))
        n_buffers = max(1, min(workers + 1, body // buffer_size + 1))
        buffers = [bytearray(buffer_size) for _ in range(n_buffers)]
        pending: deque[tuple[int, int, Future]] = deque()  # (offset, length, parse)
        bar = tqdm(
            total=body,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=path.name,
            disable=None if progress else True,
            leave=False,
            mininterval=0.5,
        )

        report.body_bytes = body

        def collect(chunk_offset: int, length: int, future: Future) -> T:
            try:
                output: _ChunkOutput = future.result()
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
                if report.first_skip is None:
                    index, reason = output.first_skip
                    report.first_skip = (line_number_at(path, chunk_offset) + index, reason)
                report.skipped += output.skipped
            return output.value  # type: ignore[return-value]

        with ThreadPoolExecutor(workers, thread_name_prefix="import") as pool:
            try:
                handle.seek(layout.data_offset)
                chunk_offset = layout.data_offset
                carry = b""
                eof = False
                turn = 0
                while not eof:
                    # A buffer is refilled only once the chunk parsed from it has been collected.
                    while len(pending) >= n_buffers:
                        yield collect(*pending.popleft())
                    index = turn % n_buffers
                    turn += 1
                    buffer = buffers[index]
                    if len(carry) >= len(buffer):  # the line in progress outgrew this buffer
                        buffers[index] = buffer = bytearray(min(max(2 * len(carry), len(buffer)), MAX_LINE_BYTES))
                    view = memoryview(buffer)
                    view[: len(carry)] = carry
                    filled = len(carry)
                    while True:
                        while filled < len(buffer):
                            got = handle.readinto(view[filled:])
                            if not got:
                                eof = True
                                break
                            filled += got
                        cut = filled if eof else buffer.rfind(b"\n", 0, filled) + 1
                        if cut or eof:
                            break
                        # One line fills the whole buffer: make this buffer room for it.
                        if len(buffer) >= MAX_LINE_BYTES:
                            raise DataError(
                                f"line is longer than {MAX_LINE_BYTES >> 20} MB; is this a text file?",
                                path=path,
                                line=line_number_at(path, chunk_offset),
                            )
                        bigger = bytearray(min(2 * len(buffer), MAX_LINE_BYTES))
                        bigger[:filled] = view[:filled]
                        buffers[index] = buffer = bigger
                        view = memoryview(buffer)
                    carry = bytes(view[cut:filled])
                    if cut:
                        pending.append(
                            (chunk_offset, cut, pool.submit(_process_chunk, layout, view[:cut], transform, on_error))
                        )
                    chunk_offset += cut
                    bar.update(cut)
                while pending:
                    yield collect(*pending.popleft())
            finally:
                for _, _, future in pending:
                    future.cancel()
                bar.close()


# -- string columns to codes ----------------------------------------------------------------------

MAX_KEY_BYTES = 64
_KEY_MULTIPLIER = np.uint64(0xFF51AFD7ED558CCD)
_KEY_SEED = 0x9E3779B97F4A7C15


@dataclass
class Factorized:
    """Codes for a string column: ``uniques[codes[i]] == values[i]``.

    ``uniques`` are in order of first appearance. ``keys`` is a 64-bit content key of each
    unique value, present when the values are all of one width (ids usually are), so
    vocabularies can be merged by key; None otherwise.
    """

    codes: np.ndarray
    uniques: pa.Array
    keys: np.ndarray | None


def _fixed_width_words(values: pa.Array) -> tuple[np.ndarray, int] | None:
    """The values as rows of 64-bit words (zero padded), when all have one width <= 64 bytes."""
    n = len(values)
    if n == 0 or values.null_count or values.type != pa.string():
        return None
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32, count=n + 1, offset=values.offset * 4)
    width = int(offsets[1] - offsets[0])
    if not 0 < width <= MAX_KEY_BYTES or int(offsets[-1] - offsets[0]) != n * width:
        return None
    if n > 1 and np.any(np.diff(offsets) != width):
        return None
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
    padded = np.zeros((n, (width + 7) // 8 * 8), dtype=np.uint8)
    padded[:, :width] = data[offsets[0] : offsets[0] + n * width].reshape(n, width)
    return padded.view(np.uint64), width


def _keys(words: np.ndarray, width: int) -> np.ndarray:
    """A 64-bit mix of each row of words (and the width, so padding cannot collide)."""
    key = np.full(len(words), (width * _KEY_SEED) % 2**64, dtype=np.uint64)
    for column in words.T:
        key ^= column
        key *= _KEY_MULTIPLIER
        key ^= key >> np.uint64(32)
    return key


def _first_positions(codes: np.ndarray) -> np.ndarray:
    """Where each code first appears, given codes numbered in order of first appearance."""
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64)
    running = np.maximum.accumulate(codes)
    return np.flatnonzero(np.diff(running, prepend=-1))


def factorize_strings(values: pa.Array | pa.ChunkedArray, *, prefer_keys: bool = True) -> Factorized:
    """Codes and distinct values of a string column, exactly.

    With ``prefer_keys`` and values of one width, the values are hashed with numpy and
    factorized by pandas (about twice as fast as Arrow's hash table when most values are
    distinct); every row is then compared with its representative, word by word, so a hash
    collision can only cost speed: it falls back to Arrow's exact ``dictionary_encode``.
    """
    values = single_array(values)
    packed = _fixed_width_words(values) if prefer_keys else None
    if packed is not None:
        words, width = packed
        keys = _keys(words, width)
        codes, unique_keys = pd.factorize(keys)
        first = _first_positions(codes)
        if np.array_equal(words, words[first][codes]):
            return Factorized(codes.astype(np.int32), values.take(pa.array(first)), unique_keys)
    encoded = pc.dictionary_encode(values)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    uniques = encoded.dictionary
    packed = _fixed_width_words(uniques)
    return Factorized(codes, uniques, _keys(*packed) if packed is not None else None)


class StringEncoder:
    """Factorizes chunks of one column, learning which method suits it.

    Columns where most values in a chunk repeat (the grouped user ids) are cheapest for
    Arrow's small hash table; columns of mostly distinct values (song ids) for keys.
    """

    KEYS_ABOVE_DISTINCT_SHARE = 0.05

    def __init__(self) -> None:
        self.prefer_keys = True

    def factorize(self, values) -> Factorized:
        result = factorize_strings(values, prefer_keys=self.prefer_keys)
        if len(result.codes):
            # A hint for the next chunks; a race between workers only costs a little speed.
            self.prefer_keys = len(result.uniques) > self.KEYS_ABOVE_DISTINCT_SHARE * len(result.codes)
        return result


def merge_vocabularies(parts: list[Factorized]) -> tuple[list[np.ndarray], pa.Array]:
    """Merge per-chunk vocabularies: per part, its uniques' global codes; and the global values.

    Global values are in order of first appearance across the parts. When every part has keys
    they are merged by key and checked value by value; otherwise (or on a collision) Arrow
    merges the strings exactly.
    """
    if not parts:
        return [], pa.array([], pa.string())
    sizes = [len(p.uniques) for p in parts]
    if all(p.keys is not None for p in parts):
        codes, _ = pd.factorize(np.concatenate([p.keys for p in parts]))
        first = _first_positions(codes)
        values = pa.chunked_array([p.uniques for p in parts], type=pa.string()).take(pa.array(first))
        values = values.combine_chunks()
        maps = np.split(codes.astype(np.int32), np.cumsum(sizes)[:-1])
        if all(
            len(p.uniques) == 0 or pc.all(pc.equal(p.uniques, values.take(pa.array(m)))).as_py()
            for p, m in zip(parts, maps)
        ):
            return maps, values
    encoded = pc.dictionary_encode(pa.concat_arrays([p.uniques for p in parts]))
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    return np.split(codes, np.cumsum(sizes)[:-1]), encoded.dictionary


# -- interactions --------------------------------------------------------------------------------


@dataclass
class _InteractionPart:
    """One chunk, encoded: users as runs (files are grouped by user), item codes, counts."""

    users: Factorized  # codes dropped: the runs below carry them
    run_users: np.ndarray  # local user code of each run of equal users
    run_lengths: np.ndarray
    items: Factorized  # codes dropped: ``item_codes`` carries them
    item_codes: np.ndarray
    counts: np.ndarray


class InteractionsBuilder:
    """Collects chunks of (user, item, count) rows and builds the users x items matrix.

    :meth:`encode` runs in reader workers (one chunk each); :meth:`add` and the rest run in the
    reading thread. Tables need ``user`` and ``item`` string columns and optionally ``count``
    (absent: each row counts one play).

    Memory: each row costs 8 bytes while reading (item slot code and count, in two arrays sized
    from the first chunk's density), users cost 8 bytes per run of equal users. When users come
    grouped (each one's rows together, as in the Taste Profile), those arrays become the CSR
    matrix in place; otherwise the row indices are expanded and scipy sorts them.
    """

    def __init__(self) -> None:
        self._user_encoder = StringEncoder()
        self._item_encoder = StringEncoder()
        self._user_vocabs: list[Factorized] = []
        self._item_vocabs: list[Factorized] = []
        self._run_users: list[np.ndarray] = []  # user slot of each run
        self._run_lengths: list[np.ndarray] = []
        self._item_slots = np.zeros(0, dtype=np.int32)  # item slot of each row (grows)
        self._counts = np.zeros(0, dtype=np.float32)
        self._user_slot_total = 0
        self._item_slot_total = 0
        self.rows = 0
        self.user_ids: pa.Array | None = None
        self.item_ids: pa.Array | None = None
        self._user_slot_map: np.ndarray | None = None
        self._item_slot_map: np.ndarray | None = None

    def encode(self, table: pa.Table) -> _InteractionPart:
        users = self._user_encoder.factorize(table.column("user"))
        items = self._item_encoder.factorize(table.column("item"))
        n = table.num_rows
        starts = np.flatnonzero(np.diff(users.codes)) + 1 if n else np.zeros(0, dtype=np.int64)
        bounds = np.concatenate([[0], starts, [n]]) if n else np.zeros(1, dtype=np.int64)
        run_users = users.codes[bounds[:-1]]
        run_lengths = np.diff(bounds).astype(np.int32)
        if "count" in table.column_names:
            counts = table.column("count").to_numpy().astype(np.float32)
        else:
            counts = np.ones(n, dtype=np.float32)
        item_codes = items.codes
        users.codes = items.codes = None  # type: ignore[assignment]
        return _InteractionPart(users, run_users, run_lengths, items, item_codes, counts)

    def add(self, part: _InteractionPart, expected_rows: int | None = None) -> None:
        """Append a chunk; ``expected_rows`` (an estimate of the file's rows) sizes the arrays once."""
        n = len(part.counts)
        needed = self.rows + n
        if needed > len(self._counts):
            capacity = max(needed, expected_rows or 0, int(len(self._counts) * 1.25))
            self._item_slots = _grown(self._item_slots, capacity, self.rows)
            self._counts = _grown(self._counts, capacity, self.rows)
        np.add(part.item_codes, self._item_slot_total, out=self._item_slots[self.rows : needed])
        self._counts[self.rows : needed] = part.counts
        self._run_users.append(part.run_users + self._user_slot_total)
        self._run_lengths.append(part.run_lengths)
        self._user_vocabs.append(part.users)
        self._item_vocabs.append(part.items)
        self._user_slot_total += len(part.users.uniques)
        self._item_slot_total += len(part.items.uniques)
        self.rows = needed

    def finish(self) -> None:
        """Merge the vocabularies: sets ``user_ids`` and ``item_ids`` (first appearance order)."""
        maps, self.user_ids = merge_vocabularies(self._user_vocabs)
        self._user_slot_map = np.concatenate(maps) if maps else np.zeros(0, dtype=np.int32)
        maps, self.item_ids = merge_vocabularies(self._item_vocabs)
        self._item_slot_map = np.concatenate(maps) if maps else np.zeros(0, dtype=np.int32)
        self._user_vocabs, self._item_vocabs = [], []

    def to_csr(self, item_columns: np.ndarray, n_items: int) -> sp.csr_matrix:
        """The matrix with ``item_ids[j]`` in column ``item_columns[j]``; repeated pairs summed.

        Consumes the collected rows (call once).
        """
        if self.user_ids is None:
            self.finish()
        n_users = len(self.user_ids)
        slot_columns = np.asarray(item_columns, dtype=np.int32)[self._item_slot_map]
        columns = self._item_slots[: self.rows]
        for start in range(0, self.rows, REMAP_BLOCK):  # in place, a block at a time
            block = columns[start : start + REMAP_BLOCK]
            np.take(slot_columns, block, out=block, mode="clip")
        counts = self._counts[: self.rows]
        run_users = (
            self._user_slot_map[np.concatenate(self._run_users)] if self._run_users else np.zeros(0, dtype=np.int32)
        )
        run_lengths = np.concatenate(self._run_lengths) if self._run_lengths else np.zeros(0, dtype=np.int32)
        self._item_slots = self._counts = None  # type: ignore[assignment]
        self._run_users, self._run_lengths = [], []
        if np.all(run_users[1:] >= run_users[:-1]):
            # Rows already in user order: the arrays are the CSR matrix as they are.
            per_user = np.bincount(run_users, weights=run_lengths, minlength=n_users).astype(np.int64)
            indptr = np.zeros(n_users + 1, dtype=np.int64)
            np.cumsum(per_user, out=indptr[1:])
            if self.rows < 2**31:
                indptr = indptr.astype(np.int32)
            matrix = sp.csr_matrix((counts, columns, indptr), shape=(n_users, n_items))
        else:
            rows = np.repeat(run_users, run_lengths)
            matrix = sp.coo_matrix((counts, (rows, columns)), shape=(n_users, n_items))
            del rows
            matrix = matrix.tocsr()
        matrix.sum_duplicates()  # sorts each row's columns and adds up repeated (user, item) pairs
        return matrix


REMAP_BLOCK = 1 << 20


def _grown(array: np.ndarray, capacity: int, used: int) -> np.ndarray:
    bigger = np.empty(capacity, dtype=array.dtype)
    bigger[:used] = array[:used]
    return bigger


# -- import summary ------------------------------------------------------------------------------


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


def items_frame(item_ids: pa.Array, titles: pa.Array, artists: pa.Array) -> pd.DataFrame:
    return pa.table({"item_id": item_ids, "title": titles, "artist": artists}).to_pandas()


def _text_or(values: pa.Array, fallback) -> pa.Array:
    """``values`` with empty strings replaced by ``fallback`` (an array or a scalar)."""
    empty = pc.equal(pc.binary_length(values), 0)
    if not pc.any(empty).as_py():
        return values
    return pc.if_else(empty, fallback, values)


# -- `data import-csv` ---------------------------------------------------------------------------

AUTO = "auto"
NONE_WORDS = {"none", "no", ""}


@dataclass(frozen=True)
class CsvOptions:
    """How to read a user/item/count file and its catalog (see ``data import-csv --help``)."""

    separator: str = "\t"  # AUTO: detected in each file
    catalog_separator: str | None = None  # default: ``separator``
    quote: str | None = AUTO  # AUTO: '"' unless the separator is a tab
    interactions_header: bool | None = False  # None: detected
    catalog_header: bool | None = False  # None: detected
    user_col: str = "0"
    item_col: str = "1"
    count_col: str | None = AUTO  # AUTO: column 2 when the file has 3 or more columns, else none
    catalog_item_col: str = "0"
    title_col: str = "1"
    artist_col: str | None = None  # AUTO: the column named "artist", if the catalog has one
    on_error: str = "stop"


def _quote_for(quote: str | None, separator: str) -> str | None:
    if quote == AUTO:
        return None if separator == "\t" or len(separator) > 1 else '"'
    if quote is None or quote.lower() in NONE_WORDS:
        return None
    if len(quote) != 1:
        raise SoundalikeError(f"the quote must be one character or 'none', got {quote!r}")
    if len(separator) > 1:
        raise SoundalikeError(f"quoted fields need a one-character separator, not {separator!r}: pass --quote none")
    if quote == separator:
        raise SoundalikeError(f"the quote and the separator cannot both be {quote!r}")
    return quote


# -- detecting the separator and a header ---------------------------------------------------------

# How much of a file the detection reads: enough lines to see the pattern, never the whole file.
SNIFF_BYTES = 64 << 10
SNIFF_LINES = 50
# The Sniffer's separator is taken when it gives (nearly) every sampled line the same number of
# fields, at least two.
SEPARATOR_AGREEMENT = 0.9
# Words a header line is made of (folded: lower case, letters and digits only).
HEADER_WORDS = frozenset(
    """
    user users userid username listener listenerid member memberid
    item items itemid song songid track trackid recording recordingid artist artistid artists
    count counts plays playcount playcounts play listens listencount weight times n value rating score
    title songtitle tracktitle name artistname id url pictureurl timestamp date time genre year album
""".split()
)


def _names_a_column(specs) -> bool:
    """Whether a column is given by name (a header is then implied)."""
    return any(
        spec is not None and spec != AUTO and spec.strip().lower() not in NONE_WORDS and not spec.strip().isdigit()
        for spec in specs
    )


def _sample_lines(path: Path, what: str) -> list[str]:
    """The first non-blank lines of a file (for detection only: odd bytes are replaced here and
    reported, with their line, by the real read)."""
    with open_input(path, what) as handle:
        data = handle.read(SNIFF_BYTES + 1)
    whole = len(data) <= SNIFF_BYTES
    data = data[:SNIFF_BYTES].removeprefix(BOM)
    lines = data.split(b"\n")
    if not whole and len(lines) > 1:
        lines.pop()  # cut in the middle
    text = [line.removesuffix(b"\r").decode("utf-8", "replace") for line in lines]
    return [line for line in text if line.strip()][:SNIFF_LINES]


def _split_all(lines: list[str], separator: str) -> list[list[str]] | None:
    quote = '"' if separator != "\t" else None
    try:
        return [split_line(line, separator, quote) for line in lines]
    except stdlib_csv.Error:
        return None


def _agreement(lines: list[str], separator: str) -> float:
    """Share of lines with the most common field count of at least 2 (0 when none splits)."""
    rows = _split_all(lines, separator)
    widths = [len(row) for row in rows or [] if len(row) >= 2]
    if not widths:
        return 0.0
    return max(widths.count(width) for width in set(widths)) / len(rows)


def _detect_separator(lines: list[str]) -> str | None:
    try:
        sniffed = stdlib_csv.Sniffer().sniff("\n".join(lines), delimiters="".join(SEPARATOR_CANDIDATES)).delimiter
    except stdlib_csv.Error:
        sniffed = None
    # The Sniffer's guess must really split the lines alike; else the candidate that splits the
    # most lines alike (the read then names the lines that do not fit).
    if sniffed and _agreement(lines, sniffed) >= SEPARATOR_AGREEMENT:
        return sniffed
    shares = {candidate: _agreement(lines, candidate) for candidate in SEPARATOR_CANDIDATES}
    best = max(shares, key=shares.get)
    return best if shares[best] > 0 else None


def _is_count(text: str) -> bool:
    text = text.strip(PADDING)
    return text.isascii() and text.isdigit()


def _fold_word(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _detect_header(lines: list[str], separator: str) -> tuple[bool, str]:
    """(whether line 1 is a header, why)."""
    rows = _split_all(lines, separator) or [[line] for line in lines]
    first, rest = rows[0], [row for row in rows[1:] if len(row) == len(rows[0])]
    if rest:
        for index, name in enumerate(first):
            if all(_is_count(row[index]) for row in rest):
                if not _is_count(name):
                    return True, f"{name.strip()!r} stands above whole numbers"
                return False, "line 1 has numbers where the other lines do"
    if first and all(_fold_word(field) in HEADER_WORDS for field in first):
        return True, "its fields are column names"
    if len(rows) > 1:
        try:
            if stdlib_csv.Sniffer().has_header("\n".join(lines)):
                return True, "csv.Sniffer reads it as one"
        except stdlib_csv.Error:
            pass
    return False, "it looks like data"


def detect_format(
    path: Path,
    what: str,
    separator: str,
    header: bool | None,
    quote: str | None,
    *,
    named: bool,
    separator_option: str,
    header_option: str,
    notes: list[str] | None = None,
) -> tuple[str, bool]:
    """The file's separator and whether it has a header line: as given, else detected (and
    what was detected is added to ``notes``, with the flags that override it)."""
    if separator != AUTO and header is not None:
        return separator, header
    lines = _sample_lines(path, what)
    if not lines:
        return ("\t" if separator == AUTO else separator), bool(header)  # the real read says it is empty
    found: list[str] = []
    if separator == AUTO:
        detected = _detect_separator(lines)
        if detected is None:
            raise DataError(
                f"cannot tell the {what}'s field separator: its first lines hold no tab, comma, "
                f"semicolon or pipe between fields; pass {separator_option} with its separator",
                path=path,
            )
        separator = detected
        found.append(f"{separator_name(separator)}-separated fields")
    if header is None:
        if named:
            header, why = True, "a column is given by name"
        else:
            header, why = _detect_header(lines, separator)
        if header:
            fields = _split_all(lines[:1], separator) or [[lines[0]]]
            found.append(f"a header line ({', '.join(f.strip() for f in fields[0])}: {why})")
        else:
            found.append("no header line")
    if notes is not None:
        overrides = []
        if any(f.endswith("-separated fields") for f in found):
            overrides.append(separator_option)
        if header is not None and any("header" in f for f in found):
            overrides.append(f"--{'no-' if header else ''}{header_option}")
        notes.append(f"{path.name}: detected {' and '.join(found)} ({', '.join(overrides)} to override)")
    return separator, bool(header)


def _interactions_layout(path: Path, options: CsvOptions, notes: list[str] | None = None) -> tuple[Layout, str]:
    what = "interactions file"
    specs = (options.user_col, options.item_col, options.count_col)
    separator, header = detect_format(
        path,
        what,
        options.separator,
        options.interactions_header,
        options.quote,
        named=_names_a_column(specs),
        separator_option="--sep",
        header_option="interactions-header",
        notes=notes,
    )
    quote = _quote_for(options.quote, separator)
    head = inspect_head(path, what, separator, header=header, quote=quote)

    def column(spec: str, option: str) -> int:
        return resolve_column(
            spec,
            head,
            option=option,
            path=path,
            what=what,
            separator=separator,
            header_option="--interactions-header",
            separator_option="--sep",
        )

    user = column(options.user_col, "--user-col")
    item = column(options.item_col, "--item-col")
    fields = [Field("user", "user id", user, "id"), Field("item", "item id", item, "id")]
    count_spec = options.count_col
    if count_spec == AUTO:
        count_spec = "2" if len(head.first_fields) >= 3 else None
    elif count_spec is not None and count_spec.strip().lower() in NONE_WORDS:
        count_spec = None
    if count_spec is not None:
        count = column(count_spec, "--count-col")
        if count in (user, item):
            raise DataError(f"--count-col {count_spec} is also the user or item column", path=path)
        fields.append(Field("count", "count", count, "count"))
        counted = f"counts from column {count}"
    else:
        counted = "each row counts one play (no count column)"
    if user == item:
        raise DataError(f"--user-col and --item-col are the same column ({user})", path=path)
    layout = Layout(
        path,
        what,
        separator,
        len(head.first_fields),
        tuple(fields),
        quote=quote,
        data_offset=head.data_offset,
        header_option=None if header else "--interactions-header",
        separator_option="--sep",
    )
    return layout, counted


def _catalog_layout(path: Path, options: CsvOptions, notes: list[str] | None = None) -> Layout:
    what = "catalog"
    separator_option = "--catalog-sep" if options.catalog_separator else "--sep"
    specs = (options.catalog_item_col, options.title_col, options.artist_col)
    separator, header = detect_format(
        path,
        what,
        options.catalog_separator or options.separator,
        options.catalog_header,
        options.quote,
        named=_names_a_column(specs),
        separator_option=separator_option,
        header_option="catalog-header",
        notes=notes,
    )
    quote = _quote_for(options.quote, separator)
    head = inspect_head(path, what, separator, header=header, quote=quote)

    def column(spec: str, option: str) -> int:
        return resolve_column(
            spec,
            head,
            option=option,
            path=path,
            what=what,
            separator=separator,
            header_option="--catalog-header",
            separator_option=separator_option,
        )

    fields = [
        Field("item", "item id", column(options.catalog_item_col, "--catalog-item-col"), "id"),
        Field("title", "title", column(options.title_col, "--title-col"), "text"),
    ]
    artist_spec = _artist_column(options.artist_col, head.header or [], path, notes)
    if artist_spec is not None:
        fields.append(Field("artist", "artist", column(artist_spec, "--artist-col"), "text"))
    return Layout(
        path,
        what,
        separator,
        len(head.first_fields),
        tuple(fields),
        quote=quote,
        data_offset=head.data_offset,
        separator_option=separator_option,
    )


ARTIST_COLUMN_NAMES = frozenset({"artist", "artistname", "artists", "performer", "by"})


def _artist_column(spec: str | None, names: list[str], path: Path, notes: list[str] | None) -> str | None:
    """The artist column as given; AUTO: the column named like "artist" if there is one."""
    if spec is None or spec.strip().lower() in NONE_WORDS:
        return None
    if spec != AUTO:
        return spec
    named = next((name for name in names if _fold_word(name) in ARTIST_COLUMN_NAMES), None)
    if notes is not None:
        notes.append(
            f"{path.name}: artists from column {named!r}"
            if named is not None
            else f"{path.name}: no column named artist, so every artist is {UNKNOWN_ARTIST!r} (--artist-col names one)"
        )
    return named


# -- Parquet input ---------------------------------------------------------------------------------

PARQUET_BATCH_ROWS = 1 << 20


def is_parquet(path: Path | None) -> bool:
    return path is not None and Path(path).suffix.lower() == ".parquet"


@dataclass(frozen=True)
class ParquetField:
    name: str  # column in the tables handed on ("user", "item", "count", "title", ...)
    label: str
    column: str  # column in the file
    kind: str  # "id", "count" or "text", as for :class:`Field`


class ParquetSource:
    """A Parquet file read in batches into the same checked tables :func:`read_chunks` gives.

    Ids and texts become strings (surrounding spaces and tabs dropped, like the text reader);
    counts must be whole numbers of at least 1 (integers, or floats with nothing after the
    point). A bad row stops the import naming its row, or is skipped and counted.
    """

    def __init__(self, path: Path, what: str, fields: list[ParquetField], counted: str = ""):
        self.path, self.what, self.fields, self.counted = path, what, fields, counted

    @staticmethod
    def _open(path: Path, what: str) -> pq.ParquetFile:
        with open_input(path, what):
            pass  # the usual messages for a missing or unreadable file
        try:
            return pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as error:
            raise DataError(f"{what} is not a readable Parquet file ({error})", path=path) from None

    @classmethod
    def _columns(cls, path: Path, what: str) -> list[str]:
        return list(cls._open(path, what).schema_arrow.names)

    @staticmethod
    def _column(spec: str, names: list[str], option: str, path: Path) -> str:
        spec = spec.strip()
        if spec.isdigit():
            if int(spec) >= len(names):
                raise DataError(
                    f"{option} {spec} is out of range: the file has {len(names)} columns ({', '.join(names)})",
                    path=path,
                )
            return names[int(spec)]
        if spec not in names:
            raise DataError(f"{option}: no column named {spec!r} (the file has: {', '.join(names)})", path=path)
        return spec

    @classmethod
    def interactions(cls, path: Path, options: CsvOptions) -> ParquetSource:
        what = "interactions file"
        names = cls._columns(path, what)
        user = cls._column(options.user_col, names, "--user-col", path)
        item = cls._column(options.item_col, names, "--item-col", path)
        if user == item:
            raise DataError(f"--user-col and --item-col are the same column ({user})", path=path)
        fields = [ParquetField("user", "user id", user, "id"), ParquetField("item", "item id", item, "id")]
        count_spec = options.count_col
        if count_spec == AUTO:
            count_spec = "2" if len(names) >= 3 else None
        elif count_spec is not None and count_spec.strip().lower() in NONE_WORDS:
            count_spec = None
        counted = "each row counts one play (no count column)"
        if count_spec is not None:
            count = cls._column(count_spec, names, "--count-col", path)
            if count in (user, item):
                raise DataError(f"--count-col {count_spec} is also the user or item column", path=path)
            fields.append(ParquetField("count", "count", count, "count"))
            counted = f"counts from column {count!r}"
        return cls(path, what, fields, f"read as Parquet; {counted}")

    @classmethod
    def catalog(cls, path: Path, options: CsvOptions, notes: list[str] | None = None) -> ParquetSource:
        what = "catalog"
        names = cls._columns(path, what)
        fields = [
            ParquetField(
                "item", "item id", cls._column(options.catalog_item_col, names, "--catalog-item-col", path), "id"
            ),
            ParquetField("title", "title", cls._column(options.title_col, names, "--title-col", path), "text"),
        ]
        artist_spec = _artist_column(options.artist_col, names, path, notes)
        if artist_spec is not None:
            fields.append(
                ParquetField("artist", "artist", cls._column(artist_spec, names, "--artist-col", path), "text")
            )
        return cls(path, what, fields)

    def read(self, report: ReadReport, on_error: str) -> Iterator[pa.Table]:
        validate_on_error(on_error)
        file = self._open(self.path, self.what)
        # The report counts rows instead of bytes here (it only sizes arrays from the ratio).
        report.body_bytes = file.metadata.num_rows
        columns = list(dict.fromkeys(f.column for f in self.fields))
        first_row = 0
        try:
            batches = file.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=columns)
            for batch in batches:
                table, problems = self._convert(batch)
                bad = problems != ""
                if bad.any():
                    first = int(np.flatnonzero(bad)[0])
                    row, reason = first_row + first + 1, str(problems[first])
                    if on_error == "stop":
                        raise DataError(f"row {row}: {reason}", path=self.path)
                    if report.first_skip is None:
                        report.first_skip, report.unit = (row, reason), "row"
                    report.skipped += int(bad.sum())
                    table = table.filter(pa.array(~bad))
                report.rows += table.num_rows
                first_row += batch.num_rows
                report.bytes_done = first_row
                yield table
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as error:
            raise DataError(f"{self.what} could not be read as Parquet ({error})", path=self.path) from None

    def read_all(self, report: ReadReport, on_error: str) -> pa.Table:
        tables = list(self.read(report, on_error))
        if tables:
            return pa.concat_tables(tables)
        return pa.table({f.name: pa.array([], pa.int64() if f.kind == "count" else pa.string()) for f in self.fields})

    def _convert(self, batch: pa.RecordBatch) -> tuple[pa.Table, np.ndarray]:
        """The batch as the reader's table, and each row's problem ("" when it is fine)."""
        columns: dict[str, pa.Array] = {}
        problems = np.full(batch.num_rows, "", dtype=object)
        for f in self.fields:
            values = batch.column(batch.schema.get_field_index(f.column))
            if pa.types.is_dictionary(values.type):
                values = values.dictionary_decode()
            if f.kind == "count":
                converted, wrong, reason = _parquet_counts(values, f, self.path)
            else:
                try:
                    text = pc.ascii_trim(values.cast(pa.string()), PADDING)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    raise DataError(
                        f"column {f.column!r} ({values.type}) cannot be read as text", path=self.path
                    ) from None
                converted = text.fill_null("")
                if f.kind == "id":
                    wrong = pc.equal(pc.binary_length(converted), 0).to_numpy(zero_copy_only=False)
                    reason = f"empty {f.label} (column {f.column!r})"
                else:
                    wrong, reason = np.zeros(len(text), dtype=bool), ""
            problems[wrong & (problems == "")] = reason  # a row's first problem is the one named
            columns[f.name] = converted
        return pa.table(columns), problems


def _parquet_counts(values: pa.Array, f: ParquetField, path: Path) -> tuple[pa.Array, np.ndarray, str]:
    """Counts as int64 (bad rows as 1), a mask of the bad rows, and why they are bad."""
    missing = values.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_integer(values.type):
        numbers = values.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        wrong = missing | (numbers < 1)
    elif pa.types.is_floating(values.type):
        floats = values.cast(pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False)
        with np.errstate(invalid="ignore"):
            wrong = missing | ~np.isfinite(floats) | (floats < 1) | (floats != np.floor(floats)) | (floats >= 2.0**63)
        numbers = np.where(wrong, 1.0, floats).astype(np.int64)
    else:
        raise DataError(
            f"count column {f.column!r} holds {values.type}, not numbers: give another "
            "--count-col, or --count-col none to count each row as one play",
            path=path,
        )
    numbers = np.where(wrong, 1, numbers)
    return pa.array(numbers, pa.int64()), wrong, f"{f.label} must be a whole number of at least 1 (column {f.column!r})"


def read_table(layout: Layout, report: ReadReport, *, on_error: str, progress: bool = True) -> pa.Table:
    """A whole (small) file as one table, through the same checks as the big ones."""
    tables = list(read_chunks(layout, lambda table: table, report, on_error=on_error, progress=progress))
    return pa.concat_tables(tables) if tables else layout.empty_table()


def import_csv(
    *,
    interactions: Path,
    catalog: Path | None,
    dest: Path,
    name: str,
    options: CsvOptions = CsvOptions(),
    progress: bool = True,
) -> ImportSummary:
    """Import a user/item[/count] file and an optional catalog into the dataset at ``dest``."""
    started = time.perf_counter()
    on_error = validate_on_error(options.on_error)
    interactions, dest = Path(interactions), Path(dest)
    detected: list[str] = []
    if is_parquet(interactions):
        source = ParquetSource.interactions(interactions, options)
        counted = source.counted
    else:
        layout, counted = _interactions_layout(interactions, options, detected)
    reports: list[ReadReport] = []
    notes = detected + [f"{interactions.name}: {counted}"]

    catalog_table = None
    if catalog is not None:
        catalog = Path(catalog)
        catalog_report = ReadReport(catalog)
        if is_parquet(catalog):
            catalog_table = ParquetSource.catalog(catalog, options, notes).read_all(catalog_report, on_error)
        else:
            catalog_table = read_table(
                _catalog_layout(catalog, options, notes), catalog_report, on_error=on_error, progress=progress
            )
        reports.append(catalog_report)

    report = ReadReport(interactions)
    builder = InteractionsBuilder()
    if is_parquet(interactions):
        for table in source.read(report, on_error):
            builder.add(builder.encode(table), report.expected_rows())
    else:
        for part in read_chunks(layout, builder.encode, report, on_error=on_error, progress=progress):
            builder.add(part, report.expected_rows())
    reports.insert(0, report)
    if builder.rows == 0:
        raise DataError("no rows to import" + (" (every row was skipped)" if report.skipped else ""), path=interactions)
    builder.finish()
    seen = builder.item_ids

    if catalog_table is not None and catalog_table.num_rows:
        listed = factorize_strings(catalog_table.column("item"))
        first_rows = pa.array(_first_positions(listed.codes))
        catalog_ids = listed.uniques
        repeated = catalog_table.num_rows - len(catalog_ids)
        if repeated:
            notes.append(f"{catalog.name}: {plural(repeated, 'repeated item id')} (the first row of each was kept)")
        titles = _text_or(single_array(catalog_table.column("title")).take(first_rows), catalog_ids)
        if "artist" in catalog_table.column_names:
            artists = _text_or(single_array(catalog_table.column("artist")).take(first_rows), pa.scalar(UNKNOWN_ARTIST))
        else:
            artists = pa.array([UNKNOWN_ARTIST] * len(catalog_ids), pa.string())
        unlisted = seen.filter(pc.is_null(pc.index_in(seen, value_set=catalog_ids)))
    else:
        catalog_ids = titles = artists = pa.array([], pa.string())
        unlisted = seen
    if len(unlisted) and catalog is not None:
        notes.append(
            f"{plural(len(unlisted), 'item')} in {interactions.name} not in the catalog: kept, titled by their id"
        )
    item_ids = pa.concat_arrays([catalog_ids, unlisted])
    titles = pa.concat_arrays([titles, unlisted])
    artists = pa.concat_arrays([artists, pa.array([UNKNOWN_ARTIST] * len(unlisted), pa.string())])
    item_columns = pc.index_in(seen, value_set=item_ids).to_numpy()
    matrix = builder.to_csr(item_columns, len(item_ids))

    write_dataset(
        dest,
        name=name,
        interactions=matrix,
        items=items_frame(item_ids, titles, artists),
        user_ids=builder.user_ids,
        source={
            "kind": "csv",
            "interactions": str(interactions),
            "catalog": str(catalog) if catalog is not None else None,
            "rows": report.rows,
            "skipped_rows": sum(r.skipped for r in reports),
            "unlisted_items": len(unlisted),
        },
    )
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
