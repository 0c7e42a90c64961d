"""A small fake Discord for end-to-end tests of the real discord.py client.

    async with FakeDiscord() as fake, pointed_at(fake):
        ...  # start the bot; it talks to 127.0.0.1 only

``pointed_at`` patches two private discord.py class attributes (the REST base URL and the
gateway URL). ``check_discord_py`` says loudly when an upgrade moved them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import discord
import discord.gateway
import discord.http
import yarl

from .payloads import MANAGE_GUILD, FakeGuild, FakeMember, FakeUser, option, shard_of, snowflake, snowflake_on_shard
from .server import FakeDiscord, PendingInteraction, Recorded

# The fake was written against this release; see tests/bot/test_fake_discord_smoke.py.
PINNED_DISCORD_PY = "2.7.1"

__all__ = [
    "MANAGE_GUILD",
    "PINNED_DISCORD_PY",
    "FakeDiscord",
    "FakeGuild",
    "FakeMember",
    "FakeUser",
    "PendingInteraction",
    "Recorded",
    "check_discord_py",
    "option",
    "pointed_at",
    "shard_of",
    "snowflake",
    "snowflake_on_shard",
]


def check_discord_py() -> None:
    """Raise AssertionError naming what changed if discord.py no longer fits the fake."""
    problems = []
    if discord.__version__ != PINNED_DISCORD_PY:
        problems.append(f"discord.py is {discord.__version__}, the fake was written for {PINNED_DISCORD_PY}")
    if not isinstance(getattr(discord.http.Route, "BASE", None), str):
        problems.append("discord.http.Route.BASE (REST base URL) is gone")
    if not isinstance(getattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", None), yarl.URL):
        problems.append("discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY (gateway URL) is gone")
    if problems:
        raise AssertionError(
            "The fake Discord in tests/fake_discord no longer matches discord.py: "
            + "; ".join(problems)
            + ". Re-check shared notes/offline-discord-testing.md against the new release, update the fake, "
            "then PINNED_DISCORD_PY."
        )


@contextlib.contextmanager
def pointed_at(fake: FakeDiscord) -> Iterator[None]:
    """Send discord.py's REST calls and gateway connection to ``fake`` while inside."""
    check_discord_py()
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway
