"""Privacy: /forgetme erases a member's questions and ratings; the README's retention promise, through
the real bot: old questions are erased at start."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from bot_harness import WAIT, bot_world
from bot_mocks import make_interaction, sent_texts

from bot.cogs.privacy import PrivacyCog
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
        for _ in range(int(WAIT / 0.05)):  # bounded: the expiry runs in the background once ready
            if _messages(database) == kept:
                break
            await asyncio.sleep(0.05)
        assert _messages(database) == kept


async def test_forgetme_erases_and_confirms_privately(bot):
    bot.app.feedback_log.forget_user.return_value = {"queries": 2, "feedback": 1}
    interaction = make_interaction(bot, user_id=42)
    await PrivacyCog.forgetme.callback(PrivacyCog(bot), interaction)
    bot.app.feedback_log.forget_user.assert_awaited_once_with(42)
    assert sent_texts(interaction)[0].startswith("Done: I erased your 2 questions and 1 rating from the log.")
    assert interaction.response.send_message.call_args.kwargs["ephemeral"] is True
