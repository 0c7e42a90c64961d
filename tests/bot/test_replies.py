"""The answer path (bot/replies.py) when the log cannot write: the answer or the next page is
shown and the member told; a rating that cannot be kept is said to be lost (disk full, read-only)."""

from __future__ import annotations

import pytest
from bot_harness import bot_world

from bot.messages import LOG_NOT_WRITTEN


async def fill_the_disk(feedback_log, message_id: int) -> None:
    """Make the log's disk full for real: SQLite may not grow the file by one page, and the
    pages it has are filled with answers and ratings until SQLite says SQLITE_FULL for both."""
    from recommender.feedback.errors import LogWriteError

    (pages,) = (await feedback_log._backend.writer.execute_fetchall("PRAGMA page_count"))[0]
    await feedback_log._backend.writer.execute(f"PRAGMA max_page_count = {int(pages)}")
    for fill in (
        lambda n: feedback_log.record_answer(
            guild_id=1, user_id=n, command="soundalike", suggestions=[(p, "x", None) for p in range(1, 6)]
        ),
        lambda n: feedback_log.record_feedback(message_id, n, 1),
    ):
        for number in range(1, 20_000):
            try:
                await fill(number)
            except LogWriteError as error:
                assert "the disk is full" in str(error)
                break
        else:
            raise AssertionError("the log never filled up")


async def make_log_read_only(feedback_log, message_id: int) -> None:
    # query_only makes SQLite refuse every write as for a read-only file (works as root too).
    await feedback_log._backend.writer.execute("PRAGMA query_only = ON")


@pytest.mark.parametrize("break_the_log", [fill_the_disk, make_log_read_only], ids=["disk-full", "read-only"])
async def test_a_rating_the_log_cannot_write_is_reported_to_the_member(tmp_path, demo_env, demo_service, break_the_log):
    async with bot_world(tmp_path, demo_env.config, demo_service) as world:
        message_id = int((await world.answer_message(await world.soundalike("Hey Ya!")))["id"])
        await break_the_log(world.feedback_log, message_id)
        since = len(world.fake.requests)
        press = await world.fake.press(message_id, "soundalike:rate:2:up", member=world.member, guild=world.guild)
        assert await world.ephemeral_reply(press, since=since) == LOG_NOT_WRITTEN
        assert not await world.feedback_log.liked_items(world.guild.id, world.member.user.id)


@pytest.mark.parametrize("break_the_log", [fill_the_disk, make_log_read_only], ids=["disk-full", "read-only"])
async def test_an_answer_the_log_cannot_write_is_shown_and_the_member_told(
    tmp_path, demo_env, demo_service, break_the_log
):
    async with bot_world(tmp_path, demo_env.config, demo_service) as world:
        message_id = int((await world.answer_message(await world.soundalike("Hey Ya!")))["id"])
        await break_the_log(world.feedback_log, message_id)
        since = len(world.fake.requests)
        interaction = await world.soundalike("Ms. Jackson")
        assert await world.ephemeral_reply(interaction, since=since) == LOG_NOT_WRITTEN
        shown = world.fake.message(interaction.original_message_id)
        assert shown["embeds"][0]["title"] == "Songs like Ms. Jackson — OutKast", "the answer itself still shows"
        assert await world.feedback_log.query_for_message(interaction.original_message_id) is None


@pytest.mark.parametrize("break_the_log", [fill_the_disk, make_log_read_only], ids=["disk-full", "read-only"])
async def test_a_more_page_the_log_cannot_write_is_shown_and_the_member_told(
    tmp_path, demo_env, demo_service, break_the_log
):
    async with bot_world(tmp_path, demo_env.config, demo_service) as world:
        message_id = int((await world.answer_message(await world.soundalike("Hey Ya!")))["id"])
        await break_the_log(world.feedback_log, message_id)
        since = len(world.fake.requests)
        more = await world.fake.press(message_id, "soundalike:more", member=world.member, guild=world.guild)
        assert await world.ephemeral_reply(more, since=since) == LOG_NOT_WRITTEN
        page = world.fake.message(more.original_message_id)
        assert page["embeds"][0]["title"] == "Songs like Hey Ya! — OutKast (6–10)", "the next page still shows"
