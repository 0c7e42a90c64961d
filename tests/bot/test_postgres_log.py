"""The bot with its log on PostgreSQL (``[bot] database = "postgresql://..."``), end to end: the
real discord.py client against the fake Discord, a real PostgreSQL server (tests/conftest.py).
Answers, a reaction, a rating button, a retracted reaction, /stats and /forgetme all go
through the server, and what lands there is read back through a connection of its own."""

from __future__ import annotations

import asyncio

import pytest
from bot_harness import WAIT, bot_world
from feedback_logs import rows

pytestmark = pytest.mark.asyncio

THUMBS_UP = "👍"


async def ratings_become(url: str, expected: set[tuple]) -> None:
    """Wait (bounded) until the feedback table holds exactly ``expected``."""
    found: set[tuple] = set()
    for _ in range(int(WAIT / 0.05)):
        statement = "SELECT message_id, user_id, position, value, retracted_at IS NOT NULL FROM feedback"
        if (found := set(await asyncio.to_thread(rows, url, statement))) == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"feedback rows stayed {sorted(found)}, expected {sorted(expected)}")


async def test_the_bot_logs_rates_counts_and_forgets_on_postgres(tmp_path, demo_env, demo_service, postgres_server):
    url = postgres_server.fresh_url()
    async with bot_world(tmp_path, demo_env.config, demo_service, database=url) as world:
        assert world.config.database_location == url
        assert not (tmp_path / "feedback.sqlite3").exists()
        interaction = await world.soundalike("Hey Ya!")
        message_id = int((await world.answer_message(interaction))["id"])
        logged = rows(url, "SELECT user_id, command, typed_title FROM queries WHERE message_id = ?", (message_id,))
        assert logged == [(world.member.user.id, "soundalike", "Hey Ya!")]

        await world.fake.react(message_id, THUMBS_UP, user_id=world.dj.user.id, guild=world.guild)
        since = len(world.fake.requests)
        press = await world.fake.press(message_id, "soundalike:rate:2:down", member=world.manager, guild=world.guild)
        assert (await world.ephemeral_reply(press, since=since)).startswith("Noted: 👎 for suggestion 2")
        await ratings_become(
            url, {(message_id, world.dj.user.id, None, 1, False), (message_id, world.manager.user.id, 2, -1, False)}
        )

        since = len(world.fake.requests)
        stats = await world.fake.slash_command("stats", [], member=world.member, guild=world.guild)
        recorded = await world.fake.wait_for(
            "POST", rf"/interactions/{stats.id}/{stats.token}/callback", since=since, timeout=WAIT
        )
        field = recorded.body["data"]["embeds"][0]["fields"][0]
        assert field["value"].startswith("1 answered · 👍 1 (50%) · 👎 1 (50%)")

        await world.fake.react(message_id, THUMBS_UP, user_id=world.dj.user.id, guild=world.guild, remove=True)
        await ratings_become(
            url, {(message_id, world.dj.user.id, None, 1, True), (message_id, world.manager.user.id, 2, -1, False)}
        )

        since = len(world.fake.requests)
        forget = await world.fake.slash_command("forgetme", [], member=world.member, guild=world.guild)
        reply = await world.ephemeral_reply(forget, since=since)
        assert reply.startswith("Done: I erased your 1 question and 0 ratings")
        assert rows(url, "SELECT count(*) FROM queries") == [(0,)]
        assert rows(url, "SELECT count(*) FROM feedback") == [(0,)]  # ratings of an erased answer go with it
