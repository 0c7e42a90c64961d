"""Who may use the admin commands (bot.checks), on every admin command."""

from __future__ import annotations

import discord
import pytest
from bot_mocks import (
    ADMIN_ROLE_ID,
    ADMIN_USER_ID,
    make_interaction,
)
from discord import app_commands

from bot.checks import NotAdmin, admin_check, is_admin
from bot.cogs.admin import AdminCog


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ({"user_id": ADMIN_USER_ID}, True),
        ({"role_ids": (ADMIN_ROLE_ID,)}, True),
        ({"manage_guild": True}, True),
        ({"role_ids": (12345,)}, False),
        ({}, False),
        ({"user_id": ADMIN_USER_ID, "dm": True}, False),
    ],
    ids=["admin user id", "admin role", "manage server", "other role", "member", "admin in DMs"],
)
def test_who_is_an_admin(bot, who, expected):
    assert is_admin(make_interaction(bot, **who), bot.config.bot) is expected


async def test_admin_check_refuses_members_and_direct_messages(bot):
    assert await admin_check(make_interaction(bot, role_ids=(ADMIN_ROLE_ID,))) is True
    with pytest.raises(NotAdmin):
        await admin_check(make_interaction(bot))
    with pytest.raises(app_commands.NoPrivateMessage):
        await admin_check(make_interaction(bot, user_id=ADMIN_USER_ID, dm=True))


def test_admin_commands_are_hidden_by_default_and_server_only(bot):
    cog = AdminCog(bot)
    commands = {c.qualified_name: c for c in cog.walk_app_commands()}
    assert commands["retrain"].default_permissions == discord.Permissions(manage_guild=True)
    assert commands["retrain"].guild_only and cog.model.guild_only
    assert cog.model.default_permissions == discord.Permissions(manage_guild=True)
    for name in ("retrain", "model show", "model rollback"):
        assert admin_check in commands[name].checks, name


def test_block_commands_are_for_admins_hidden_by_default_and_server_only(bot):
    from bot.cogs.blocks import BlocksCog

    commands = {c.qualified_name: c for c in BlocksCog(bot).walk_app_commands()}
    for name in ("block", "unblock"):
        # The check lives in bot.checks, which no extension (re)load imports afresh.
        assert commands[name].guild_only and admin_check in commands[name].checks
        assert commands[name].default_permissions == discord.Permissions(manage_guild=True)
