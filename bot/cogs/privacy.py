"""/forgetme: erase everything the log holds about the member who asks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from recommender.app.core import Erased

from ..messages import NO_MENTIONS

if TYPE_CHECKING:
    from ..app import SoundalikeBot


def forgotten_text(erased: Erased) -> str:
    queries, ratings = erased.questions, erased.ratings
    unlinked = " I also unlinked your ListenBrainz account." if erased.linked_accounts else ""
    return (
        f"Done: I erased your {queries} question{'s' if queries != 1 else ''} and "
        f"{ratings} rating{'s' if ratings != 1 else ''} from the log. "
        "The next retrain will not use them." + unlinked
    )


class PrivacyCog(commands.Cog, name="Privacy"):
    def __init__(self, bot: SoundalikeBot):
        self.bot = bot

    @app_commands.command(
        name="forgetme", description="Erase your questions, ratings and linked account from Soundalike's log"
    )
    async def forgetme(self, interaction: discord.Interaction) -> None:
        erased = await self.bot.app.forget(interaction.user.id)
        await interaction.response.send_message(forgotten_text(erased), ephemeral=True, allowed_mentions=NO_MENTIONS)


async def setup(bot: SoundalikeBot) -> None:
    await bot.add_cog(PrivacyCog(bot))
