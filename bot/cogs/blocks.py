"""/block and /unblock (admins): songs Soundalike must never suggest in this server.

The same two locks as /retrain (:mod:`bot.checks`): hidden from members without Manage
Server in Discord's UI, and checked on our side every time. A blocked song is left out of
every answer in the server (/soundalike, /mix, /foryou and More): the app's serving policy
(:mod:`recommender.app.policy`). Replies are private to the admin.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from recommender.app.answers import BlockResult, tidy

from .. import render
from ..checks import admin_only, is_admin
from ..options import AUTOCOMPLETE_LIMIT, song_choices
from ..replies import Reply, guild_key, member_of

if TYPE_CHECKING:
    from ..app import SoundalikeBot

log = logging.getLogger(__name__)


class BlocksCog(commands.Cog, name="Blocks"):
    def __init__(self, bot: SoundalikeBot):
        self.bot = bot

    @app_commands.command(name="block", description="Never suggest a song in this server (admins)")
    @app_commands.describe(song="The song: pick one from the list or type its title")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @admin_only
    async def block(self, interaction: discord.Interaction, song: str) -> None:
        work = self.bot.app.block(member_of(interaction), song, pool_key=guild_key(interaction))
        await self._private_reply(interaction, "/block", work)

    @app_commands.command(name="unblock", description="Allow a blocked song in this server again (admins)")
    @app_commands.describe(song="A blocked song: pick one from the list")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @admin_only
    async def unblock(self, interaction: discord.Interaction, song: str) -> None:
        work = self.bot.app.unblock(member_of(interaction), song, pool_key=guild_key(interaction))
        await self._private_reply(interaction, "/unblock", work)

    @staticmethod
    async def _private_reply(interaction: discord.Interaction, what: str, work: Awaitable[BlockResult]) -> None:
        """The outcome, privately; a title look-up stuck in a queue shows "thinking…" first."""
        reply = Reply(interaction, time.perf_counter())
        try:
            result = await reply.within_window(work)
        except Exception as error:
            await reply.fail(error, what)
            return
        await reply.private(render.block_text(result))

    @block.autocomplete("song")
    async def block_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await song_choices(self.bot, current)

    @unblock.autocomplete("song")
    async def unblock_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The server's blocked songs whose "Title — Artist" contains what was typed, for admins only.

        Discord runs autocomplete before (and without) the command's checks, so the list would
        show the server's blocks to anyone typing /unblock: the admin check is made here too."""
        if interaction.guild_id is None or not is_admin(interaction, self.bot.config.bot):
            return []
        try:
            songs = await self.bot.app.blocked_songs(interaction.guild_id)
        except Exception:
            log.exception("unblock autocomplete failed")
            return []
        typed = tidy(current).casefold()
        return [
            app_commands.Choice(name=render.label(song.label), value=song.item_id)
            for song in songs
            if typed in song.label.casefold() and 0 < len(song.item_id) <= render.LABEL
        ][:AUTOCOMPLETE_LIMIT]


async def setup(bot: SoundalikeBot) -> None:
    await bot.add_cog(BlocksCog(bot))
