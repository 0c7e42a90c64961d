"""Errors a person can act on. Each message names what was wrong and where.

The CLI, the console and the bot print ``str(error)`` for these and never a traceback.
"""


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
