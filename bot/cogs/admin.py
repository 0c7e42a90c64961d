"""Admin commands: /retrain, /model show, /model rollback.

Who is an admin is :mod:`bot.checks`' to say (hidden by ``default_permissions`` in Discord's
UI, and checked on our side every time); DMs are refused.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from recommender.app.core import RetrainReport
from recommender.app.retrainer import RetrainAlreadyRunning, RetrainFailed, RetrainProgress, member_text
from recommender.app.wording import rollback_text
from recommender.config import Config
from recommender.errors import SoundalikeError
from recommender.text import shorten

from .. import render
from ..checks import admin_only
from ..messages import NO_MENTIONS, send_ephemeral

if TYPE_CHECKING:
    from ..app import SoundalikeBot

log = logging.getLogger(__name__)

# Discord allows about 5 edits per 5 s on a message; progress needs far fewer.
PROGRESS_EDIT_INTERVAL_S = 2.0


class ProgressMessage:
    """The public reply to /retrain, edited as the retrain goes (throttled)."""

    def __init__(self, interaction: discord.Interaction, clock=time.monotonic):
        self.interaction = interaction
        self._clock = clock
        self._last_edit = -PROGRESS_EDIT_INTERVAL_S
        self._can_edit = True

    async def _edit(self, text: str) -> bool:
        if not self._can_edit:
            return False
        try:
            await self.interaction.edit_original_response(content=text, allowed_mentions=NO_MENTIONS)
            return True
        except discord.HTTPException as error:  # e.g. the 15-minute interaction token expired
            log.info("cannot edit the retrain message any more: %s", error)
            self._can_edit = False
            return False

    async def update(self, progress: RetrainProgress) -> None:
        now = self._clock()
        if now - self._last_edit < PROGRESS_EDIT_INTERVAL_S:
            return
        self._last_edit = now
        share = f" ({progress.progress:.0%})" if progress.progress is not None else ""
        await self._edit(
            shorten(
                f"Retraining… {render.safe(progress.stage, 60)}{share}: {render.safe(progress.message, 300)}",
                render.MESSAGE_CONTENT,
            )
        )

    async def finish(self, text: str) -> None:
        if await self._edit(text):
            return
        channel = self.interaction.channel
        if isinstance(channel, discord.abc.Messageable):
            try:
                await channel.send(text, allowed_mentions=NO_MENTIONS)
            except discord.HTTPException as error:
                log.warning("could not post the retrain result: %s", error)


def report_text(report: RetrainReport, config: Config) -> str:
    """What /retrain ends with: the model now serving and why, or why the new one is not."""
    if report.not_loaded is not None:
        reason = member_text(str(report.not_loaded), config, "reload")
        return render.message_text(f"The new model was saved but could not be loaded: {reason}")
    outcome, serving = report.outcome, report.serving
    reason = render.safe(outcome.reason, 500)
    if outcome.promoted:
        return f"Retrained: now serving model {render.safe(serving, 60)}. {reason}".strip()
    return f"Retrained, but kept model {render.safe(serving, 60)}: {reason or 'the new model was not better'}."


class AdminCog(commands.Cog, name="Admin"):
    model = app_commands.Group(
        name="model",
        description="Which model answers, and going back to an older one (admins)",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: SoundalikeBot):
        self.bot = bot

    @app_commands.command(name="retrain", description="Retrain the model with members' ratings (admins)")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @admin_only
    async def retrain(self, interaction: discord.Interaction) -> None:
        app = self.bot.app
        if app.retraining:
            await send_ephemeral(interaction, "A retrain is already running; wait for it to finish.")
            return
        await interaction.response.send_message("Retraining: starting…", allowed_mentions=NO_MENTIONS)
        reply = ProgressMessage(interaction)
        try:
            report = await app.retrain(reply.update, started_by=str(interaction.user))
        except (RetrainAlreadyRunning, RetrainFailed) as error:
            await reply.finish(render.message_text(error))
            return
        await reply.finish(report_text(report, self.bot.config))

    @model.command(name="show", description="The model answering now: version, training, metrics, feedback")
    @admin_only
    async def show(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)  # model_info reads the disk
        report = await self.bot.app.model_report(interaction.guild_id)
        rated = report.feedback
        feedback = {"answers": rated.answers, "👍": rated.up, "👎": rated.down} if rated is not None else {}
        await interaction.followup.send(
            embed=render.model_embed(report.info, feedback), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @model.command(name="rollback", description="Serve the previous model version again")
    @admin_only
    async def rollback(self, interaction: discord.Interaction) -> None:
        if self.bot.app.retraining:
            await send_ephemeral(interaction, "A retrain is running; roll back after it has finished.")
            return
        await interaction.response.defer(thinking=True)  # loading a model can take seconds
        try:
            rolled = await self.bot.app.rollback()
        except SoundalikeError as error:  # nothing to go back to: the placeholder says so
            log.warning("rollback refused: %s", error)
            text = f"Could not roll back: {member_text(str(error), self.bot.config, 'rollback')}"
        else:
            text = rollback_text(rolled.before, rolled.now)
        await interaction.followup.send(render.message_text(text), allowed_mentions=NO_MENTIONS)


async def setup(bot: SoundalikeBot) -> None:
    await bot.add_cog(AdminCog(bot))
