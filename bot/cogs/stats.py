"""/stats: how Soundalike does in this server, per model version, with a chart.

The numbers go out at once; the chart (👍 rate per model version over time, and the most
asked-for songs) is drawn on the compute pool, never on the event loop, and then attached to
the same message. With nothing to draw yet, the reply says so instead of sending an empty chart.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from recommender.app.limits import Busy
from recommender.feedback.log import FeedbackDay

from .. import charts, render
from ..messages import NO_MENTIONS

if TYPE_CHECKING:
    from ..app import SoundalikeBot

log = logging.getLogger(__name__)

NOTHING_TO_CHART = "The chart appears here once members ask for songs and rate the answers."


def rating_days(days: list[FeedbackDay]) -> list[charts.RatingDay]:
    """The log's 👍/👎 per day as the chart takes them."""
    return [charts.RatingDay(d.day, d.model_version or "?", int(d.up or 0), int(d.down or 0)) for d in days]


class StatsCog(commands.Cog, name="Stats"):
    def __init__(self, bot: SoundalikeBot):
        self.bot = bot

    @app_commands.command(name="stats", description="Questions answered and 👍/👎 rates per model in this server")
    @app_commands.guild_only()
    async def stats(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None  # guild_only
        guild_id = interaction.guild_id
        stats = await self.bot.app.stats(guild_id, top_songs=charts.MAX_SONGS)
        guild_name = interaction.guild.name if interaction.guild is not None else "this server"
        embed = render.stats_embed(guild_name, stats.versions)
        days, songs = rating_days(stats.days), stats.top_songs
        if not charts.has_data(days, songs):
            embed.set_footer(text=NOTHING_TO_CHART)
            await interaction.response.send_message(embed=embed, allowed_mentions=NO_MENTIONS)
            return
        await interaction.response.send_message(embed=embed, allowed_mentions=NO_MENTIONS)
        try:
            png = await self.bot.app.run_on_pool(
                guild_id, charts.stats_png, days, songs, title=f"Soundalike in {guild_name}"
            )
        except Busy:
            log.info("stats chart skipped: the compute pool is busy")
            return
        except Exception:
            log.exception("drawing the stats chart failed")
            return
        embed.set_image(url=f"attachment://{charts.FILENAME}")
        try:
            await interaction.edit_original_response(
                embed=embed,
                attachments=[discord.File(io.BytesIO(png), filename=charts.FILENAME)],
                allowed_mentions=NO_MENTIONS,
            )
        except discord.HTTPException as error:  # e.g. no Attach Files permission
            log.warning("could not attach the stats chart: %s", error)


async def setup(bot: SoundalikeBot) -> None:
    await bot.add_cog(StatsCog(bot))
