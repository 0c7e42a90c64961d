"""/stats: how Soundalike does in this server, per model version."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from .. import render
from ..app import NO_MENTIONS

if TYPE_CHECKING:
    from ..app import SoundalikeBot


class StatsCog(commands.Cog, name="Stats"):
    def __init__(self, bot: "SoundalikeBot"):
        self.bot = bot

    @app_commands.command(name="stats", description="Questions answered and 👍/👎 rates per model in this server")
    @app_commands.guild_only()
    async def stats(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None  # guild_only
        rows = await self.bot.feedback_log.stats(interaction.guild_id)
        guild_name = interaction.guild.name if interaction.guild is not None else "this server"
        embed = render.stats_embed(
            guild_name,
            [{"model_version": r.model_version, "queries": r.answers, "likes": r.up, "dislikes": r.down} for r in rows],
        )
        await interaction.response.send_message(embed=embed, allowed_mentions=NO_MENTIONS)


async def setup(bot: "SoundalikeBot") -> None:
    await bot.add_cog(StatsCog(bot))
