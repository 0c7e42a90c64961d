"""Cog unit tests: each command's branches, with spec'd discord.py mocks and a tiny fake service."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from pathlib import Path
from unittest import mock

import discord
import pytest
from bot_mocks import (
    ADMIN_ROLE_ID,
    ADMIN_USER_ID,
    GUILD_ID,
    MESSAGE_ID,
    SONGS,
    FakeService,
    assert_no_mentions,
    make_bot,
    make_interaction,
    make_message,
    sent_texts,
)
from discord import app_commands

import bot.replies as replies
from bot import render
from bot.app import SoundalikeTree
from bot.cogs.admin import AdminCog, NotAdmin, ProgressMessage, admin_check, is_admin
from bot.cogs.feedback import FeedbackCog, RateButton, rating_of, rating_view
from bot.cogs.playlists import PlaylistsCog
from bot.cogs.privacy import PrivacyCog
from bot.cogs.soundalike import NONE_OF_THESE, PickSong, SoundalikeCog
from bot.cogs.stats import StatsCog
from bot.replies import MoreButton
from recommender.app.limits import Busy, ComputePool
from recommender.app.retrainer import RetrainFailed, RetrainOutcome, RetrainProgress
from recommender.config import BotConfig, Config, ServingConfig
from recommender.errors import DataError, ModelError, SoundalikeError
from recommender.feedback.errors import LogWriteError
from recommender.feedback.log import LoggedQuery, LoggedSuggestion, RatingOutcome, VersionStats


@pytest.fixture
def bot():
    return make_bot(Config())


async def run_soundalike(bot, interaction, title, artist=None, count=None):
    cog = SoundalikeCog(bot)
    await SoundalikeCog.soundalike.callback(cog, interaction, title, artist, count)
    return cog


# -- /soundalike -------------------------------------------------------------------------------


async def test_confident_title_is_answered_logged_and_given_reactions(bot):
    interaction = make_interaction(bot)
    await run_soundalike(bot, interaction, "Hey Ya!")
    interaction.response.defer.assert_awaited_once_with(thinking=True)
    edit = interaction.edit_original_response.call_args
    assert edit.kwargs["embed"].title == "Songs like Hey Ya! — OutKast"
    view = edit.kwargs["view"]
    assert isinstance(view, discord.ui.View) and len(view.children) == 11  # 10 ratings and More
    assert isinstance(view.children[-1], MoreButton) and view.children[-1].item.row == 4
    assert_no_mentions(interaction.edit_original_response)
    logged = bot.feedback_log.record_answer.call_args.kwargs
    assert logged["message_id"] == MESSAGE_ID and logged["resolved_item_id"] == "s-heyya"
    assert logged["guild_id"] == GUILD_ID and [s[0] for s in logged["suggestions"]] == [1, 2, 3, 4, 5]
    assert logged["params"] == {
        "count": 5,
        "offset": 0,
        "novelty": "balanced",
        "seeds": ["s-heyya"],
        "exclude_seed_artist": False,
        "per_artist_cap": None,
    }
    message = interaction.edit_original_response.return_value
    assert [c.args[0] for c in message.add_reaction.call_args_list] == ["👍", "👎"]


@pytest.mark.parametrize(
    "failure",
    [
        LogWriteError(Path("/srv/secret/log.sqlite3"), "record a query", "the disk is full"),
        UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates not allowed"),
        RuntimeError("a bug in the log"),
    ],
    ids=["log-error", "unicode", "bug"],
)
async def test_an_answer_that_fails_to_log_in_any_way_is_shown_and_the_member_told(bot, caplog, failure):
    bot.feedback_log.record_answer.side_effect = failure
    interaction = make_interaction(bot)
    await run_soundalike(bot, interaction, "Hey Ya!")  # raises nothing
    assert interaction.edit_original_response.call_args.kwargs["embed"].title == "Songs like Hey Ya! — OutKast"
    assert sent_texts(interaction) == [replies.LOG_NOT_WRITTEN]
    told = interaction.response.send_message.call_args or interaction.followup.send.call_args
    assert told.kwargs["ephemeral"] is True
    interaction.edit_original_response.return_value.add_reaction.assert_not_awaited()  # nothing to rate
    assert "an answer to /soundalike was not logged" in caplog.text
    assert "/srv/secret" not in "".join(sent_texts(interaction))


async def test_autocomplete_value_is_taken_as_an_exact_item_id(bot):
    interaction = make_interaction(bot)
    await run_soundalike(bot, interaction, "s-hello-l", count=2)
    assert not any(call[0] == "resolve" for call in bot.service.calls)
    assert ("similar", "s-hello-l", 2, ()) in bot.service.calls


async def test_songs_the_member_turned_down_and_blocked_songs_are_left_out(bot):
    bot.feedback_log.disliked_items.return_value = {"s-roses"}
    bot.feedback_log.blocked_items.return_value = {"s-jude"}
    await run_soundalike(bot, make_interaction(bot, user_id=9), "Hey Ya!")
    bot.feedback_log.disliked_items.assert_awaited_once_with(GUILD_ID, 9, "s-heyya")
    assert ("similar", "s-heyya", 5, ("s-jude", "s-roses")) in bot.service.calls


async def test_a_count_above_the_configured_maximum_is_refused_with_the_range_not_clamped(bot):
    # Discord offers 1..max_results; a command registered before the limit changed may still send more.
    with pytest.raises(
        SoundalikeError, match=f"count takes a whole number from 1 to {bot.config.bot.max_results}, not 10000"
    ):
        await run_soundalike(bot, make_interaction(bot), "Hey Ya!", count=10_000)
    assert not any(call[0] == "similar" for call in bot.service.calls)
    await run_soundalike(bot, make_interaction(bot), "Hey Ya!", count=bot.config.bot.max_results)
    assert ("similar", "s-heyya", bot.config.bot.max_results, ()) in bot.service.calls


async def test_the_configured_novelty_and_default_count_are_what_the_bot_serves():
    config = Config(serving=ServingConfig(novelty="deep", default_count=3))
    bot = make_bot(config)
    await run_soundalike(bot, make_interaction(bot), "Hey Ya!")
    assert ("similar", "s-heyya", 3, ()) in bot.service.calls and bot.service.options[-1]["novelty"] == "deep"
    logged = bot.feedback_log.record_answer.call_args.kwargs["params"]
    assert (logged["novelty"], logged["count"]) == ("deep", 3)
    cog = PlaylistsCog(bot)
    await PlaylistsCog.mix.callback(cog, make_interaction(bot, user_id=9), "Hey Ya!", "Hey Jude")  # no cooldown
    assert ("mix", ("s-heyya", "s-jude"), 3, ()) in bot.service.calls and bot.service.options[-1]["novelty"] == "deep"


async def test_each_count_option_declares_the_configured_maximum_as_its_range():
    small = make_bot(Config(bot=BotConfig(max_results=7)))
    large = make_bot(Config(bot=BotConfig(max_results=25)))
    for bot in (small, large):
        await bot.add_cog(SoundalikeCog(bot))
        await bot.add_cog(PlaylistsCog(bot))
    for bot, maximum in ((small, 7), (large, 25), (small, 7)):  # one bot's range never leaks into another's
        for name in ("soundalike", "mix", "foryou"):
            payload = bot.tree.get_command(name).to_dict(bot.tree)
            count = next(option for option in payload["options"] if option["name"] == "count")
            assert (count["min_value"], count["max_value"]) == (1, maximum), name
    # The class-level commands keep their own declaration.
    assert SoundalikeCog.soundalike.get_parameter("count").max_value == 25


async def test_ambiguous_title_offers_a_persistent_select_privately(bot):
    interaction = make_interaction(bot)
    await run_soundalike(bot, interaction, "Hello", count=3)
    interaction.response.defer.assert_not_awaited()
    call = interaction.response.send_message.call_args
    assert call.kwargs["ephemeral"] is True
    (pick,) = call.kwargs["view"].children
    assert isinstance(pick, PickSong) and pick.custom_id == "soundalike:pick:3:balanced:0:-"
    assert [o.value for o in pick.item.options] == ["s-hello-a", "s-hello-l", NONE_OF_THESE]
    assert_no_mentions(interaction.response.send_message)


async def test_unknown_title_lists_the_closest_titles_privately(bot):
    interaction = make_interaction(bot)
    await run_soundalike(bot, interaction, "Hxx @everyone")
    (text,) = sent_texts(interaction)
    assert text.startswith("No song matches “Hxx @\u200beveryone”. Closest titles:")
    assert "Hey Ya!" in text and interaction.response.send_message.call_args.kwargs["ephemeral"] is True


async def test_a_far_match_is_a_did_you_mean_list_with_none_of_these(bot):
    bot.service.note = "These are demo data: they know only the 6 songs of the shipped demo catalog."
    interaction = make_interaction(bot)
    await run_soundalike(bot, interaction, "Hey Yaa")
    assert not any(call[0] == "similar" for call in bot.service.calls)  # not taken as the song
    call = interaction.response.send_message.call_args
    assert call.kwargs["ephemeral"] is True
    assert call.args[0] == (
        "No song is called “Hey Yaa”. Did you mean one of these?\n"
        "These are demo data: they know only the 6 songs of the shipped demo catalog."
    )
    (pick,) = call.kwargs["view"].children
    assert [(o.label, o.value) for o in pick.item.options] == [
        ("Hey Ya! — OutKast", "s-heyya"),
        ("None of these", NONE_OF_THESE),
    ]
    assert_no_mentions(interaction.response.send_message)


async def test_none_of_these_says_privately_that_nothing_was_picked(bot):
    bot.service.note = "These are demo data."
    interaction = make_interaction(bot, kind=discord.InteractionType.component, message=make_message(77))
    interaction.data = {"custom_id": "soundalike:pick:5:balanced:0:-", "component_type": 3, "values": [NONE_OF_THESE]}
    await bot.add_cog(SoundalikeCog(bot))
    match = PickSong.__discord_ui_compiled_template__.fullmatch("soundalike:pick:5:balanced:0:-")
    pick = await PickSong.from_custom_id(interaction, mock.Mock(), match)
    await pick.callback(interaction)
    edit = interaction.response.edit_message.call_args
    assert edit.kwargs["content"].startswith("Nothing picked, so no songs this time.")
    assert edit.kwargs["content"].endswith("These are demo data.") and edit.kwargs["view"] is None
    assert_no_mentions(interaction.response.edit_message)
    interaction.followup.send.assert_not_awaited()  # nothing public
    assert not any(call[0] in ("similar", "candidate") for call in bot.service.calls)
    bot.feedback_log.record_answer.assert_not_awaited()


async def test_an_artist_alone_offers_their_songs_to_pick(bot):
    interaction = make_interaction(bot)
    await run_soundalike(bot, interaction, "OutKast")
    call = interaction.response.send_message.call_args
    assert call.kwargs["ephemeral"] is True
    assert call.args[0] == "“OutKast” is an artist: which of OutKast's songs do you mean?"
    (pick,) = call.kwargs["view"].children
    assert [o.value for o in pick.item.options] == ["s-heyya", "s-msjackson", "s-roses", NONE_OF_THESE]


async def test_no_match_on_demo_data_says_what_they_know(bot):
    bot.service.note = "These are demo data: they know only the 6 songs of the shipped demo catalog."
    interaction = make_interaction(bot)
    await run_soundalike(bot, interaction, "Qwerty")
    (text,) = sent_texts(interaction)
    assert text.startswith("No song matches “Qwerty”.")
    assert text.endswith("\nThese are demo data: they know only the 6 songs of the shipped demo catalog.")


async def test_a_second_request_within_the_cooldown_is_refused(bot):
    bot.cooldowns.seconds = 60.0
    await run_soundalike(bot, make_interaction(bot), "Hey Ya!")
    again = make_interaction(bot)
    await run_soundalike(bot, again, "Hey Ya!")
    (text,) = sent_texts(again)
    assert text.startswith("Slow down a little: try again in ")
    assert sum(1 for call in bot.service.calls if call[0] == "similar") == 1


async def test_busy_pool_answers_busy_at_once_and_gives_the_turn_back(bot):
    bot.cooldowns.seconds = 60.0
    full = ComputePool(per_guild=1, max_queue=0, workers=1)
    bot.pool = full
    gate = threading.Event()
    blocker = asyncio.create_task(full.run(GUILD_ID, gate.wait, 5))
    await asyncio.sleep(0)  # the blocker takes the only slot of this server
    interaction = make_interaction(bot)
    await run_soundalike(bot, interaction, "Hey Ya!")
    (text,) = sent_texts(interaction)
    assert text.startswith("Busy, try again in ") and text.endswith(" s.")
    assert interaction.response.send_message.call_args.kwargs["ephemeral"] is True
    gate.set()
    await blocker
    later = make_interaction(bot)
    await run_soundalike(bot, later, "Hey Ya!")  # not refused by the cooldown: the turn was given back
    later.edit_original_response.assert_awaited_once()
    full.close()


async def test_a_quick_failure_is_a_private_note_with_no_placeholder(bot):
    bot.service.fail_similar = SoundalikeError("Nobody has played that song yet.")
    interaction = make_interaction(bot)
    await run_soundalike(bot, interaction, "Hey Ya!")
    interaction.response.defer.assert_not_awaited()
    assert sent_texts(interaction) == ["Nobody has played that song yet."]
    assert interaction.response.send_message.call_args.kwargs["ephemeral"] is True
    bot.feedback_log.record_answer.assert_not_awaited()


class SlowFailingService(FakeService):
    def similar(self, *args, **kwargs):
        time.sleep(0.2)
        raise SoundalikeError("Nobody has played that song yet.")


async def test_failure_after_thinking_replaces_the_placeholder_with_a_private_note(monkeypatch):
    monkeypatch.setattr(replies, "RESPOND_WITHIN_S", 0.01)
    bot = make_bot(Config(), service=SlowFailingService())
    interaction = make_interaction(bot)
    await run_soundalike(bot, interaction, "s-heyya")
    interaction.response.defer.assert_awaited_once_with(thinking=True)
    interaction.delete_original_response.assert_awaited_once()
    call = interaction.followup.send.call_args
    assert call.args == ("Nobody has played that song yet.",) and call.kwargs["ephemeral"] is True
    bot.feedback_log.record_answer.assert_not_awaited()


class SlowService(FakeService):
    def resolve(self, title, artist=None):
        time.sleep(0.2)  # a queue on the compute pool, say
        return super().resolve(title, artist)


@pytest.mark.parametrize("title", ["Hey Ya!", "Hello"])
async def test_a_slow_lookup_shows_thinking_first_and_still_answers_right(monkeypatch, title):
    monkeypatch.setattr(replies, "RESPOND_WITHIN_S", 0.01)
    bot = make_bot(Config(), service=SlowService())
    interaction = make_interaction(bot)
    await run_soundalike(bot, interaction, title)
    interaction.response.defer.assert_awaited_once_with(thinking=True)
    interaction.response.send_message.assert_not_awaited()
    if title == "Hey Ya!":  # confident: the placeholder becomes the answer
        interaction.edit_original_response.assert_awaited_once()
        interaction.delete_original_response.assert_not_awaited()
    else:  # ambiguous: the public placeholder goes, the picker comes privately
        interaction.delete_original_response.assert_awaited_once()
        call = interaction.followup.send.call_args
        assert call.kwargs["ephemeral"] is True and isinstance(call.kwargs["view"].children[0], PickSong)
        assert_no_mentions(interaction.followup.send)


async def test_pick_from_the_select_answers_publicly_in_a_followup(bot):
    interaction = make_interaction(bot, kind=discord.InteractionType.component, message=make_message(77))
    interaction.data = {"custom_id": "soundalike:pick:2", "component_type": 3, "values": ["s-hello-l"]}
    interaction.followup.send.return_value = make_message(88)
    await bot.add_cog(SoundalikeCog(bot))
    # A menu sent before the other options existed carries the count only.
    match = PickSong.__discord_ui_compiled_template__.fullmatch("soundalike:pick:2")
    pick = await PickSong.from_custom_id(interaction, mock.Mock(), match)
    await pick.callback(interaction)
    interaction.response.edit_message.assert_awaited_once()
    sent = interaction.followup.send.call_args
    assert sent.kwargs["embed"].title == "Songs like Hello — Lionel Richie" and sent.kwargs["wait"] is True
    assert bot.feedback_log.record_answer.call_args.kwargs["message_id"] == 88
    assert ("similar", "s-hello-l", 2, ()) in bot.service.calls


async def test_title_autocomplete_gives_labels_and_item_ids(bot):
    cog = SoundalikeCog(bot)
    interaction = make_interaction(bot, kind=discord.InteractionType.autocomplete)
    interaction.namespace.artist = "OutKast"
    choices = await cog.title_autocomplete(interaction, "he")
    assert choices == [
        app_commands.Choice(name="Hey Ya! — OutKast", value="s-heyya"),
        app_commands.Choice(name="Hello — Adele", value="s-hello-a"),
        app_commands.Choice(name="Hello — Lionel Richie", value="s-hello-l"),
        app_commands.Choice(name="Hey Jude — The Beatles", value="s-jude"),
    ]
    assert ("complete", "he", "OutKast") in bot.service.calls


async def test_autocomplete_gives_nothing_rather_than_failing(bot, caplog):
    cog = SoundalikeCog(bot)
    interaction = make_interaction(bot, kind=discord.InteractionType.autocomplete)
    with mock.patch.object(FakeService, "complete", side_effect=RuntimeError("index broken")):
        assert await cog.title_autocomplete(interaction, "he") == []
    assert "title autocomplete failed" in caplog.text
    with mock.patch.object(ComputePool, "run", side_effect=Busy(3)):
        assert await cog.artist_autocomplete(interaction, "out") == []


# -- feedback ----------------------------------------------------------------------------------


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
        bot.feedback_log.record_feedback.assert_not_awaited()
        await cog.on_raw_reaction_add(reaction("👎🏽", 5))
        bot.feedback_log.record_feedback.assert_awaited_once_with(MESSAGE_ID, 5, -1)
        await cog.on_raw_reaction_remove(reaction("👎", 5))
        bot.feedback_log.retract_feedback.assert_awaited_once_with(MESSAGE_ID, 5, -1)


async def test_a_log_failure_on_a_reaction_is_logged_not_raised(bot, caplog):
    bot.feedback_log.record_feedback.side_effect = SoundalikeError("disk full")
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
    bot.feedback_log.query_for_message.return_value = logged_query()
    bot.feedback_log.rate_or_take_back.return_value = RatingOutcome.RECORDED
    await button.callback(interaction)
    bot.feedback_log.rate_or_take_back.assert_awaited_once_with(
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
    bot.feedback_log.query_for_message.return_value = None
    again = make_interaction(bot, kind=discord.InteractionType.component, message=make_message())
    await button.callback(again)
    assert sent_texts(again)[0].startswith("I have no record of that answer")


async def test_pressing_the_same_rating_again_takes_it_back(bot):
    bot.feedback_log.query_for_message.return_value = logged_query()
    # The log decides (the song shown at position 2 is disliked already) and takes it back.
    bot.feedback_log.rate_or_take_back.return_value = RatingOutcome.TAKEN_BACK
    interaction = make_interaction(bot, kind=discord.InteractionType.component, message=make_message())
    await RateButton(2, -1).callback(interaction)
    bot.feedback_log.rate_or_take_back.assert_awaited_once()
    assert bot.feedback_log.rate_or_take_back.await_args.kwargs["item_id"] == SONGS[2][0]
    bot.feedback_log.record_feedback.assert_not_awaited()
    assert sent_texts(interaction) == ["Took back your 👎 for suggestion 2: it may be suggested to you again."]


# -- admin checks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ({"user_id": ADMIN_USER_ID}, True),
        ({"role_ids": (ADMIN_ROLE_ID,)}, True),
        ({"manage_guild": True}, True),
        ({"role_ids": (12345,)}, False),
        ({}, False),
        ({"user_id": ADMIN_USER_ID, "dm": True}, False),
    ],
    ids=["admin user id", "admin role", "manage server", "other role", "member", "admin in DMs"],
)
def test_who_is_an_admin(bot, who, expected):
    assert is_admin(make_interaction(bot, **who), bot.config.bot) is expected


async def test_admin_check_refuses_members_and_direct_messages(bot):
    assert await admin_check(make_interaction(bot, role_ids=(ADMIN_ROLE_ID,))) is True
    with pytest.raises(NotAdmin):
        await admin_check(make_interaction(bot))
    with pytest.raises(app_commands.NoPrivateMessage):
        await admin_check(make_interaction(bot, user_id=ADMIN_USER_ID, dm=True))


def test_admin_commands_are_hidden_by_default_and_server_only(bot):
    cog = AdminCog(bot)
    commands = {c.qualified_name: c for c in cog.walk_app_commands()}
    assert commands["retrain"].default_permissions == discord.Permissions(manage_guild=True)
    assert commands["retrain"].guild_only and cog.model.guild_only
    assert cog.model.default_permissions == discord.Permissions(manage_guild=True)
    for name in ("retrain", "model show", "model rollback"):
        assert admin_check in [check for check in commands[name].checks], name


async def test_tree_turns_failures_into_one_private_sentence(bot, caplog):
    tree = bot.tree
    assert isinstance(tree, SoundalikeTree)
    cases = [
        (NotAdmin(), render.message_text(NotAdmin())),
        (app_commands.NoPrivateMessage(), "That command works in a server, not in direct messages."),
        (app_commands.CommandInvokeError(mock.Mock(), SoundalikeError("Bad @everyone")), "Bad @\u200beveryone"),
        (app_commands.CommandInvokeError(mock.Mock(), Busy(2.1)), "Busy, try again in 3 s."),
        (
            app_commands.CommandInvokeError(
                mock.Mock(), LogWriteError(Path("/srv/secret/log.sqlite3"), "record", "disk full")
            ),
            "I could not write to my log just now, so this was not recorded. Please try again later.",
        ),
        (
            app_commands.CommandInvokeError(
                mock.Mock(),
                ModelError(
                    f"no good version of 'demo' to roll back to (model demo/v1: folder {bot.config.data_root}/models/demo/v1 "
                    "is missing)"
                ),
            ),
            "no good version of 'demo' to roll back to \\(model demo/v1: folder v1 is missing\\)",
        ),
        (
            app_commands.CommandInvokeError(
                mock.Mock(), DataError("interactions.npz is missing", path=bot.config.datasets_dir / "demo")
            ),
            "demo: interactions.npz is missing",
        ),
        (
            app_commands.CommandNotFound("gone", []),
            "That command has changed; Discord should show the new version within a few minutes.",
        ),
    ]
    for error, expected in cases:
        interaction = make_interaction(bot)
        interaction.command = None
        await tree.on_error(interaction, error)
        assert sent_texts(interaction) == [expected]
        assert_no_mentions(interaction.response.send_message)
    interaction = make_interaction(bot)
    interaction.command = None
    interaction.response.is_done.return_value = True
    with caplog.at_level(logging.ERROR):
        await tree.on_error(interaction, app_commands.CommandInvokeError(mock.Mock(), KeyError("x")))
    assert sent_texts(interaction)[0].startswith("Something went wrong on my side")
    assert interaction.followup.send.call_args.kwargs["ephemeral"] is True
    assert "failed" in caplog.text


# -- /retrain, /model ----------------------------------------------------------------------------


async def run_retrain(bot, interaction):
    await AdminCog.retrain.callback(AdminCog(bot), interaction)


async def test_retrain_reports_progress_then_swaps_in_the_promoted_model(bot):
    bot.retrainer.running = False

    async def run(on_progress, started_by):
        await on_progress(RetrainProgress("train", 0.5, "ALS iteration 8/15"))
        return RetrainOutcome(True, "v2", "ndcg@10 0.31 -> 0.33", {})

    bot.retrainer.run.side_effect = run
    interaction = make_interaction(bot, manage_guild=True)
    await run_retrain(bot, interaction)
    assert sent_texts(interaction) == ["Retraining: starting…"]
    edits = [c.kwargs["content"] for c in interaction.edit_original_response.call_args_list]
    assert edits == [
        "Retraining… train (50%): ALS iteration 8/15",
        "Retrained: now serving model v2. ndcg@10 0.31 -> 0.33",
    ]
    assert ("reload", None) in bot.service.calls
    assert_no_mentions(interaction.edit_original_response)


async def test_retrain_kept_or_failed_is_said_plainly(bot):
    bot.retrainer.running = False
    bot.retrainer.run.return_value = RetrainOutcome(False, None, "ndcg@10 dropped 0.02", {})
    interaction = make_interaction(bot, manage_guild=True)
    await run_retrain(bot, interaction)
    assert interaction.edit_original_response.call_args.kwargs["content"] == (
        "Retrained, but kept model v1: ndcg@10 dropped 0.02."
    )
    assert ("reload", None) not in bot.service.calls
    bot.retrainer.run.side_effect = RetrainFailed("The retrain failed (exit status 2): error: no dataset")
    failed = make_interaction(bot, manage_guild=True)
    await run_retrain(bot, failed)
    assert failed.edit_original_response.call_args.kwargs["content"] == (
        "The retrain failed \\(exit status 2\\): error: no dataset"
    )


async def test_a_second_retrain_is_told_one_is_running(bot):
    bot.retrainer.running = True
    interaction = make_interaction(bot, manage_guild=True)
    await run_retrain(bot, interaction)
    assert sent_texts(interaction) == ["A retrain is already running; wait for it to finish."]
    bot.retrainer.run.assert_not_awaited()


async def test_progress_edits_are_throttled():
    interaction = make_interaction(make_bot(Config()))
    now = [100.0]
    reply = ProgressMessage(interaction, clock=lambda: now[0])
    for _ in range(5):
        await reply.update(RetrainProgress("train", None, "working"))
    now[0] += 2.5
    await reply.update(RetrainProgress("evaluate", None, "scoring"))
    assert interaction.edit_original_response.await_count == 2


async def test_model_show_and_rollback(bot):
    bot.feedback_log.stats.return_value = [VersionStats("v1", 10, 4, 1)]
    interaction = make_interaction(bot, role_ids=(ADMIN_ROLE_ID,))
    await AdminCog.show.callback(AdminCog(bot), interaction)
    embed = interaction.followup.send.call_args.kwargs["embed"]
    assert embed.title == "Model v1"
    assert {f.name: f.value for f in embed.fields}["Feedback since"] == "answers 10 · 👍 4 · 👎 1"
    bot.retrainer.running = False
    rollback = make_interaction(bot, role_ids=(ADMIN_ROLE_ID,))
    await AdminCog.rollback.callback(AdminCog(bot), rollback)
    assert bot.service.calls.count(("rollback",)) == 1
    assert sent_texts(rollback) == [render.message_text("Rolled back: now serving model v0 (was v1).")]


async def test_a_refused_rollback_replaces_the_placeholder_with_why_and_names_no_path(bot):
    bot.retrainer.running = False
    bot.service.rollback_error = ModelError(
        f"no good version of 'tiny' was served before v1, so there is nothing to roll back to "
        f"(model tiny/v0: folder {bot.config.models_dir}/tiny/v0 is missing)"
    )
    interaction = make_interaction(bot, role_ids=(ADMIN_ROLE_ID,))
    await AdminCog.rollback.callback(AdminCog(bot), interaction)
    interaction.response.defer.assert_awaited_once_with(thinking=True)
    (text,) = sent_texts(interaction)  # the first followup after "thinking…" replaces it
    assert text == render.message_text(
        "Could not roll back: no good version of 'tiny' was served before v1, so "
        "there is nothing to roll back to (model tiny/v0: folder v0 is missing)"
    )
    assert str(bot.config.data_root) not in text


# -- /stats, /forgetme ---------------------------------------------------------------------------


async def test_stats_per_model_version(bot):
    bot.feedback_log.stats.return_value = [VersionStats("v1", 10, 3, 1), VersionStats("v2", 4, 0, 0)]
    interaction = make_interaction(bot)
    await StatsCog.stats.callback(StatsCog(bot), interaction)
    bot.feedback_log.stats.assert_awaited_once_with(GUILD_ID)
    fields = interaction.response.send_message.call_args.kwargs["embed"].fields
    assert [(f.name, f.value) for f in fields] == [
        ("model v1", "10 answered · 👍 3 (75%) · 👎 1 (25%)"),
        ("model v2", "4 answered · 👍 0 (–) · 👎 0 (–)"),
    ]


async def test_forgetme_erases_and_confirms_privately(bot):
    bot.feedback_log.forget_user.return_value = {"queries": 2, "feedback": 1}
    interaction = make_interaction(bot, user_id=42)
    await PrivacyCog.forgetme.callback(PrivacyCog(bot), interaction)
    bot.feedback_log.forget_user.assert_awaited_once_with(42)
    assert sent_texts(interaction)[0].startswith("Done: I erased your 2 questions and 1 rating from the log.")
    assert interaction.response.send_message.call_args.kwargs["ephemeral"] is True


def test_block_commands_are_for_admins_hidden_by_default_and_server_only(bot):
    from bot.cogs.blocks import BlocksCog

    commands = {c.qualified_name: c for c in BlocksCog(bot).walk_app_commands()}
    for name in ("block", "unblock"):
        # By name: each bot start loads the cog modules afresh (discord.py's load_extension),
        # so the function object may come from another load of bot.cogs.admin.
        checks = [(check.__module__, check.__name__) for check in commands[name].checks]
        assert commands[name].guild_only and ("bot.cogs.admin", "admin_check") in checks
        assert commands[name].default_permissions == discord.Permissions(manage_guild=True)


async def test_unblock_autocomplete_shows_the_blocked_songs_to_admins_only(bot):
    from bot.cogs.blocks import BlocksCog

    bot.feedback_log.blocked_items.return_value = {"s-heyya"}
    cog = BlocksCog(bot)
    for admin in (
        make_interaction(bot, role_ids=(ADMIN_ROLE_ID,)),
        make_interaction(bot, manage_guild=True),
        make_interaction(bot, user_id=ADMIN_USER_ID),
    ):
        choices = await cog.unblock_autocomplete(admin, "")
        assert [(c.name, c.value) for c in choices] == [("Hey Ya! — OutKast", "s-heyya")]
    for outsider in (
        make_interaction(bot),
        make_interaction(bot, role_ids=(ADMIN_ROLE_ID + 1,)),
        make_interaction(bot, dm=True),
    ):
        assert await cog.unblock_autocomplete(outsider, "") == []


async def test_stats_chart_is_drawn_on_a_compute_thread_and_attached(bot, monkeypatch):
    import bot.charts as charts
    from recommender.feedback.log import FeedbackDay, TopQuery

    drawn_on = []
    real = charts.stats_png

    def spy(*args, **kwargs):
        drawn_on.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(charts, "stats_png", spy)
    bot.feedback_log.stats.return_value = [VersionStats("v1", 2, 1, 1)]
    bot.feedback_log.feedback_over_time.return_value = [FeedbackDay("2026-01-02", "v1", 1, 1)]
    bot.feedback_log.top_queries.return_value = [TopQuery("s-heyya", "s-heyya", None, 2)]
    interaction = make_interaction(bot)
    await StatsCog.stats.callback(StatsCog(bot), interaction)
    assert drawn_on and drawn_on[0].startswith("soundalike-compute")
    interaction.response.send_message.assert_awaited_once()  # the numbers went out first
    edit = interaction.edit_original_response.call_args.kwargs
    (attached,) = edit["attachments"]
    assert attached.filename == charts.FILENAME and attached.fp.read(8) == b"\x89PNG\r\n\x1a\n"
    assert edit["embed"].image.url == f"attachment://{charts.FILENAME}"
