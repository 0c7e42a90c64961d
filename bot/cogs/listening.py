"""/link listenbrainz NAME and /unlink: a member's own listening, for /foryou.

The account is checked on ListenBrainz before it is kept; only the username and when it was
linked are stored (:mod:`recommender.app.listening`). Both answers are private. Asking
ListenBrainz may take longer than Discord's 3 s, so the reply is deferred (privately) first.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from recommender.app.wording import linked_text, unlinked_text
from recommender.errors import SoundalikeError

from .. import render
from ..messages import GENERIC_FAILURE, NO_MENTIONS, send_ephemeral, slow_down_text
from ..replies import member_cooldown_key

if TYPE_CHECKING:
    from ..app import SoundalikeBot

log = logging.getLogger(__name__)


class ListeningCog(commands.Cog, name="Listening"):
    link = app_commands.Group(name="link", description="Link an account of yours elsewhere, for /foryou")

    def __init__(self, bot: SoundalikeBot):
        self.bot = bot

    @link.command(name="listenbrainz", description="Link your public ListenBrainz account: /foryou uses your listens")
    @app_commands.describe(username="Your ListenBrainz username (listenbrainz.org/user/…)")
    async def link_listenbrainz(self, interaction: discord.Interaction, username: str) -> None:
        wait = self.bot.cooldowns.retry_after(member_cooldown_key(interaction))  # each /link asks ListenBrainz
        if wait > 0:
            await send_ephemeral(interaction, slow_down_text(wait))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            linked = await self.bot.app.link_listenbrainz(interaction.user.id, username)
        except SoundalikeError as error:
            text = render.message_text(error)
        except Exception:
            log.exception("/link listenbrainz failed")
            text = GENERIC_FAILURE
        else:
            text = linked_text(linked.account.username, linked.listens, render.safe)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="unlink", description="Remove your linked ListenBrainz account")
    async def unlink(self, interaction: discord.Interaction) -> None:
        removed = await self.bot.app.unlink_listenbrainz(interaction.user.id)
        text = unlinked_text(removed.username if removed is not None else None, render.safe)
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def setup(bot: SoundalikeBot) -> None:
    await bot.add_cog(ListeningCog(bot))
