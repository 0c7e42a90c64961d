"""Fixtures for the feedback log's tests: a clock moved by hand and a log opened on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from feedback_logs import SteppingClock

from recommender.feedback.log import FeedbackLog


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "log" / "soundalike.sqlite3"


@pytest.fixture
async def log(db_path: Path, clock: SteppingClock):
    async with FeedbackLog.open(db_path, clock=clock) as opened:
        yield opened
