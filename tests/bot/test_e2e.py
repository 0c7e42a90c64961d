"""End to end: the real discord.py client, the real service on the demo data, the fake Discord.

Each test starts a fresh fake server and bot (about 0.1 s) and talks only to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
import threading

import pytest
from bot_harness import WAIT, bot_world
from fake_discord import option

from bot import render
from bot.checks import NotAdmin
from bot.picks import NONE_OF_THESE

pytestmark = pytest.mark.asyncio

THUMBS_UP, THUMBS_DOWN = "👍", "👎"
ALL_COMMANDS = {"soundalike", "mix", "foryou", "retrain", "model", "block", "unblock", "stats", "forgetme"}
ALL_COMMANDS |= {"link", "unlink"}  # /link listenbrainz, /unlink: a member's own listening


@pytest.fixture
async def world(tmp_path, demo_env, demo_service):
    async with bot_world(tmp_path, demo_env.config, demo_service) as world:
        yield world


async def hey_ya_id(world) -> str:
    resolution = world.service.resolve("Hey Ya!", "OutKast")
    assert resolution.best is not None and resolution.best.title == "Hey Ya!"
    return resolution.best.item_id


def feedback_rows(path) -> list[tuple]:
    """Every rating row, oldest first: (message_id, user_id, position, value, retracted)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute(
            "SELECT message_id, user_id, position, value, retracted_at IS NOT NULL FROM feedback ORDER BY id"
        ).fetchall()
    finally:
        connection.close()


async def rows_become(world, expected: set[tuple]) -> None:
    """Wait (bounded) until the feedback table holds exactly ``expected`` (events are handled concurrently)."""
    rows: set[tuple] = set()
    for _ in range(int(WAIT / 0.01)):
        if (rows := set(feedback_rows(world.config.database_path))) == expected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"feedback rows stayed {sorted(rows)}, expected {sorted(expected)}")


async def test_connects_and_syncs_every_command_globally(world):
    synced = {command["name"] for command in world.fake.commands["global"]}
    assert synced == ALL_COMMANDS
    retrain = next(c for c in world.fake.commands["global"] if c["name"] == "retrain")
    assert str(retrain["default_member_permissions"]) == "32"  # Manage Server
    assert retrain["contexts"] == [0]  # servers only
    assert world.fake.identify_payloads[0]["intents"] == world.bot.intents.value
    assert not world.bot.intents.message_content and not world.bot.intents.members


async def test_with_a_dev_guild_commands_sync_to_it_only(tmp_path, demo_env, demo_service):
    async with bot_world(tmp_path, demo_env.config, demo_service, dev_guild=True) as world:
        assert "global" not in world.fake.commands
        synced = {command["name"] for command in world.fake.commands[str(world.guild.id)]}
        assert synced == ALL_COMMANDS


async def test_title_autocomplete_offers_catalog_songs_with_item_ids(world):
    interaction = await world.fake.autocomplete(
        "soundalike", [option("title", "hey y", focused=True)], member=world.member, guild=world.guild
    )
    recorded = await world.fake.wait_for(
        "POST", rf"/interactions/{interaction.id}/{interaction.token}/callback", timeout=WAIT
    )
    assert recorded.body["type"] == 8
    choices = recorded.body["data"]["choices"]
    assert choices[0] == {"name": "Hey Ya! — OutKast", "value": await hey_ya_id(world)}
    assert len(choices) <= 25 and all(1 <= len(c["name"]) <= 100 for c in choices)


async def test_artist_autocomplete_offers_artists(world):
    interaction = await world.fake.autocomplete(
        "soundalike",
        [option("title", "Hey"), option("artist", "outk", focused=True)],
        member=world.member,
        guild=world.guild,
    )
    recorded = await world.fake.wait_for(
        "POST", rf"/interactions/{interaction.id}/{interaction.token}/callback", timeout=WAIT
    )
    assert recorded.body["data"]["choices"][0] == {"name": "OutKast", "value": "OutKast"}


async def test_closing_the_bot_lets_an_acknowledged_answer_finish_and_be_logged(world, monkeypatch):
    """SIGTERM closes the bot: a request already acknowledged ("thinking…") still gets its
    answer, its log entry and its reactions before the HTTP session closes."""
    app, release = world.bot.app, asyncio.Event()
    answer = app.answer

    async def held_answer(*args, **kwargs):
        await release.wait()
        return await answer(*args, **kwargs)

    monkeypatch.setattr(app, "answer", held_answer)
    interaction = await world.soundalike("Hey Ya!")
    callback = await world.fake.wait_for(
        "POST", rf"/interactions/{interaction.id}/{interaction.token}/callback", timeout=WAIT
    )
    assert callback.body["type"] == 5  # deferred: "thinking…"
    closing = asyncio.create_task(world.bot.close())
    await asyncio.sleep(0.3)
    assert not closing.done()  # it waits for the request under way
    release.set()
    async with asyncio.timeout(WAIT):
        await closing
    message = world.fake.message(interaction.original_message_id)
    assert message["embeds"][0]["title"] == "Songs like Hey Ya! — OutKast"
    assert world.fake.reactions_added(interaction.original_message_id) == [THUMBS_UP, THUMBS_DOWN]
    logged = await world.feedback_log.query_for_message(interaction.original_message_id)
    assert logged is not None and logged.typed_title == "Hey Ya!"


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
    await world.fake.wait_for(
        "PUT",
        rf"/channels/\d+/messages/{message_id}/reactions/.+/@me",
        timeout=WAIT,
        where=lambda r: THUMBS_DOWN in r.path,
    )
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
    message_id = int((await world.answer_message(interaction))["id"])
    # The bot's own reactions are prompts, not ratings; another emoji is not a rating either.
    await world.fake.react(message_id, THUMBS_UP, user_id=world.fake.application_id, guild=world.guild)
    await world.fake.react(message_id, "🎸", user_id=world.member.user.id, guild=world.guild)
    await world.fake.react(message_id, "👍🏽", user_id=world.member.user.id, guild=world.guild)
    since = len(world.fake.requests)
    press = await world.fake.press(message_id, "soundalike:rate:2:down", member=world.dj, guild=world.guild)
    reply = await world.ephemeral_reply(press, since=since)
    assert reply.startswith("Noted: 👎 for suggestion 2")
    await rows_become(
        world,
        {
            (message_id, world.member.user.id, None, 1, 0),
            (message_id, world.dj.user.id, 2, -1, 0),
        },
    )
    # Taking the reaction back retracts that rating (the row stays, stamped).
    await world.fake.react(message_id, THUMBS_UP, user_id=world.member.user.id, guild=world.guild, remove=True)
    await rows_become(
        world,
        {
            (message_id, world.member.user.id, None, 1, 1),
            (message_id, world.dj.user.id, 2, -1, 0),
        },
    )


async def test_non_admin_retrain_is_refused(world):
    since = len(world.fake.requests)
    interaction = await world.fake.slash_command("retrain", [], member=world.member, guild=world.guild)
    assert await world.ephemeral_reply(interaction, since=since) == render.message_text(NotAdmin())
    assert not world.retrainer.running


async def test_ambiguous_title_asks_with_a_select_and_the_pick_answers(world):
    since = len(world.fake.requests)
    interaction = await world.soundalike("Hello")  # Adele's and Lionel Richie's
    recorded = await world.fake.wait_for(
        "POST", rf"/interactions/{interaction.id}/{interaction.token}/callback", since=since, timeout=WAIT
    )
    data = recorded.body["data"]
    assert data["flags"] & 64 and "Which one did you mean?" in data["content"]
    select = data["components"][0]["components"][0]
    assert re.fullmatch(r"soundalike:pick:\d+:balanced:0:-", select["custom_id"])
    labels = [o["label"] for o in select["options"]]
    assert "Hello — Adele" in labels and "Hello — Lionel Richie" in labels
    richie = next(o for o in select["options"] if o["label"] == "Hello — Lionel Richie")
    picker_id = interaction.original_message_id
    since = len(world.fake.requests)
    pick = await world.fake.press(
        picker_id, select["custom_id"], member=world.member, guild=world.guild, values=[richie["value"]]
    )
    followup = await world.fake.wait_for("POST", rf"/webhooks/\d+/{pick.token}", since=since, timeout=WAIT)
    assert followup.body["embeds"][0]["title"] == "Songs like Hello — Lionel Richie"
    assert not (followup.body.get("flags") or 0) & 64
    answer_id = pick.followup_message_ids[0]
    await world.fake.wait_for(
        "PUT",
        rf"/channels/\d+/messages/{answer_id}/reactions/[^/]+/@me",
        since=since,
        timeout=WAIT,
        where=lambda r: THUMBS_DOWN in r.path,
    )
    logged = await world.feedback_log.query_for_message(answer_id)
    assert logged is not None and logged.resolved_item_id == richie["value"]


async def test_an_artist_none_of_the_songs_is_by_is_said_and_the_member_picks(world):
    since = len(world.fake.requests)
    interaction = await world.soundalike("Hey Ya!", artist="Beyonce")
    recorded = await world.fake.wait_for(
        "POST", rf"/interactions/{interaction.id}/{interaction.token}/callback", since=since, timeout=WAIT
    )
    data = recorded.body["data"]
    assert data["flags"] & 64
    assert data["content"] == "No song by “Beyonce” matches “Hey Ya!”. Songs by other artists with that title:"
    select = data["components"][0]["components"][0]
    assert [o["label"] for o in select["options"]] == ["Hey Ya! — OutKast", "None of these"]
    assert not world.fake.sent("PATCH", rf"/webhooks/\d+/{interaction.token}/messages/@original")  # no answer


async def test_count_options_offer_the_configured_maximum(tmp_path, demo_env, demo_service):
    async with bot_world(tmp_path, demo_env.config, demo_service, max_results=6) as world:
        for command in world.fake.commands["global"]:
            for synced in command.get("options", []):
                if synced["name"] == "count":
                    assert (synced["min_value"], synced["max_value"]) == (1, 6), command["name"]
        counted = {c["name"] for c in world.fake.commands["global"] if any(o["name"] == "count" for o in c["options"])}
        assert counted == {"soundalike", "mix", "foryou"}
        interaction = await world.soundalike("Hey Ya!", count=6)
        message = await world.answer_message(interaction)
        assert message["embeds"][0]["description"].count("% match") == 6


async def test_a_far_match_is_a_private_pick_list_and_none_of_these_picks_nothing(world):
    since = len(world.fake.requests)
    interaction = await world.soundalike("everyone")  # not a song; Everlong is the nearest title
    recorded = await world.fake.wait_for(
        "POST", rf"/interactions/{interaction.id}/{interaction.token}/callback", since=since, timeout=WAIT
    )
    data = recorded.body["data"]
    assert data["flags"] & 64
    assert data["content"].startswith("No song is called “everyone”. Did you mean one of these?\n")
    assert "only the 787 songs of the shipped demo catalog" in data["content"] and "download-msd" in data["content"]
    select = data["components"][0]["components"][0]
    assert "Everlong — Foo Fighters" in [o["label"] for o in select["options"]]
    assert select["options"][-1]["label"] == "None of these" and select["options"][-1]["value"] == NONE_OF_THESE
    since = len(world.fake.requests)
    pick = await world.fake.press(
        interaction.original_message_id,
        select["custom_id"],
        member=world.member,
        guild=world.guild,
        values=[NONE_OF_THESE],
    )
    answered = await world.fake.wait_for(
        "POST", rf"/interactions/{pick.id}/{pick.token}/callback", since=since, timeout=WAIT
    )
    assert answered.body["type"] == 7  # the private menu message itself is edited
    assert answered.body["data"]["content"].startswith("Nothing picked, so no songs this time.")
    assert answered.body["data"]["components"] == []
    assert world.fake.message(interaction.original_message_id)["content"].startswith("Nothing picked")
    await asyncio.sleep(0.2)
    assert not world.fake.sent("POST", rf"/webhooks/\d+/{pick.token}", since=since)  # nothing public
    assert not world.fake.sent("POST", r"/channels/\d+/messages", since=since)


async def test_an_artist_alone_offers_their_songs_and_a_pick_answers(world):
    since = len(world.fake.requests)
    interaction = await world.soundalike("the beatles")
    recorded = await world.fake.wait_for(
        "POST", rf"/interactions/{interaction.id}/{interaction.token}/callback", since=since, timeout=WAIT
    )
    data = recorded.body["data"]
    assert data["flags"] & 64
    assert data["content"] == "“the beatles” is an artist: which of The Beatles's songs do you mean?"
    select = data["components"][0]["components"][0]
    songs = [o for o in select["options"] if o["value"] != NONE_OF_THESE]
    assert len(songs) == 4 and all(o["label"].endswith(" — The Beatles") for o in songs)  # all 4 in the demo
    assert select["options"][-1]["value"] == NONE_OF_THESE
    since = len(world.fake.requests)
    pick = await world.fake.press(
        interaction.original_message_id,
        select["custom_id"],
        member=world.member,
        guild=world.guild,
        values=[songs[0]["value"]],
    )
    followup = await world.fake.wait_for("POST", rf"/webhooks/\d+/{pick.token}", since=since, timeout=WAIT)
    assert followup.body["embeds"][0]["title"] == f"Songs like {songs[0]['label']}"


async def test_unknown_title_gets_an_ephemeral_note(world):
    since = len(world.fake.requests)
    interaction = await world.soundalike("qqqqzzzzxxxx")
    reply = await world.ephemeral_reply(interaction, since=since)
    assert reply.startswith("No song matches")
    assert "\nThese are demo data: they know only the 787 songs of the shipped demo catalog." in reply


async def test_reaction_and_button_on_a_message_from_before_a_restart_still_land(world):
    interaction = await world.soundalike("Hey Ya!")
    message_id = int((await world.answer_message(interaction))["id"])
    await world.restart()
    assert len(world.fake.identify_payloads) == 2
    await world.fake.react(message_id, THUMBS_DOWN, user_id=world.member.user.id, guild=world.guild)
    since = len(world.fake.requests)
    press = await world.fake.press(message_id, "soundalike:rate:3:up", member=world.member, guild=world.guild)
    assert (await world.ephemeral_reply(press, since=since)).startswith("Noted: 👍 for suggestion 3")
    await rows_become(
        world,
        {
            (message_id, world.member.user.id, None, -1, 0),
            (message_id, world.member.user.id, 3, 1, 0),
        },
    )


async def test_admin_commands_are_refused_in_direct_messages(world):
    since = len(world.fake.requests)
    interaction = await world.fake.slash_command("retrain", [], member=world.manager, guild=None)
    reply = await world.ephemeral_reply(interaction, since=since)
    assert reply == "That command works in a server, not in direct messages."


async def test_model_show_for_an_admin_role(world):
    since = len(world.fake.requests)
    interaction = await world.fake.slash_command("model", [], member=world.dj, guild=world.guild, subcommand="show")
    followup = await world.fake.wait_for("POST", rf"/webhooks/\d+/{interaction.token}", since=since, timeout=WAIT)
    embed = followup.body["embeds"][0]
    assert embed["title"] == f"Model {world.service.model.version}"
    assert followup.body["flags"] & 64


async def test_stats_counts_answers_and_ratings_for_this_server(world):
    interaction = await world.soundalike("Hey Ya!")
    message_id = int((await world.answer_message(interaction))["id"])
    await world.fake.react(message_id, THUMBS_UP, user_id=world.dj.user.id, guild=world.guild)
    await rows_become(world, {(message_id, world.dj.user.id, None, 1, 0)})
    since = len(world.fake.requests)
    stats = await world.fake.slash_command("stats", [], member=world.member, guild=world.guild)
    recorded = await world.fake.wait_for(
        "POST", rf"/interactions/{stats.id}/{stats.token}/callback", since=since, timeout=WAIT
    )
    field = recorded.body["data"]["embeds"][0]["fields"][0]
    assert field["name"] == f"model {world.service.model.version}"
    assert field["value"].startswith("1 answered · 👍 1 (100%) · 👎 0 (0%)")


async def test_forgetme_erases_the_members_log_and_confirms_privately(world):
    interaction = await world.soundalike("Hey Ya!")
    message_id = int((await world.answer_message(interaction))["id"])
    since = len(world.fake.requests)
    forget = await world.fake.slash_command("forgetme", [], member=world.member, guild=world.guild)
    reply = await world.ephemeral_reply(forget, since=since)
    assert reply.startswith("Done: I erased your 1 question and 0 ratings")
    assert await world.feedback_log.query_for_message(message_id) is None


@pytest.mark.slow
async def test_admin_retrain_swaps_the_model_while_soundalike_keeps_answering(tmp_path, demo_env):
    """The real `python -m recommender retrain` in a subprocess, on a copy of the demo data."""
    from recommender.config import load_config
    from recommender.service import SoundalikeService

    shutil.copytree(demo_env.config.data_root, tmp_path / "data")
    config_path = tmp_path / "config.toml"
    config_path.write_text(
        f'[data]\nroot = "{tmp_path / "data"}"\n[bot]\ndatabase = "{tmp_path / "feedback.sqlite3"}"\n'
        "promotion_tolerance = 1.0\n",  # promote whatever the figures say: this test is about the swap
        encoding="utf-8",
    )
    config = load_config(config_path)
    service = await asyncio.to_thread(SoundalikeService.open, config)
    before = service.model.version
    async with bot_world(tmp_path, config, service, config_path=config_path) as world:
        liked = int((await world.answer_message(await world.soundalike("Hey Ya!")))["id"])
        await world.fake.react(liked, THUMBS_UP, user_id=world.member.user.id, guild=world.guild)
        await rows_become(world, {(liked, world.member.user.id, None, 1, 0)})

        retrain = await world.fake.slash_command("retrain", [], member=world.dj, guild=world.guild)
        started = await world.fake.wait_for(
            "POST", rf"/interactions/{retrain.id}/{retrain.token}/callback", timeout=WAIT
        )
        assert started.body["data"]["content"] == "Retraining: starting…"
        # While the retrain process works, the bot keeps answering.
        during = await world.answer_message(await world.soundalike("Hello", artist="Adele"))
        assert world.retrainer.running, "the retrain ended before the answer came; nothing was shown"
        assert f"model {before}" in during["embeds"][0]["footer"]["text"]

        finished = await world.fake.wait_for(
            "PATCH",
            rf"/webhooks/\d+/{retrain.token}/messages/@original",
            timeout=120,
            where=lambda r: not r.body["content"].startswith("Retraining"),
        )
        after = service.model.version
        assert after != before
        assert finished.body["content"].startswith(f"Retrained: now serving model {after}.")
        answer = await world.answer_message(await world.soundalike("Hey Ya!"))
        assert f"model {after}" in answer["embeds"][0]["footer"]["text"]


async def test_an_overloaded_server_is_told_busy_at_once(tmp_path, demo_env, demo_service):
    async with bot_world(tmp_path, demo_env.config, demo_service, per_guild_concurrency=1, max_queue=0) as world:
        gate = threading.Event()
        # Someone else's request of this server holds its only slot.
        holder = asyncio.create_task(world.pool.run(world.guild.id, gate.wait, WAIT))
        await asyncio.sleep(0)
        try:
            since = len(world.fake.requests)
            interaction = await world.soundalike("Hey Ya!")
            reply = await world.ephemeral_reply(interaction, since=since)
            assert re.fullmatch(r"Busy, try again in \d+ s\.", reply)
        finally:
            gate.set()
            await holder
        answer = await world.answer_message(await world.soundalike("Hey Ya!"))
        assert answer["embeds"][0]["title"] == "Songs like Hey Ya! — OutKast"


async def test_a_title_with_a_lone_surrogate_is_answered_and_logged(world):
    # JSON may carry "\udcff" escapes, which decode to a lone surrogate that SQLite cannot store.
    interaction = await world.soundalike("Hey Ya!\udcff")
    message = await world.answer_message(interaction)  # its last step is the reactions, after logging
    logged = await world.feedback_log.query_for_message(int(message["id"]))
    assert logged is not None and logged.typed_title == "Hey Ya!\ufffd"


async def test_a_failed_retrain_tells_the_admin_why_without_server_paths(tmp_path, demo_env):
    """The real `python -m recommender retrain` on a copy of the demo data whose plays are gone."""
    import json

    from recommender.config import load_config
    from recommender.service import SoundalikeService

    shutil.copytree(demo_env.config.data_root, tmp_path / "data")
    config_path = tmp_path / "config.toml"
    config_path.write_text(
        f'[data]\nroot = "{tmp_path / "data"}"\n[bot]\ndatabase = "{tmp_path / "log.sqlite3"}"\n', encoding="utf-8"
    )
    config = load_config(config_path)
    service = await asyncio.to_thread(SoundalikeService.open, config)  # serving needs no interactions.npz
    (config.datasets_dir / "demo" / "interactions.npz").unlink()
    async with bot_world(tmp_path, config, service, config_path=config_path) as world:
        retrain = await world.fake.slash_command("retrain", [], member=world.dj, guild=world.guild)
        finished = await world.fake.wait_for(
            "PATCH",
            rf"/webhooks/\d+/{retrain.token}/messages/@original",
            timeout=60,
            where=lambda r: not r.body["content"].startswith("Retraining"),
        )
        assert (
            render.message_text("The retrain failed (exit status 2): demo: interactions.npz is missing")
            in finished.body["content"]
        )
        sent = [json.dumps(r.body, ensure_ascii=False) for r in world.fake.requests if r.body]
    assert not [body for body in sent if str(tmp_path) in body], "a server path reached Discord"
