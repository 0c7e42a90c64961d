"""Helpers for tests of the feedback log (tests/recommender/feedback/): member and guild ids,
a clock moved by hand, a one-call way to log an answer, and every raw row of a log file."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from recommender.feedback.log import FeedbackLog

GUILD = 111_111_111_111_111_111
OTHER_GUILD = 222_222_222_222_222_222
ASKER = 900_000_000_000_000_001
ALICE = 900_000_000_000_000_002
BOB = 900_000_000_000_000_003
UP, DOWN = 1, -1


class SteppingClock:
    """A fixed start time that tests move forward by hand."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


async def answer(
    log: FeedbackLog,
    message_id: int | None,
    items=("a", "b", "c"),
    *,
    guild: int = GUILD,
    user: int = ASKER,
    seed: str | None = "seed",
    version: str | None = "v1",
    title: str | None = "Hey Ya!",
) -> int:
    """Log an answer showing ``items`` at positions 1, 2, ...; return its query id."""
    return await log.record_answer(
        guild_id=guild,
        channel_id=5,
        user_id=user,
        command="similar",
        typed_title=title,
        resolved_item_id=seed,
        model_version=version,
        latency_ms=12.5,
        params={"count": len(items)},
        suggestions=[(position, item, 1.0 / position) for position, item in enumerate(items, 1)],
        message_id=message_id,
    )


def table_rows(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table, sorted, read through a separate plain connection."""
    with closing(sqlite3.connect(path)) as connection, connection:
        return {
            table: sorted(connection.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in ("queries", "suggestions", "feedback", "blocks")
        }
