"""/soundalike and /mix through their cogs, the pick menu (bot.picks) and the answer path
(bot.replies), with spec'd discord.py mocks around the real application object and a tiny
fake service."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from unittest import mock

import discord
import pytest
from bot_mocks import (
    GUILD_ID,
    MESSAGE_ID,
    FakeService,
    assert_no_mentions,
    make_bot,
    make_interaction,
    make_message,
    sent_texts,
)
from discord import app_commands

import bot.replies as replies
from bot import messages
from bot.cogs.playlists import PlaylistsCog
from bot.cogs.soundalike import SoundalikeCog
from bot.picks import NONE_OF_THESE, PickSong
from bot.replies import MoreButton
from recommender.app.limits import Busy, ComputePool
from recommender.config import BotConfig, Config, ServingConfig
from recommender.errors import SoundalikeError
from recommender.feedback.errors import LogWriteError


async def run_soundalike(bot, interaction, title, artist=None, count=None):
    cog = SoundalikeCog(bot)
    await SoundalikeCog.soundalike.callback(cog, interaction, title, artist, count)
    return cog


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
    logged = bot.app.feedback_log.record_answer.call_args.kwargs
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
    assert message.add_reaction.call_args_list == []  # queued: reactions follow the answers
    bot.rating_reactions.start()  # setup_hook starts them in a connected bot
    await bot.rating_reactions.close(within_s=10)  # adds what is queued, then stops
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
    bot.app.feedback_log.record_answer.side_effect = failure
    interaction = make_interaction(bot)
    await run_soundalike(bot, interaction, "Hey Ya!")  # raises nothing
    assert interaction.edit_original_response.call_args.kwargs["embed"].title == "Songs like Hey Ya! — OutKast"
    assert sent_texts(interaction) == [messages.LOG_NOT_WRITTEN]
    told = interaction.response.send_message.call_args or interaction.followup.send.call_args
    assert told.kwargs["ephemeral"] is True
    interaction.edit_original_response.return_value.add_reaction.assert_not_awaited()  # nothing to rate
    assert "an answer to /soundalike was not logged" in caplog.text
    assert "/srv/secret" not in "".join(sent_texts(interaction))


async def test_autocomplete_value_is_taken_as_an_exact_item_id(bot):
    interaction = make_interaction(bot)
    await run_soundalike(bot, interaction, "s-hello-l", count=2)
    assert not any(call[0] == "resolve" for call in bot.app.service.calls)
    assert ("similar", "s-hello-l", 2, ()) in bot.app.service.calls


async def test_songs_the_member_turned_down_and_blocked_songs_are_left_out(bot):
    bot.app.feedback_log.disliked_items.return_value = {"s-roses"}
    bot.app.feedback_log.blocked_items.return_value = {"s-jude"}
    await run_soundalike(bot, make_interaction(bot, user_id=9), "Hey Ya!")
    bot.app.feedback_log.disliked_items.assert_awaited_once_with(GUILD_ID, 9, "s-heyya")
    assert ("similar", "s-heyya", 5, ("s-jude", "s-roses")) in bot.app.service.calls


async def test_a_count_above_the_configured_maximum_is_refused_with_the_range_not_clamped(bot):
    # Discord offers 1..max_results; a command registered before the limit changed may still send more.
    with pytest.raises(
        SoundalikeError, match=f"count takes a whole number from 1 to {bot.config.bot.max_results}, not 10000"
    ):
        await run_soundalike(bot, make_interaction(bot), "Hey Ya!", count=10_000)
    assert not any(call[0] == "similar" for call in bot.app.service.calls)
    await run_soundalike(bot, make_interaction(bot), "Hey Ya!", count=bot.config.bot.max_results)
    assert ("similar", "s-heyya", bot.config.bot.max_results, ()) in bot.app.service.calls


async def test_the_configured_novelty_and_default_count_are_what_the_bot_serves():
    config = Config(serving=ServingConfig(novelty="deep", default_count=3))
    bot = make_bot(config)
    await run_soundalike(bot, make_interaction(bot), "Hey Ya!")
    assert ("similar", "s-heyya", 3, ()) in bot.app.service.calls and bot.app.service.options[-1]["novelty"] == "deep"
    logged = bot.app.feedback_log.record_answer.call_args.kwargs["params"]
    assert (logged["novelty"], logged["count"]) == ("deep", 3)
    cog = PlaylistsCog(bot)
    await PlaylistsCog.mix.callback(cog, make_interaction(bot, user_id=9), "Hey Ya!", "Hey Jude")  # no cooldown
    assert ("mix", ("s-heyya", "s-jude"), 3, ()) in bot.app.service.calls and bot.app.service.options[-1][
        "novelty"
    ] == "deep"


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
    bot.app.service.note = "These are demo data: they know only the 6 songs of the shipped demo catalog."
    interaction = make_interaction(bot)
    await run_soundalike(bot, interaction, "Hey Yaa")
    assert not any(call[0] == "similar" for call in bot.app.service.calls)  # not taken as the song
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
    bot.app.service.note = "These are demo data."
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
    assert not any(call[0] in ("similar", "candidate") for call in bot.app.service.calls)
    bot.app.feedback_log.record_answer.assert_not_awaited()


async def test_an_artist_alone_offers_their_songs_to_pick(bot):
    interaction = make_interaction(bot)
    await run_soundalike(bot, interaction, "OutKast")
    call = interaction.response.send_message.call_args
    assert call.kwargs["ephemeral"] is True
    assert call.args[0] == "“OutKast” is an artist: which of OutKast's songs do you mean?"
    (pick,) = call.kwargs["view"].children
    assert [o.value for o in pick.item.options] == ["s-heyya", "s-msjackson", "s-roses", NONE_OF_THESE]


async def test_no_match_on_demo_data_says_what_they_know(bot):
    bot.app.service.note = "These are demo data: they know only the 6 songs of the shipped demo catalog."
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
    assert sum(1 for call in bot.app.service.calls if call[0] == "similar") == 1


async def test_busy_pool_answers_busy_at_once_and_gives_the_turn_back(bot):
    bot.cooldowns.seconds = 60.0
    full = ComputePool(per_guild=1, max_queue=0, workers=1)
    bot.app.pool = full
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
    bot.app.service.fail_similar = SoundalikeError("Nobody has played that song yet.")
    interaction = make_interaction(bot)
    await run_soundalike(bot, interaction, "Hey Ya!")
    interaction.response.defer.assert_not_awaited()
    assert sent_texts(interaction) == ["Nobody has played that song yet."]
    assert interaction.response.send_message.call_args.kwargs["ephemeral"] is True
    bot.app.feedback_log.record_answer.assert_not_awaited()


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
    bot.app.feedback_log.record_answer.assert_not_awaited()


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
    assert bot.app.feedback_log.record_answer.call_args.kwargs["message_id"] == 88
    assert ("similar", "s-hello-l", 2, ()) in bot.app.service.calls


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
    assert ("complete", "he", "OutKast") in bot.app.service.calls


async def test_autocomplete_gives_nothing_rather_than_failing(bot, caplog):
    cog = SoundalikeCog(bot)
    interaction = make_interaction(bot, kind=discord.InteractionType.autocomplete)
    with mock.patch.object(FakeService, "complete", side_effect=RuntimeError("index broken")):
        assert await cog.title_autocomplete(interaction, "he") == []
    assert "title autocomplete failed" in caplog.text
    with mock.patch.object(ComputePool, "run", side_effect=Busy(3)):
        assert await cog.artist_autocomplete(interaction, "out") == []
