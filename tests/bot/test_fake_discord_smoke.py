"""The fake Discord relies on private details of one discord.py release: fail loudly if they move."""

from __future__ import annotations

import re

import discord
import pytest
from fake_discord import PINNED_DISCORD_PY, check_discord_py
from paths import PROJECT_ROOT


def test_discord_py_is_the_release_the_fake_was_written_for():
    check_discord_py()  # raises AssertionError naming what changed


def test_requirements_pin_the_same_discord_py():
    pins = (PROJECT_ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert re.search(rf"^discord\.py=={re.escape(PINNED_DISCORD_PY)}$", pins, re.MULTILINE), (
        f"requirements.txt must pin discord.py=={PINNED_DISCORD_PY}: the fake Discord in tests/fake_discord "
        "was checked against that release only"
    )


def test_an_upgrade_is_reported_with_a_clear_message(monkeypatch):
    monkeypatch.setattr(discord, "__version__", "9.9.9")
    monkeypatch.delattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY")
    with pytest.raises(AssertionError) as raised:
        check_discord_py()
    message = str(raised.value)
    assert "discord.py is 9.9.9, the fake was written for 2.7.1" in message
    assert "DEFAULT_GATEWAY" in message and "offline-discord-testing.md" in message
