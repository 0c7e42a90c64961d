"""Writing files and folders so that a reader sees the old version or the new one, never half.

Everything is written into a temporary sibling first and put in place with one rename
(``os.replace``), like RoboDanny's config writer. Temporary names carry the writer's process
id, so whoever finds one left by a killed writer can tell it is stale.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temporary_name(prefix: str) -> str:
    """``<prefix><pid>-<ns>``: unique, and names the process that writes it."""
    return f"{prefix}{os.getpid()}-{time.time_ns()}"


def fsync_path(path: Path) -> None:
    """Make a file's contents, or the renames inside a folder, durable."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_text_atomically(path: Path, text: str, *, temp_prefix: str = ".tmp-") -> None:
    """Write ``text`` to ``path`` whole (temp file, fsync, ``os.replace``); on failure nothing
    changes and the temp file is gone."""
    temp = path.with_name(temporary_name(temp_prefix))
    try:
        with temp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


@contextmanager
def scratch_folder(parent: Path, prefix: str) -> Iterator[Path]:
    """A new empty folder in ``parent`` to write into; removed on the way out unless the caller
    renamed it into place."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    temp = parent / temporary_name(prefix)
    temp.mkdir()
    try:
        yield temp
    finally:
        shutil.rmtree(temp, ignore_errors=True)


@contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it replaces ``final`` in one rename.

    On any exception the temporary folder is removed and ``final`` is left as it was.
    """
    final = Path(final)
    with scratch_folder(final.parent, f".{final.name}.tmp-") as temp:
        yield temp
        if final.exists():
            # Move the old one aside first, so the swap is two renames and never a merge.
            old = final.with_name(temporary_name(f".{final.name}.old-"))
            os.replace(final, old)
            os.replace(temp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temp, final)
