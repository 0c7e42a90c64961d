"""Who may use the admin commands (/retrain, /model, /block, /unblock).

Two locks on the door: ``default_permissions(manage_guild=True)`` on each command hides it
from ordinary members in Discord's UI (a server can change that), and :data:`admin_only`
checks on our side every time: a configured admin user id or role id, or Manage Server.
Direct messages are refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from recommender.config import BotConfig

if TYPE_CHECKING:
    from .app import SoundalikeBot


class NotAdmin(app_commands.CheckFailure):
    def __init__(self) -> None:
        super().__init__(
            "Only this server's Soundalike admins can do that (Manage Server, or an admin role "
            "set in the bot's config)."
        )


def is_admin(interaction: discord.Interaction, settings: BotConfig) -> bool:
    """True for a configured admin user, a member with a configured admin role, or Manage Server."""
    if interaction.guild_id is None:
        return False
    if interaction.user.id in settings.admin_user_ids:
        return True
    if interaction.permissions.manage_guild:
        return True
    roles = getattr(interaction.user, "roles", ())
    return any(role.id in settings.admin_role_ids for role in roles)


async def admin_check(interaction: discord.Interaction) -> bool:
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    bot: SoundalikeBot = interaction.client  # type: ignore[assignment]
    if not is_admin(interaction, bot.config.bot):
        raise NotAdmin()
    return True


admin_only = app_commands.check(admin_check)
