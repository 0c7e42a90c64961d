"""What a delimited file looks like, when the options do not say: separator, header, columns.

When the separator or a header line is not given (``--sep``, ``--interactions-header``,
``--catalog-header``), they are detected from the file's first lines and the import says what
it found: the separator is the one Python's ``csv.Sniffer`` picks among tab, comma, semicolon
and pipe, checked to split (nearly) every sampled line into the same number of fields (else the
first candidate that does); line 1 is a header when a column is named, when a column holds
whole numbers on the other lines but not on line 1, when every field of line 1 is a usual
column name (user, item, count, title, artist, ...), or else when ``csv.Sniffer.has_header``
says so. Column options may say "auto" (the count is column 2 of a file of 3 or more; the
artist is the column named like one) or "none".
"""

from __future__ import annotations

import csv as stdlib_csv
from collections.abc import Iterable
from pathlib import Path

from recommender.errors import DataError, SoundalikeError

from .encoding import UNKNOWN_ARTIST
from .layout import BOM, PADDING, SEPARATOR_CANDIDATES, open_input, separator_name, split_line

AUTO = "auto"
NONE_WORDS = {"none", "no", ""}
SEPARATOR_WORDS = {"tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}

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


def names_a_column(specs: Iterable[str | None]) -> bool:
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
    rows = _split_all(lines, separator) or []
    widths = [len(row) for row in rows if len(row) >= 2]
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
    best = max(shares, key=lambda candidate: shares[candidate])
    return best if shares[best] > 0 else None


def _is_count(text: str) -> bool:
    text = text.strip(PADDING)
    return text.isascii() and text.isdigit()


def fold_word(text: str) -> str:
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
    if first and all(fold_word(field) in HEADER_WORDS for field in first):
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


# -- which column is which -------------------------------------------------------------------------

ARTIST_COLUMN_NAMES = frozenset({"artist", "artistname", "artists", "performer", "by"})


def count_column(spec: str | None, width: int) -> str | None:
    """The count column as given; AUTO: column 2 when there are 3 or more; None: each row is one play."""
    if spec == AUTO:
        return "2" if width >= 3 else None
    if spec is None or spec.strip().lower() in NONE_WORDS:
        return None
    return spec


def artist_column(spec: str | None, names: list[str], path: Path, notes: list[str] | None) -> str | None:
    """The artist column as given; AUTO: the column named like "artist" if there is one."""
    if spec is None or spec.strip().lower() in NONE_WORDS:
        return None
    if spec != AUTO:
        return spec
    named = next((name for name in names if fold_word(name) in ARTIST_COLUMN_NAMES), None)
    if notes is not None:
        notes.append(
            f"{path.name}: artists from column {named!r}"
            if named is not None
            else f"{path.name}: no column named artist, so every artist is {UNKNOWN_ARTIST!r} (--artist-col names one)"
        )
    return named
