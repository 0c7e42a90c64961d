"""The files of a ListenBrainz listens dump, and the months to read from it.

A dump (``docs/users/listenbrainz-dumps.rst`` in metabrainz/listenbrainz-server) is a folder
``listenbrainz-listens-dump-<n>-<date>-full/`` holding ``listens/<year>/<month>.listens``, or
that folder as a ``.tar.xz`` (read with the standard library's ``lzma``) or ``.tar.zst`` (read
with ``zstandard``). An archive is read as a tar stream, never unpacked: each month file is
handed over open, in the order the archive stores them (a folder's in month order).
"""

from __future__ import annotations

import calendar
import lzma
import re
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import zstandard

from recommender.errors import DataError, SoundalikeError

MONTH_FILE = re.compile(r"(?:^|/)listens/(\d{4})/(\d{1,2})\.listens$")
ZSTD_SUFFIXES = (".tar.zst", ".tar.zstd")
XZ_SUFFIXES = (".tar.xz",)
# Dumps may be made with zstd's long mode; the window is only allocated when a frame asks.
ZSTD_MAX_WINDOW = 1 << 31
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")


# -- the month range ----------------------------------------------------------------------------


def parse_month(text: str, what: str) -> tuple[int, int]:
    """ "2015-01" -> (2015, 1)."""
    match = _MONTH.fullmatch(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise SoundalikeError(f"{what} {text!r} is not a month: write it as YYYY-MM, e.g. 2015-01")
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True)
class MonthRange:
    """Whole months from ``first`` to ``last`` (inclusive, UTC); None: no bound."""

    first: tuple[int, int] | None = None
    last: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.first and self.last and self.first > self.last:
            raise SoundalikeError(
                f"--from {self.first[0]}-{self.first[1]:02d} is after --to {self.last[0]}-{self.last[1]:02d}"
            )

    def holds_month(self, year: int, month: int) -> bool:
        return (self.first is None or (year, month) >= self.first) and (self.last is None or (year, month) <= self.last)

    @property
    def start(self) -> int | None:
        """The first second of the range (Unix time), or None."""
        return calendar.timegm((*self.first, 1, 0, 0, 0)) if self.first else None

    @property
    def end(self) -> int | None:
        """The first second after the range, or None."""
        if self.last is None:
            return None
        year, month = self.last
        return calendar.timegm((year + month // 12, month % 12 + 1, 1, 0, 0, 0))

    def describe(self) -> str:
        def month(value: tuple[int, int] | None, otherwise: str) -> str:
            return f"{value[0]}-{value[1]:02d}" if value else otherwise

        return f"{month(self.first, 'the first month')} to {month(self.last, 'the last month')}"


# -- the files of a dump ------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthFile:
    """One ``listens/<year>/<month>.listens`` file of a dump, open for reading."""

    name: str  # as shown in messages: the folder or archive, then the file inside it
    year: int
    month: int
    size: int
    stream: IO[bytes]


def dump_kind(path: Path) -> str:
    """ "folder", "zst" or "xz"; anything else is refused with what is expected."""
    if path.is_dir():
        return "folder"
    if not path.exists():
        raise DataError("no such file or folder", path=path)
    name = path.name.lower()
    if name.endswith(ZSTD_SUFFIXES):
        return "zst"
    if name.endswith(XZ_SUFFIXES):
        return "xz"
    raise DataError(
        "not a listens dump: give the listenbrainz-listens-dump-... folder or its .tar.zst or .tar.xz archive",
        path=path,
    )


def _folder_files(root: Path) -> Iterator[MonthFile]:
    listens = root / "listens"
    if not listens.is_dir():
        inner = [p for p in sorted(root.iterdir()) if (p / "listens").is_dir()]
        if len(inner) != 1:
            raise DataError("no listens/<year>/<month>.listens files (not a listens dump folder)", path=root)
        listens = inner[0] / "listens"
    found = []
    for path in listens.glob("*/*.listens"):
        match = MONTH_FILE.search(path.relative_to(listens.parent).as_posix())
        if match:
            found.append((int(match.group(1)), int(match.group(2)), path))
    for year, month, path in sorted(found):
        with path.open("rb") as stream:
            yield MonthFile(str(path), year, month, path.stat().st_size, stream)


def _archive_files(path: Path, kind: str) -> Iterator[MonthFile]:
    with (
        path.open("rb") as raw,
        _decompressed(raw, kind) as stream,
        tarfile.open(fileobj=stream, mode="r|") as archive,
    ):
        for member in archive:
            match = MONTH_FILE.search(member.name)
            if not member.isfile() or not match:
                continue
            extracted = archive.extractfile(member)
            if extracted is None:
                continue
            yield MonthFile(f"{path}:{member.name}", int(match.group(1)), int(match.group(2)), member.size, extracted)


@contextmanager
def _decompressed(raw: IO[bytes], kind: str) -> Iterator[IO[bytes]]:
    if kind == "zst":
        decompressor = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        with decompressor.stream_reader(raw, read_across_frames=True, closefd=False) as reader:
            yield reader  # tarfile's stream mode only calls read()
    else:
        with lzma.open(raw, "rb") as reader:
            yield reader


def month_files(path: Path) -> Iterator[MonthFile]:
    """The dump's month files in order (a folder's sorted by month, an archive's as stored)."""
    kind = dump_kind(path)
    return _folder_files(path) if kind == "folder" else _archive_files(path, kind)


DAMAGED_ARCHIVE_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.TarError,
    EOFError,
    lzma.LZMAError,
    zstandard.ZstdError,
)
