"""Fixtures for the feedback log's tests: a clock moved by hand and a log opened on it.

``db_path`` is where the test's log lives, once per database the log runs on: a SQLite file
(a Path) and a schema of the session's real PostgreSQL server (a ``postgresql://`` URL). So every
test taking ``db_path`` or ``log`` runs on both. ``sqlite_path`` is for tests of SQLite's own
file (WAL mode, read-only files, a full disk)."""

from __future__ import annotations

from pathlib import Path

import pytest
from feedback_logs import LOG_KINDS, SteppingClock, log_location

from recommender.feedback.log import FeedbackLog


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture(params=LOG_KINDS)
def db_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    return log_location(request, request.param, tmp_path)


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "log" / "soundalike.sqlite3"


@pytest.fixture
async def log(db_path: Path | str, clock: SteppingClock):
    async with FeedbackLog.open(db_path, clock=clock) as opened:
        yield opened


@pytest.fixture
async def sqlite_log(sqlite_path: Path, clock: SteppingClock):
    async with FeedbackLog.open(sqlite_path, clock=clock) as opened:
        yield opened
