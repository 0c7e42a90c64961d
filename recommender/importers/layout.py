"""What a delimited file looks like: its fields, separator, quoting, where its rows start.

A :class:`Layout` is everything the reader (:mod:`.reading`) needs to know about one file;
:func:`inspect_head` reads a file's first line for it. Messages name separators as people
do ("comma-separated") and say when another separator explains a line (:func:`separator_hint`).
"""

from __future__ import annotations

import csv as stdlib_csv
import os
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path

import pyarrow as pa

from recommender.errors import DataError

MAX_LINE_BYTES = 64 << 20
BOM = b"\xef\xbb\xbf"
# Ids and texts lose surrounding spaces and tabs ("65  " and "65" are one artist in Last.fm's data).
PADDING = " \t"

SEPARATOR_NAMES = {"\t": "TAB", ",": "comma", ";": "semicolon", "|": "pipe", " ": "space"}
# Separators a wrongly split line is checked for, most telling first.
SEPARATOR_CANDIDATES = ("\t", ",", ";", "|")


def separator_name(separator: str) -> str:
    return SEPARATOR_NAMES.get(separator, repr(separator))


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


def open_input(path: Path, what: str) -> BufferedReader:
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
        has_bom = handle.read(len(BOM)) == BOM
        offset = len(BOM) if has_bom else 0
        handle.seek(offset)
        line_number = 0
        while True:
            raw = handle.readline(MAX_LINE_BYTES)
            if not raw:
                if size == (len(BOM) if has_bom else 0):  # nothing, or only a byte-order mark
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
                raise DataError(utf8_problem(line, error), path=path, line=line_number) from None
            try:
                fields = split_line(text, separator, quote)
            except stdlib_csv.Error as error:
                raise DataError(f"badly quoted field: {error}", path=path, line=line_number) from None
            if header:
                return FileHead(size, offset + len(raw), fields, fields, line_number)
            return FileHead(size, offset, fields, None, line_number)


def utf8_problem(line: bytes, error: UnicodeDecodeError) -> str:
    return f"not valid UTF-8: byte {error.start + 1} of the line is 0x{line[error.start]:02x} (save the file as UTF-8)"


def separator_hint(text: str, expected: str, option: str | None = None, fields: int | None = None) -> str:
    """' (the line looks comma-separated ...)' when another separator explains the line.

    With ``fields`` (the expected count), a candidate must split the line into exactly that
    many fields, unless the expected separator is absent altogether.
    """
    counts = {c: text.count(c) for c in SEPARATOR_CANDIDATES if c != expected}
    if fields is not None and expected in text:
        counts = {c: n for c, n in counts.items() if n == fields - 1}
    best = max(counts, key=lambda candidate: counts[candidate]) if counts else None
    if best is None or counts[best] == 0:
        return ""
    advice = f"; pass {option} '{best}'" if option else f"; this file must be {separator_name(expected)}-separated"
    if best == "\t" and option:
        advice = f"; pass {option} '\\t'"
    return f" (the line looks {separator_name(best)}-separated{advice})"
