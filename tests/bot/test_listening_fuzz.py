"""Any text as a ListenBrainz username in /link: a private answer or a clear message, never a
crash or a ping; a link is kept only for a name the (fake) ListenBrainz knows.

One bot and one fake ListenBrainz serve all examples, on an event loop in a background thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re

import pytest
from bot_harness import WAIT, LoopThread, bot_world
from fake_discord import option
from fake_listenbrainz import FakeListenBrainz, listen, running
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import render

KNOWN = {"rob": [listen("Hey Ya!", "OutKast")], "Ünïcode Ñame": [], "a/b?c#d": []}
NASTY = ["", " ", "rob", " rob", "x" * 10_000, "@everyone", "<@123456789012345678>", "**rob**", "..", "a/b?c#d"]
PINGS = re.compile(r"@everyone|@here|<@[!&]?\d+>")


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory, demo_env, demo_service):
    runner = LoopThread()
    stack = contextlib.AsyncExitStack()

    async def start():
        fake = await stack.enter_async_context(running(FakeListenBrainz(users=KNOWN)))
        settings_ = dataclasses.replace(
            demo_env.config.listenbrainz, api_url=fake.url, min_interval_seconds=0.0, total_seconds=3.0
        )
        config = dataclasses.replace(demo_env.config, listenbrainz=settings_)
        world = await stack.enter_async_context(bot_world(tmp_path_factory.mktemp("lbfuzz"), config, demo_service))
        return world

    world = runner.run(start())
    try:
        yield runner, world
    finally:
        runner.run(stack.aclose())
        runner.close()


def private_reply(world, token: str, since: int) -> dict:
    for recorded in world.fake.requests[since:]:
        body = recorded.body
        if token in recorded.path and isinstance(body, dict) and "content" in body and "/webhooks/" in recorded.path:
            return body
    raise AssertionError("no private reply")


@settings(max_examples=50)
@given(typed=st.one_of(st.sampled_from(NASTY + list(KNOWN)), st.text(max_size=100)))
def test_link_any_username_answers_privately_or_explains(fuzz, typed):
    runner, world = fuzz

    async def ask():
        since = len(world.fake.requests)
        await world.bot.app.unlink_listenbrainz(world.member.user.id)
        interaction = await world.fake.slash_command(
            "link", [option("username", typed)], member=world.member, guild=world.guild, subcommand="listenbrainz"
        )
        await world.fake.wait_until(
            lambda: world.fake.sent("POST", rf"/webhooks/\d+/{interaction.token}", since=since), timeout=WAIT
        )
        stored = await world.feedback_log.linked_account(world.member.user.id, "listenbrainz")
        return private_reply(world, interaction.token, since), stored

    body, stored = runner.run(ask())
    content = body["content"]
    assert body.get("allowed_mentions") == {"parse": []}
    assert (body.get("flags") or 0) & 64, "a link is the member's business: private"
    assert content.strip() and len(content) <= render.MESSAGE_CONTENT and not PINGS.search(content)
    assert "Something went wrong on my side" not in content
    if typed in KNOWN:
        assert stored is not None and stored.username == typed and content.startswith("Linked ListenBrainz account")
    else:
        assert stored is None, "a name ListenBrainz does not know is never kept"
