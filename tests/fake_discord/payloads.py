"""Builders for the JSON payloads the fake Discord sends to the bot.

Only the fields discord.py 2.7.1 reads are filled in (see
shared notes/offline-discord-testing.md); everything else is left out on purpose so
that the payloads stay readable.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

# Permission bits used by the tests (Discord's values).
MANAGE_GUILD = 1 << 5
SEND_MESSAGES = 1 << 11
EVERYONE_PERMISSIONS = (1 << 10) | SEND_MESSAGES | (1 << 6)  # view channel, send, add reactions

DISCORD_EPOCH_MS = 1420070400000
_counter = itertools.count()


def snowflake() -> int:
    """A fresh, increasing id whose timestamp is now (discord.py derives created_at from it)."""
    millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return (millis << 22) | (next(_counter) % 4096)


def shard_of(guild_id: int, shard_count: int) -> int:
    """Discord's rule: the shard whose connection gets a server's events."""
    return (guild_id >> 22) % shard_count


def snowflake_on_shard(shard_id: int, shard_count: int) -> int:
    """A fresh id (a little in the past) that :func:`shard_of` puts on ``shard_id`` of ``shard_count``."""
    millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
    millis -= (millis - shard_id) % shard_count
    return (millis << 22) | (next(_counter) % 4096)


def iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


@dataclass
class FakeUser:
    id: int
    name: str
    bot: bool = False

    def payload(self) -> dict:
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": self.name,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
        }


@dataclass
class FakeMember:
    user: FakeUser
    role_ids: list[int] = field(default_factory=list)
    permissions: int = EVERYONE_PERMISSIONS

    def payload(self) -> dict:
        return {
            "user": self.user.payload(),
            "roles": [str(r) for r in self.role_ids],
            "flags": 0,
            "joined_at": iso_now(),
            "deaf": False,
            "mute": False,
            "permissions": str(self.permissions),
        }


@dataclass
class FakeGuild:
    id: int
    name: str
    channel_id: int
    admin_role_id: int
    members: list[FakeMember] = field(default_factory=list)

    def payload(self) -> dict:
        roles = [
            {
                "id": str(self.id),
                "name": "@everyone",
                "permissions": str(EVERYONE_PERMISSIONS),
                "position": 0,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
            },
            {
                "id": str(self.admin_role_id),
                "name": "DJ",
                "permissions": str(EVERYONE_PERMISSIONS),
                "position": 1,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": True,
            },
        ]
        return {
            "id": str(self.id),
            "name": self.name,
            "member_count": len(self.members),
            "roles": roles,
            "members": [m.payload() for m in self.members],
            "channels": [
                {"id": str(self.channel_id), "type": 0, "name": "music", "position": 0, "permission_overwrites": []},
            ],
            "emojis": [],
            "stickers": [],
            "features": [],
            "large": False,
            "unavailable": False,
        }


def message(*, message_id: int, channel_id: int, author: FakeUser, body: dict) -> dict:
    """A message as Discord returns it, built from what the bot sent."""
    return {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "type": 0,
        "content": body.get("content") or "",
        "author": author.payload(),
        "embeds": body.get("embeds") or [],
        "components": body.get("components") or [],
        "mentions": [],
        "mention_roles": [],
        "mention_everyone": False,
        "attachments": [],
        "pinned": False,
        "tts": False,
        "timestamp": iso_now(),
        "edited_timestamp": None,
        "flags": body.get("flags") or 0,
    }


def option(name: str, value: object, *, focused: bool = False, kind: int | None = None) -> dict:
    """A slash-command option; kind 3 = string, 4 = integer (guessed from the value)."""
    if kind is None:
        kind = 4 if isinstance(value, int) and not isinstance(value, bool) else 3
    data = {"name": name, "type": kind, "value": value}
    if focused:
        data["focused"] = True
    return data
