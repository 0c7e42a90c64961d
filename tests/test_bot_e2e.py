"""End to end: the real discord.py client, the real service on the demo data, the fake Discord.

Each test starts a fresh fake server and bot (about 0.1 s) and talks only to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from bot_harness import WAIT, bot_world
from fake_discord import option

from bot.cogs.admin import NotAdmin
from recommender.feedback_log import FeedbackLog

pytestmark = pytest.mark.asyncio

THUMBS_UP, THUMBS_DOWN = "👍", "👎"


@pytest.fixture
async def world(tmp_path, demo_env, demo_service):
    async with bot_world(tmp_path, demo_env.config, demo_service) as world:
        yield world


async def hey_ya_id(world) -> str:
    resolution = world.service.resolve("Hey Ya!", "OutKast")
    assert resolution.best is not None and resolution.best.title == "Hey Ya!"
    return resolution.best.item_id


async def feedback_rows(path) -> list[tuple]:
    async with FeedbackLog.open(path) as log:
        async with log._read() as db:  # test-only peek at the table
            return [tuple(row) for row in await db.execute_fetchall(
                "SELECT message_id, user_id, position, value, retracted_at IS NOT NULL FROM feedback ORDER BY id")]


async def test_connects_and_syncs_every_command_globally(world):
    synced = {command["name"] for command in world.fake.commands["global"]}
    assert synced == {"soundalike", "retrain", "model", "stats", "forgetme"}
    retrain = next(c for c in world.fake.commands["global"] if c["name"] == "retrain")
    assert str(retrain["default_member_permissions"]) == "32"  # Manage Server
    assert retrain["contexts"] == [0]  # servers only
    assert world.fake.identify_payloads[0]["intents"] == world.bot.intents.value
    assert not world.bot.intents.message_content and not world.bot.intents.members


async def test_title_autocomplete_offers_catalog_songs_with_item_ids(world):
    interaction = await world.fake.autocomplete(
        "soundalike", [option("title", "hey y", focused=True)], member=world.member, guild=world.guild
    )
    recorded = await world.fake.wait_for("POST", rf"/interactions/{interaction.id}/{interaction.token}/callback",
                                         timeout=WAIT)
    assert recorded.body["type"] == 8
    choices = recorded.body["data"]["choices"]
    assert choices[0] == {"name": "Hey Ya! — OutKast", "value": await hey_ya_id(world)}
    assert len(choices) <= 25 and all(1 <= len(c["name"]) <= 100 for c in choices)


async def test_artist_autocomplete_offers_artists(world):
    interaction = await world.fake.autocomplete(
        "soundalike", [option("title", "Hey"), option("artist", "outk", focused=True)],
        member=world.member, guild=world.guild,
    )
    recorded = await world.fake.wait_for("POST", rf"/interactions/{interaction.id}/{interaction.token}/callback",
                                         timeout=WAIT)
    assert recorded.body["data"]["choices"][0] == {"name": "OutKast", "value": "OutKast"}


async def test_soundalike_answers_with_embed_buttons_and_reactions(world):
    interaction = await world.soundalike("Hey Ya!")
    message = await world.answer_message(interaction)
    embed = message["embeds"][0]
    assert embed["title"] == "Songs like Hey Ya! — OutKast"
    assert embed["description"].startswith("**1. ")
    assert "% match" in embed["description"] and "open.spotify.com/search/" in embed["description"]
    assert "model v" in embed["footer"]["text"]
    custom_ids = [c["custom_id"] for row in message["components"] for c in row["components"]]
    assert "soundalike:rate:1:up" in custom_ids and "soundalike:rate:5:down" in custom_ids
    message_id = int(message["id"])
    await world.fake.wait_for("PUT", rf"/channels/\d+/messages/{message_id}/reactions/.+/@me", timeout=WAIT,
                              where=lambda r: THUMBS_DOWN in r.path)
    assert world.fake.reactions_added(message_id) == [THUMBS_UP, THUMBS_DOWN]
    logged = await world.feedback_log.query_for_message(message_id)
    assert logged is not None and logged.user_id == world.member.user.id and len(logged.suggestions) == 5
    assert logged.typed_title == "Hey Ya!" and logged.resolved_item_id == await hey_ya_id(world)


async def test_picked_autocomplete_value_is_used_exactly(world):
    item_id = await hey_ya_id(world)
    interaction = await world.soundalike(item_id, count=3)
    message = await world.answer_message(interaction)
    assert message["embeds"][0]["title"] == "Songs like Hey Ya! — OutKast"
    assert message["embeds"][0]["description"].count("% match") == 3


async def test_reaction_and_rating_button_land_in_sqlite(world):
    interaction = await world.soundalike("Hey Ya!")
    message = await world.answer_message(interaction)
    message_id = int(message["id"])
    await world.fake.wait_for("PUT", rf"/channels/\d+/messages/{message_id}/reactions/.+/@me", timeout=WAIT,
                              where=lambda r: THUMBS_DOWN in r.path)
    # The bot's own reactions are prompts, not ratings; another emoji is not a rating either.
    await world.fake.react(message_id, THUMBS_UP, user_id=world.fake.application_id, guild=world.guild)
    await world.fake.react(message_id, "🎸", user_id=world.member.user.id, guild=world.guild)
    await world.fake.react(message_id, "👍🏽", user_id=world.member.user.id, guild=world.guild)
    since = len(world.fake.requests)
    press = await world.fake.press(message_id, "soundalike:rate:2:down", member=world.dj, guild=world.guild)
    reply = await world.ephemeral_reply(press, since=since)
    assert reply.startswith("Noted: 👎 for suggestion 2")
    rows = await feedback_rows(world.config.database_path)
    assert rows == [
        (message_id, world.member.user.id, None, 1, 0),
        (message_id, world.dj.user.id, 2, -1, 0),
    ]
    await world.fake.react(message_id, THUMBS_UP, user_id=world.member.user.id, guild=world.guild, remove=True)
    async with asyncio.timeout(WAIT):
        while (await feedback_rows(world.config.database_path))[0][4] != 1:
            await asyncio.sleep(0.01)


async def test_non_admin_retrain_is_refused(world):
    since = len(world.fake.requests)
    interaction = await world.fake.slash_command("retrain", [], member=world.member, guild=world.guild)
    assert await world.ephemeral_reply(interaction, since=since) == str(NotAdmin())
    assert not world.retrainer.running


async def test_ambiguous_title_asks_with_a_select_and_the_pick_answers(world):
    since = len(world.fake.requests)
    interaction = await world.soundalike("Hey")
    recorded = await world.fake.wait_for("POST", rf"/interactions/{interaction.id}/{interaction.token}/callback",
                                         since=since, timeout=WAIT)
    data = recorded.body["data"]
    assert data["flags"] & 64 and "Which one did you mean?" in data["content"]
    select = data["components"][0]["components"][0]
    assert re.fullmatch(r"soundalike:pick:\d+", select["custom_id"])
    jude = next(o for o in select["options"] if o["label"] == "Hey Jude — The Beatles")
    picker_id = interaction.original_message_id
    since = len(world.fake.requests)
    pick = await world.fake.press(picker_id, select["custom_id"], member=world.member, guild=world.guild,
                                  values=[jude["value"]])
    followup = await world.fake.wait_for("POST", rf"/webhooks/\d+/{pick.token}", since=since, timeout=WAIT)
    assert followup.body["embeds"][0]["title"] == "Songs like Hey Jude — The Beatles"
    assert not (followup.body.get("flags") or 0) & 64


async def test_unknown_title_gets_an_ephemeral_note(world):
    since = len(world.fake.requests)
    interaction = await world.soundalike("qqqqzzzzxxxx")
    assert (await world.ephemeral_reply(interaction, since=since)).startswith("No song matches")
