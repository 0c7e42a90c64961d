"""What the feedback log raises, whichever database holds it. Each message names the file (or
the PostgreSQL URL, without its password)."""

from __future__ import annotations

from pathlib import Path

from recommender.errors import SoundalikeError


class FeedbackLogError(SoundalikeError):
    """The feedback log cannot be used; the message names the file."""


class LogWriteError(FeedbackLogError):
    """A write did not reach the disk (read-only file, disk full, lock held too long...)."""

    def __init__(self, path: Path | str, action: str, reason: str):
        super().__init__(f"Feedback log {path}: could not {action}: {reason}.")
        self.path = path
        self.action = action


class LogReadError(FeedbackLogError):
    """The log cannot be read (damaged, not a Soundalike log, or an unknown schema version)."""
