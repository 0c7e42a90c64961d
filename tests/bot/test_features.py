"""End to end through the fake Discord: /mix, /foryou, novelty and artist options, More,
dislikes that stick, /block and /unblock, and the /stats chart.

The real discord.py client and the real service on the demo data, as in test_bot_e2e.py.
"""

from __future__ import annotations

import re
import statistics

import pytest
from bot_harness import WAIT, bot_world
from fake_discord import option

from bot import render
from bot.charts import FILENAME
from bot.checks import NotAdmin
from bot.cogs.stats import NOTHING_TO_CHART

pytestmark = pytest.mark.asyncio

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def world(tmp_path, demo_env, demo_service):
    async with bot_world(tmp_path, demo_env.config, demo_service) as world:
        yield world


def song_id(world, title: str, artist: str) -> str:
    resolution = world.service.resolve(title, artist)
    assert resolution.best is not None and resolution.best.title == title, title
    return resolution.best.item_id


async def shown(world, message: dict) -> list[str]:
    """The item ids an answer message shows, in order, as logged."""
    logged = await world.feedback_log.query_for_message(int(message["id"]))
    assert logged is not None, "the answer was not logged"
    return [s.item_id for s in logged.suggestions]


async def ask(world, command: str, options: list[dict], who=None) -> dict:
    """Run a command that answers publicly; return the answer message once logged and reacted to."""
    interaction = await world.fake.slash_command(command, options, member=who or world.member, guild=world.guild)
    return await world.answer_message(interaction)


async def ask_privately(world, command: str, options: list[dict], who=None) -> str:
    since = len(world.fake.requests)
    interaction = await world.fake.slash_command(command, options, member=who or world.member, guild=world.guild)
    return await world.ephemeral_reply(interaction, since=since)


async def press(world, message: dict, custom_id: str, who=None) -> str:
    """Press a button on a message; return the private reply."""
    since = len(world.fake.requests)
    pending = await world.fake.press(int(message["id"]), custom_id, member=who or world.member, guild=world.guild)
    return await world.ephemeral_reply(pending, since=since)


async def press_more(world, message: dict, who=None) -> dict:
    pending = await world.fake.press(
        int(message["id"]), "soundalike:more", member=who or world.member, guild=world.guild
    )
    return await world.answer_message(pending)


def reasons(message: dict) -> list[str]:
    return [line[2:] for line in message["embeds"][0]["description"].splitlines() if line.startswith("↳ ")]


def custom_ids(message: dict) -> list[str]:
    return [c["custom_id"] for row in message["components"] for c in row["components"]]


# -- /mix ----------------------------------------------------------------------------------


async def test_mix_leaves_the_seeds_out_and_each_reason_names_its_seeds(world):
    hey_ya = song_id(world, "Hey Ya!", "OutKast")
    hello = song_id(world, "Hello", "Adele")
    message = await ask(world, "mix", [option("song1", hey_ya), option("song2", hello), option("song3", "Hey Jude")])
    jude = song_id(world, "Hey Jude", "The Beatles")
    assert message["embeds"][0]["title"] == "A mix of Hey Ya!, Hello and Hey Jude"
    suggested = await shown(world, message)
    assert len(suggested) == 5 and not {hey_ya, hello, jude} & set(suggested)
    for reason in reasons(message):
        assert reason.startswith("From ") and any(t in reason for t in ("Hey Ya!", "Hello", "Hey Jude")), reason
    logged = await world.feedback_log.query_for_message(int(message["id"]))
    assert logged.command == "mix" and logged.params["seeds"] == [hey_ya, hello, jude]
    assert "soundalike:rate:1:up" in custom_ids(message) and "soundalike:more" in custom_ids(message)


async def test_mix_song_autocomplete_offers_catalog_songs(world):
    interaction = await world.fake.autocomplete(
        "mix", [option("song1", "x"), option("song2", "hey y", focused=True)], member=world.member, guild=world.guild
    )
    recorded = await world.fake.wait_for(
        "POST", rf"/interactions/{interaction.id}/{interaction.token}/callback", timeout=WAIT
    )
    assert recorded.body["data"]["choices"][0] == {
        "name": "Hey Ya! — OutKast",
        "value": song_id(world, "Hey Ya!", "OutKast"),
    }


async def test_mix_of_one_song_twice_or_an_unknown_title_is_a_private_note(world):
    hey_ya = song_id(world, "Hey Ya!", "OutKast")
    twice = await ask_privately(world, "mix", [option("song1", hey_ya), option("song2", "Hey Ya!")])
    assert twice.startswith("A mix needs at least two different songs")
    unknown = await ask_privately(world, "mix", [option("song1", hey_ya), option("song2", "qqqqzzzzxxxx")])
    assert unknown.startswith("No song matches “qqqqzzzzxxxx”.")


# -- /foryou -------------------------------------------------------------------------------


async def test_foryou_asks_for_likes_first_then_leaves_out_every_rated_song(world):
    refused = await ask_privately(world, "foryou", [])
    assert refused.startswith("You have liked 0 suggestions so far; /foryou needs at least 3.")
    assert "/soundalike" in refused and "👍" in refused
    answer = await ask(world, "soundalike", [option("title", "Hey Ya!")])
    rated = await shown(world, answer)
    for position in (1, 2, 3):
        assert (await press(world, answer, f"soundalike:rate:{position}:up")).startswith("Noted: 👍")
    assert (await press(world, answer, "soundalike:rate:4:down")).startswith("Noted: 👎")
    playlist = await ask(world, "foryou", [option("count", 8)])
    assert playlist["embeds"][0]["title"] == "Songs for listener"
    suggested = await shown(world, playlist)
    assert len(suggested) == 8 and not set(rated[:4]) & set(suggested)
    assert all(reason.startswith("Because you liked ") for reason in reasons(playlist))
    # Likes count per member: another member still has none.
    assert (await ask_privately(world, "foryou", [], who=world.dj)).startswith("You have liked 0 suggestions")


# -- novelty, artist options ---------------------------------------------------------------


async def test_novelty_changes_the_order_towards_less_known_songs(world):
    def mean_listeners(ids: list[str]) -> float:
        return statistics.mean(world.service.candidate(i).listeners for i in ids)

    # Hey Jude, not Hey Ya!: Hey Ya!'s nearest songs are all hip-hop hits, so its first page holds
    # the same five songs from popular to deep; Hey Jude's neighbours span hits and deep cuts.
    popular = await ask(world, "soundalike", [option("title", "Hey Jude"), option("novelty", "popular")])
    deep = await ask(world, "soundalike", [option("title", "Hey Jude"), option("novelty", "deep")])
    popular_ids, deep_ids = await shown(world, popular), await shown(world, deep)
    assert popular_ids != deep_ids
    assert mean_listeners(deep_ids) < mean_listeners(popular_ids)
    assert "deep cuts" in deep["embeds"][0]["footer"]["text"]
    logged = await world.feedback_log.query_for_message(int(deep["id"]))
    assert logged.params["novelty"] == "deep"
    mix = await ask(world, "mix", [option("song1", "Hey Ya!"), option("song2", "Hey Jude"), option("novelty", "deep")])
    balanced_mix = await ask(world, "mix", [option("song1", "Hey Ya!"), option("song2", "Hey Jude")])
    assert mean_listeners(await shown(world, mix)) < mean_listeners(await shown(world, balanced_mix))


async def test_leave_out_the_seeds_artist_and_the_per_artist_cap(world):
    def artists(ids: list[str]) -> list[str]:
        return [world.service.candidate(i).artist for i in ids]

    usual = artists(
        await shown(world, await ask(world, "soundalike", [option("title", "Hey Ya!"), option("count", 10)]))
    )
    assert "OutKast" in usual  # the test means something only if the seed's artist shows up at all
    without = artists(
        await shown(
            world,
            await ask(
                world,
                "soundalike",
                [option("title", "Hey Ya!"), option("count", 10), option("leave_out_artist", True, kind=5)],
            ),
        )
    )
    assert "OutKast" not in without and len(without) == 10
    capped = artists(
        await shown(
            world,
            await ask(world, "soundalike", [option("title", "Hey Ya!"), option("count", 10), option("per_artist", 1)]),
        )
    )
    assert len(set(capped)) == len(capped) == 10


async def test_a_pick_from_the_menu_keeps_the_options(world):
    since = len(world.fake.requests)
    interaction = await world.fake.slash_command(
        "soundalike",
        [option("title", "Hello"), option("novelty", "deep"), option("leave_out_artist", True, kind=5)],
        member=world.member,
        guild=world.guild,
    )
    recorded = await world.fake.wait_for(
        "POST", rf"/interactions/{interaction.id}/{interaction.token}/callback", since=since, timeout=WAIT
    )
    select = recorded.body["data"]["components"][0]["components"][0]
    assert select["custom_id"] == "soundalike:pick:5:deep:1:-"
    adele = next(o["value"] for o in select["options"] if o["label"] == "Hello — Adele")
    pick = await world.fake.press(
        interaction.original_message_id, select["custom_id"], member=world.member, guild=world.guild, values=[adele]
    )
    await world.fake.wait_for("POST", rf"/webhooks/\d+/{pick.token}", timeout=WAIT)
    answer_id = pick.followup_message_ids[0]
    await world.fake.wait_for(
        "PUT", rf"/channels/\d+/messages/{answer_id}/reactions/[^/]+/@me", timeout=WAIT, where=lambda r: "👎" in r.path
    )  # the last step, after logging
    logged = await world.feedback_log.query_for_message(answer_id)
    assert logged.params["novelty"] == "deep" and logged.params["exclude_seed_artist"] is True
    assert "Adele" not in {world.service.candidate(s.item_id).artist for s in logged.suggestions}


# -- More ----------------------------------------------------------------------------------


async def test_more_shows_the_next_page_and_still_works_after_a_restart(world):
    first = await ask(world, "soundalike", [option("title", "Hey Ya!"), option("novelty", "deep")])
    second = await press_more(world, first)
    assert second["id"] != first["id"]
    assert second["embeds"][0]["title"] == "Songs like Hey Ya! — OutKast (6–10)"
    assert second["embeds"][0]["description"].startswith("**6. ")
    assert "soundalike:rate:6:up" in custom_ids(second) and "soundalike:rate:1:up" not in custom_ids(second)
    first_ids, second_ids = await shown(world, first), await shown(world, second)
    assert len(second_ids) == 5 and not set(first_ids) & set(second_ids)
    expected = world.service.similar(song_id(world, "Hey Ya!", "OutKast"), count=5, offset=5, novelty="deep")
    assert second_ids == [s.item_id for s in expected.suggestions]  # same query, same knob, next page
    logged = await world.feedback_log.query_for_message(int(second["id"]))
    assert logged.params["offset"] == 5 and logged.params["novelty"] == "deep"
    # A rating button on the second page rates position 6 of that page.
    assert (await press(world, second, "soundalike:rate:6:up")).startswith("Noted: 👍 for suggestion 6")

    await world.restart()
    third = await press_more(world, second)
    third_ids = await shown(world, third)
    assert third["embeds"][0]["title"].endswith("(11–15)")
    assert len(third_ids) == 5 and not (set(first_ids) | set(second_ids)) & set(third_ids)
    # More on a mix asks for the same seeds again.
    mix = await ask(world, "mix", [option("song1", "Hey Ya!"), option("song2", "Hey Jude")])
    mix_more = await press_more(world, mix)
    assert mix_more["embeds"][0]["title"] == "A mix of Hey Ya! and Hey Jude (6–10)"
    assert not set(await shown(world, mix)) & set(await shown(world, mix_more))


async def test_the_last_page_says_there_is_no_more_and_offers_no_more_button(world):
    from bot import render
    from recommender.service import END_OF_LIST

    page = await ask(world, "soundalike", [option("title", "Hey Ya!"), option("count", 10)])
    pages = [page]
    while "soundalike:more" in custom_ids(page):
        assert len(pages) < 20, "the list must end before the last offered position"
        page = await press_more(world, page)
        pages.append(page)
    description = page["embeds"][0]["description"]
    assert description.startswith(render.safe(END_OF_LIST, 300)), "the last page says so"
    assert all(END_OF_LIST not in p["embeds"][0]["description"] for p in pages[:-1])
    assert not any(re.search(r"\b[0-4]% match", p["embeds"][0]["description"]) for p in pages)
    logged = [await shown(world, p) for p in pages]
    assert len({item for ids in logged for item in ids}) == sum(map(len, logged)), "no song twice"


async def test_more_on_someone_elses_playlist_is_refused(world):
    answer = await ask(world, "soundalike", [option("title", "Hey Ya!")])
    for position in (1, 2, 3):
        await press(world, answer, f"soundalike:rate:{position}:up")
    playlist = await ask(world, "foryou", [])
    refused = await press(world, playlist, "soundalike:more", who=world.dj)
    assert refused == "That playlist was made for someone else; ask /foryou for your own."
    mine = await press_more(world, playlist)
    assert mine["embeds"][0]["title"] == "Songs for listener (6–10)"


# -- dislikes that stick, blocks -----------------------------------------------------------


async def test_a_thumbs_down_on_a_suggestion_sticks_for_that_member_and_seed_until_taken_back(world):
    answer = await ask(world, "soundalike", [option("title", "Hey Ya!")])
    disliked = (await shown(world, answer))[1]
    reply = await press(world, answer, "soundalike:rate:2:down")
    assert reply.startswith("Noted: 👎 for suggestion 2. I will leave it out of your answers for this song")
    again = await shown(world, await ask(world, "soundalike", [option("title", "Hey Ya!")]))
    assert disliked not in again and len(again) == 5
    others = await shown(world, await ask(world, "soundalike", [option("title", "Hey Ya!")], who=world.dj))
    assert others[1] == disliked  # another member still sees it, where it was
    taken_back = await press(world, answer, "soundalike:rate:2:down")
    assert taken_back == "Took back your 👎 for suggestion 2: it may be suggested to you again."
    restored = await shown(world, await ask(world, "soundalike", [option("title", "Hey Ya!")]))
    assert restored[1] == disliked


async def test_block_by_an_admin_keeps_a_song_out_of_every_answer_in_the_server(world):
    first = await ask(world, "soundalike", [option("title", "Hey Ya!")])
    blocked = (await shown(world, first))[0]
    name = world.service.candidate(blocked)
    refused = await ask_privately(world, "block", [option("song", blocked)])
    assert refused == render.message_text(NotAdmin())
    reply = await ask_privately(world, "block", [option("song", blocked)], who=world.dj)
    assert reply.startswith(f"Blocked {name.title} — {name.artist}: Soundalike will not suggest it")
    for who in (world.member, world.dj, world.manager):
        assert blocked not in await shown(world, await ask(world, "soundalike", [option("title", "Hey Ya!")], who=who))
    mix = await ask(world, "mix", [option("song1", "Hey Ya!"), option("song2", "Hey Jude")])
    assert blocked not in await shown(world, mix)
    assert blocked not in await shown(world, await press_more(world, first))

    # /unblock offers the blocked songs, and restores the song.
    interaction = await world.fake.autocomplete(
        "unblock", [option("song", "", focused=True)], member=world.manager, guild=world.guild
    )
    recorded = await world.fake.wait_for(
        "POST", rf"/interactions/{interaction.id}/{interaction.token}/callback", timeout=WAIT
    )
    assert recorded.body["data"]["choices"] == [{"name": name.label, "value": blocked}]
    # A member who may not unblock is not shown what the server blocked either.
    since = len(world.fake.requests)
    peek = await world.fake.autocomplete(
        "unblock", [option("song", "", focused=True)], member=world.member, guild=world.guild
    )
    recorded = await world.fake.wait_for(
        "POST", rf"/interactions/{peek.id}/{peek.token}/callback", since=since, timeout=WAIT
    )
    assert recorded.body["data"]["choices"] == []
    assert (await ask_privately(world, "unblock", [option("song", blocked)], who=world.member)) == render.message_text(
        NotAdmin()
    )
    reply = await ask_privately(world, "unblock", [option("song", blocked)], who=world.manager)
    assert reply.startswith(f"Unblocked {name.title} — {name.artist}")
    assert (await shown(world, await ask(world, "soundalike", [option("title", "Hey Ya!")])))[0] == blocked


# -- /stats chart --------------------------------------------------------------------------


async def test_stats_attaches_a_png_chart(world):
    answer = await ask(world, "soundalike", [option("title", "Hey Ya!")])
    await press(world, answer, "soundalike:rate:1:up")
    await press(world, answer, "soundalike:rate:2:down")
    since = len(world.fake.requests)
    stats = await world.fake.slash_command("stats", [], member=world.member, guild=world.guild)
    first = await world.fake.wait_for(
        "POST", rf"/interactions/{stats.id}/{stats.token}/callback", since=since, timeout=WAIT
    )
    assert first.body["data"]["embeds"][0]["fields"][0]["name"].startswith("model ")
    edit = await world.fake.wait_for(
        "PATCH", rf"/webhooks/\d+/{stats.token}/messages/@original", since=since, timeout=WAIT
    )
    png = edit.files[FILENAME]
    assert png.startswith(PNG_SIGNATURE) and len(png) > 5_000
    assert edit.body["embeds"][0]["image"]["url"] == f"attachment://{FILENAME}"
    assert world.fake.message(stats.original_message_id)["attachments"][0]["filename"] == FILENAME


async def test_stats_with_nothing_yet_says_so_instead_of_an_empty_chart(world):
    since = len(world.fake.requests)
    stats = await world.fake.slash_command("stats", [], member=world.member, guild=world.guild)
    first = await world.fake.wait_for(
        "POST", rf"/interactions/{stats.id}/{stats.token}/callback", since=since, timeout=WAIT
    )
    embed = first.body["data"]["embeds"][0]
    assert embed["description"].startswith("No questions answered here yet")
    assert embed["footer"]["text"] == NOTHING_TO_CHART
    # The reply is complete: a later command is answered, and no chart edit ever came.
    await ask(world, "soundalike", [option("title", "Hey Ya!")])
    assert not world.fake.sent("PATCH", rf"/webhooks/\d+/{stats.token}/messages/@original", since=since)
