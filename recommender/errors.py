"""Errors a person can act on. Each message names what was wrong and where.

The CLI, the console and the bot print ``str(error)`` for these and never a traceback.
Where "where" is a server path and the reader is not the operator (a Discord member), the
message goes through :func:`without_paths` first and the full one to the log.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

# A character of a path as messages quote it (a path ends at space, quote, comma, colon...).
_PATH_PART = r"[^/\s'\"`,;:()<>\[\]{}|*?]"
# An absolute (or ~/, ./, ../) path of two parts or more: "/srv/bot/data", "~/x/y". One part
# alone ("/retrain", "/foryou") is a command, and "a/b" or a URL's "//host/x" are left alone.
_PATH = re.compile(rf"(?<![\w.~/\\])(?:~|\.\.?)?(?:/{_PATH_PART}+){{2,}}/?")


class SoundalikeError(Exception):
    """Base class: an expected failure with a message meant for a person."""


class ConfigError(SoundalikeError):
    """A config file or environment override is invalid; the message names the key."""


class DataError(SoundalikeError):
    """Input data is unreadable or malformed; the message names file and line."""

    def __init__(self, message: str, path: object = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}" + (f", line {line}" if line is not None else "") + ": "
        super().__init__(where + message)
        self.path = path
        self.line = line


class DatasetNotFound(SoundalikeError):
    """A dataset was asked for by name and is not there."""


class ModelError(SoundalikeError):
    """A model folder is missing, damaged, or was trained on other data."""


class ModelDamaged(ModelError):
    """A model version's files are missing, altered, unreadable, or hold contents no model has
    (manifest fields of the wrong type, factors of the wrong shape, NaN)."""


class ModelForOtherData(ModelError):
    """A whole model version, trained on other data than the dataset has now."""


class UnknownSong(SoundalikeError):
    """A typed title matched nothing well; ``suggestions`` holds the closest titles and
    ``note`` anything to add (on the demo data: what it knows and how to get more)."""

    def __init__(self, query: str, suggestions: list[str] | None = None, note: str | None = None):
        self.query = query
        self.suggestions = suggestions or []
        self.note = note
        message = f"No song matches {query!r}."
        if self.suggestions:
            message += " Closest titles: " + "; ".join(self.suggestions)
        if note:
            message += " " + note
        super().__init__(message)


def _last_part(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1] or "?"


def without_paths(text: str, roots: Iterable[str | os.PathLike] = ()) -> str:
    """``text`` with each filesystem path replaced by its last part: "/srv/bot/data/datasets/
    demo2: interactions.npz is missing" -> "demo2: interactions.npz is missing".

    For messages shown to people who should not learn where the server keeps its files
    (Discord members); the full text belongs in the log. ``roots`` are folders known to
    appear in messages (the data root, the project): the general pattern stops at a space,
    these are matched whole, spaces and all.
    """
    for root in sorted({os.fspath(r).rstrip("/") for r in roots} - {"", "."}, key=len, reverse=True):
        at_root = re.escape(root) + rf"(?:/{_PATH_PART}*)*(?!{_PATH_PART})"
        text = re.sub(at_root, lambda match: _last_part(match[0]), text)
    return _PATH.sub(lambda match: _last_part(match[0]), text)
