"""Rating in Discord (bot.rating, bot.cogs.feedback): reactions and per-suggestion buttons."""

from __future__ import annotations

import asyncio
import dataclasses
from unittest import mock

import discord
from bot_mocks import (
    GUILD_ID,
    MESSAGE_ID,
    SONGS,
    FakeService,
    make_interaction,
    make_message,
    sent_texts,
)

from bot.cogs.feedback import FeedbackCog
from bot.rating import RateButton, RatingReactions, rating_of, rating_view
from recommender.errors import SoundalikeError
from recommender.feedback.log import LoggedQuery, LoggedSuggestion, RatingOutcome


def reaction(emoji: str, user_id: int, emoji_id: int | None = None) -> discord.RawReactionActionEvent:
    data = {
        "message_id": str(MESSAGE_ID),
        "channel_id": "1",
        "user_id": str(user_id),
        "guild_id": str(GUILD_ID),
        "type": 0,
        "burst": False,
    }
    return discord.RawReactionActionEvent(data, discord.PartialEmoji(name=emoji, id=emoji_id), "REACTION_ADD")


def test_only_thumbs_in_any_skin_tone_are_ratings():
    assert rating_of(discord.PartialEmoji(name="👍")) == 1
    assert rating_of(discord.PartialEmoji(name="👍🏿")) == 1
    assert rating_of(discord.PartialEmoji(name="👎🏻")) == -1
    assert rating_of(discord.PartialEmoji(name="🎸")) is None
    assert rating_of(discord.PartialEmoji(name="thumbsup", id=123)) is None  # a custom emoji


async def test_reactions_are_recorded_and_taken_back_but_not_the_bots_own(bot):
    cog = FeedbackCog(bot)
    bot_user = mock.create_autospec(discord.ClientUser, instance=True, spec_set=True)
    bot_user.id = 999
    with mock.patch.object(type(bot), "user", new_callable=mock.PropertyMock, return_value=bot_user):
        await cog.on_raw_reaction_add(reaction("👍", 999))
        await cog.on_raw_reaction_add(reaction("🎸", 5))
        bot.app.feedback_log.record_feedback.assert_not_awaited()
        await cog.on_raw_reaction_add(reaction("👎🏽", 5))
        bot.app.feedback_log.record_feedback.assert_awaited_once_with(MESSAGE_ID, 5, -1, None, query_id=None)
        await cog.on_raw_reaction_remove(reaction("👎", 5))
        bot.app.feedback_log.retract_feedback.assert_awaited_once_with(MESSAGE_ID, 5, -1)


async def test_a_log_failure_on_a_reaction_is_logged_not_raised(bot, caplog):
    bot.app.feedback_log.record_feedback.side_effect = SoundalikeError("disk full")
    await FeedbackCog(bot).on_raw_reaction_add(reaction("👍", 5))
    assert "was not recorded: disk full" in caplog.text


def test_rating_buttons_two_rows_per_five_suggestions(bot):
    answer = FakeService().similar("s-heyya", count=5)
    view = rating_view(answer)
    ids = [(item.custom_id, item.row) for item in view.children]
    assert ids[:5] == [(f"soundalike:rate:{n}:up", 0) for n in range(1, 6)]
    assert ids[5:] == [(f"soundalike:rate:{n}:down", 1) for n in range(1, 6)]
    assert view.timeout is None and view.is_persistent()
    ten = dataclasses.replace(answer, suggestions=answer.suggestions * 2)
    assert [item.row for item in rating_view(ten).children] == [0] * 5 + [1] * 5 + [2] * 5 + [3] * 5


def logged_query(command="soundalike", params=None, positions=(1, 2, 3)) -> LoggedQuery:
    return LoggedQuery(
        id=7,
        created_at="2026-01-02T03:04:05+00:00",
        guild_id=GUILD_ID,
        channel_id=1,
        user_id=1,
        command=command,
        typed_title="Hey Ya!",
        typed_artist=None,
        resolved_item_id="s-heyya" if command == "soundalike" else None,
        model_version="v1",
        latency_ms=1.0,
        message_id=MESSAGE_ID,
        params=params if params is not None else {"count": 3},
        suggestions=tuple(LoggedSuggestion(p, SONGS[p][0], 0.5) for p in positions),
    )


async def test_rate_button_is_rebuilt_from_its_custom_id_and_records_the_position(bot):
    match = RateButton.__discord_ui_compiled_template__.fullmatch("soundalike:rate:3:down")
    interaction = make_interaction(bot, kind=discord.InteractionType.component, message=make_message())
    button = await RateButton.from_custom_id(interaction, mock.Mock(), match)
    assert (button.position, button.value) == (3, -1)
    bot.app.feedback_log.query_for_message.return_value = logged_query()
    bot.app.feedback_log.rate_or_take_back.return_value = RatingOutcome.RECORDED
    await button.callback(interaction)
    bot.app.feedback_log.rate_or_take_back.assert_awaited_once_with(
        guild_id=GUILD_ID,
        user_id=interaction.user.id,
        value=-1,
        position=3,
        item_id=SONGS[3][0],
        message_id=MESSAGE_ID,
        query_id=None,
    )
    assert sent_texts(interaction) == [
        "Noted: 👎 for suggestion 3. I will leave it out of your answers for this song, your mixes and /foryou; "
        "press 👎 3 again to take that back."
    ]
    bot.app.feedback_log.query_for_message.return_value = None
    again = make_interaction(bot, kind=discord.InteractionType.component, message=make_message())
    await button.callback(again)
    assert sent_texts(again)[0].startswith("I have no record of that answer")


async def test_pressing_the_same_rating_again_takes_it_back(bot):
    bot.app.feedback_log.query_for_message.return_value = logged_query()
    # The log decides (the song shown at position 2 is disliked already) and takes it back.
    bot.app.feedback_log.rate_or_take_back.return_value = RatingOutcome.TAKEN_BACK
    interaction = make_interaction(bot, kind=discord.InteractionType.component, message=make_message())
    await RateButton(2, -1).callback(interaction)
    bot.app.feedback_log.rate_or_take_back.assert_awaited_once()
    assert bot.app.feedback_log.rate_or_take_back.await_args.kwargs["item_id"] == SONGS[2][0]
    bot.app.feedback_log.record_feedback.assert_not_awaited()
    assert sent_texts(interaction) == ["Took back your 👎 for suggestion 2: it may be suggested to you again."]


WAIT_S = 10.0  # a bound, never reached when reactions work


class Added(list):
    """(message id, emoji) of each reaction put on a :class:`ReactedMessage`; ``reached(n)``
    waits until there are ``n``."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Event()

    async def reached(self, count: int) -> None:
        async with asyncio.timeout(WAIT_S):
            while len(self) < count:
                self.changed.clear()
                await self.changed.wait()


class ReactedMessage:
    """A message that records the reactions put on it."""

    def __init__(self, message_id: int, added: Added):
        self.id, self.added = message_id, added

    async def add_reaction(self, emoji: str) -> None:
        self.added.append((self.id, emoji))
        self.added.changed.set()


async def test_rating_reactions_wait_for_the_answers_of_a_burst_then_follow_in_order():
    pending = True
    added = Added()
    reactions = RatingReactions(lambda: pending, workers=1, max_delay_s=60.0, poll_s=0.01)
    reactions.start()
    try:
        for message_id in (1, 2, 3):
            reactions.add(ReactedMessage(message_id, added))
        await asyncio.sleep(0.2)
        assert added == []  # answers are still computing or waiting: reactions wait
        pending = False
        await added.reached(6)
        assert added == [(n, emoji) for n in (1, 2, 3) for emoji in ("👍", "👎")]
    finally:
        await reactions.close()


async def test_rating_reactions_wait_at_most_their_delay_and_a_full_queue_drops_only_the_extra():
    added = Added()
    reactions = RatingReactions(lambda: True, workers=2, max_delay_s=0.1, max_queued=2, poll_s=0.01)
    for message_id in (1, 2, 3):  # not started yet: the third finds the queue full
        reactions.add(ReactedMessage(message_id, added))
    reactions.start()
    try:
        await added.reached(4)  # never idle, yet each gets its reactions after the delay
        assert sorted(added) == [(n, emoji) for n in (1, 2) for emoji in ("👍", "👎")]
    finally:
        await reactions.close()
    assert all(message_id != 3 for message_id, _ in added)


async def test_closing_adds_what_is_queued_within_its_bound():
    added = Added()
    reactions = RatingReactions(lambda: False, workers=1, poll_s=0.01)
    reactions.start()
    for message_id in range(20):
        reactions.add(ReactedMessage(message_id, added))
    await reactions.close(within_s=10)
    assert len(added) == 40
