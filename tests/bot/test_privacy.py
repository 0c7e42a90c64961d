"""The README's retention promise, through the real bot: old questions are erased at start."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from bot_harness import WAIT, bot_world

from recommender.feedback.log import FeedbackLog

pytestmark = pytest.mark.asyncio


async def _log_question(path, when: datetime, message_id: int) -> None:
    async with FeedbackLog.open(path, clock=lambda: when) as log:
        query = await log.record_answer(
            guild_id=1,
            channel_id=2,
            user_id=3,
            command="similar",
            typed_title="Hey Ya!",
            resolved_item_id="DEMO0001",
            model_version="v1",
            latency_ms=5.0,
            params={},
            suggestions=[(1, "DEMO0002", 0.9)],
            message_id=message_id,
        )
        await log.record_feedback(query, 4, 1)


def _messages(path) -> set[int]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return {row[0] for row in db.execute("SELECT message_id FROM queries")}


@pytest.mark.parametrize("retention_days, kept", [(30, {2}), (0, {1, 2})])
async def test_questions_past_the_retention_are_erased_when_the_bot_starts(
    tmp_path, demo_env, demo_service, retention_days, kept
):
    database = tmp_path / "feedback.sqlite3"  # the file bot_world opens
    now = datetime.now(UTC)
    await _log_question(database, now - timedelta(days=40), message_id=1)
    await _log_question(database, now - timedelta(days=2), message_id=2)
    async with bot_world(tmp_path, demo_env.config, demo_service, retention_days=retention_days):
        deadline = asyncio.get_running_loop().time() + WAIT
        while _messages(database) != kept and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        assert _messages(database) == kept
