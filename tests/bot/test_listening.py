"""/link listenbrainz, /foryou with a member's own listens, /unlink and /forgetme, end to end:
the real bot against the fake Discord and a fake ListenBrainz, both on 127.0.0.1."""

from __future__ import annotations

import dataclasses

import pytest
from bot_harness import bot_world
from fake_discord import option
from fake_listenbrainz import FakeListenBrainz, listen, running

pytestmark = pytest.mark.asyncio

# Seven listens, newest first: five are catalog songs of the demo (three songs), two are not.
ROBS_LISTENS = [
    listen("Hey Ya!", "OutKast", at=1_700_000_700),
    listen("Song Nobody Knows", "Garage Band", at=1_700_000_600),
    listen("Hello", "Adele", at=1_700_000_500),
    listen("Hey Ya!", "OutKast", at=1_700_000_400),
    listen("Crazy in Love", "Beyoncé", at=1_700_000_300),
    listen("Another Unknown", "Nobody", at=1_700_000_200),
    listen("Hey Ya!", "OutKast", at=1_700_000_100),
]


@pytest.fixture
async def world(tmp_path, demo_env, demo_service):
    fake = FakeListenBrainz(users={"rob": ROBS_LISTENS, "quiet": []})
    async with running(fake):
        settings = dataclasses.replace(
            demo_env.config.listenbrainz,
            api_url=fake.url,
            min_interval_seconds=0.0,
            total_seconds=3.0,
            timeout_seconds=1.0,
        )
        config = dataclasses.replace(demo_env.config, listenbrainz=settings)
        async with bot_world(tmp_path, config, demo_service) as world:
            world.listenbrainz = fake
            yield world


async def privately(world, command: str, options: list[dict], *, subcommand: str | None = None, who=None) -> str:
    since = len(world.fake.requests)
    interaction = await world.fake.slash_command(
        command, options, member=who or world.member, guild=world.guild, subcommand=subcommand
    )
    return await world.ephemeral_reply(interaction, since=since)


async def link(world, username: str, who=None) -> str:
    return await privately(world, "link", [option("username", username)], subcommand="listenbrainz", who=who)


def description(message: dict) -> str:
    return message["embeds"][0]["description"]


async def test_link_then_foryou_uses_the_members_listens_and_counts_them_truly(world):
    unknown = await link(world, "nobody-at-all")
    assert unknown.startswith("ListenBrainz has no user called “nobody-at-all”")
    assert await world.feedback_log.linked_account(world.member.user.id, "listenbrainz") is None

    linked = await link(world, "rob")
    assert linked.startswith("Linked ListenBrainz account rob (7 public listens).")
    assert "only the username and when you linked it" in linked
    stored = await world.feedback_log.linked_account(world.member.user.id, "listenbrainz")
    assert stored is not None and stored.username == "rob"

    # No 👍 at all: the three songs played are enough for /foryou.
    interaction = await world.fake.slash_command("foryou", [option("count", 5)], member=world.member, guild=world.guild)
    playlist = await world.answer_message(interaction)
    text = description(playlist)
    assert "ListenBrainz rob: 5 of your 7 latest listens matched the catalog, 3 songs." in text
    reasons = [line[2:] for line in text.splitlines() if line.startswith("↳ ")]
    assert reasons and all(reason.startswith("Because you played ") for reason in reasons)
    logged = await world.feedback_log.query_for_message(int(playlist["id"]))
    assert logged is not None and len(logged.suggestions) == 5
    played = {world.service.resolve(t, a).best.item_id for t, a in (("Hey Ya!", "OutKast"), ("Hello", "Adele"))}
    assert not played & {s.item_id for s in logged.suggestions}  # what they play is not suggested back
    listens_calls = [call for call in world.listenbrainz.calls if call.path.endswith("/listens")]
    assert len(listens_calls) == 1 and listens_calls[0].query == {"count": "100"}

    # Asked again within cache_seconds: no second call to ListenBrainz.
    again = await world.fake.slash_command("foryou", [], member=world.member, guild=world.guild)
    await world.answer_message(again)
    assert len([call for call in world.listenbrainz.calls if call.path.endswith("/listens")]) == 1


async def test_unlink_and_forgetme_remove_the_link(world):
    assert (await privately(world, "unlink", [])) == "You have no ListenBrainz account linked."
    await link(world, "rob")
    unlinked = await privately(world, "unlink", [])
    assert unlinked.startswith("Unlinked ListenBrainz account rob")
    assert await world.feedback_log.linked_account(world.member.user.id, "listenbrainz") is None
    refused = await privately(world, "foryou", [])
    assert refused.startswith("You have liked 0 suggestions so far; /foryou needs at least 3.")

    await link(world, "rob")
    forgotten = await privately(world, "forgetme", [])
    assert forgotten.endswith("I also unlinked your ListenBrainz account.")
    assert await world.feedback_log.linked_account(world.member.user.id, "listenbrainz") is None


async def test_foryou_says_why_when_listenbrainz_is_down_or_the_account_is_empty(world):
    assert (await link(world, "quiet")).startswith("Linked ListenBrainz account quiet (0 public listens). It has no")
    quiet = await privately(world, "foryou", [])
    assert quiet.startswith("You have liked 0 suggestions so far, and 0 other songs you played on ListenBrainz are")
    assert "ListenBrainz quiet: no public listens yet" in quiet

    await link(world, "rob")
    world.listenbrainz.fail_next.extend([(503, {})] * 5)
    down = await privately(world, "foryou", [])
    assert "ListenBrainz rob: your listens could not be read: ListenBrainz answered 503" in down
    tries = [call for call in world.listenbrainz.calls if call.path == "/1/user/rob/listens"]
    assert len(tries) == world.bot.config.listenbrainz.attempts  # tried again, within its bound


async def test_link_while_listenbrainz_is_down_keeps_nothing(world):
    world.listenbrainz.fail_next.extend([(502, {})] * 5)
    answer = await link(world, "rob")
    assert answer.startswith("ListenBrainz answered 502")
    assert await world.feedback_log.linked_account(world.member.user.id, "listenbrainz") is None
