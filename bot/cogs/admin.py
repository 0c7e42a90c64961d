"""Admin commands: /retrain, /model show, /model rollback.

Two locks on the door: ``default_permissions(manage_guild=True)`` hides the commands from
ordinary members in Discord's UI (a server can change that), and :func:`admin_only` checks
on our side every time: a configured admin user id or role id, or Manage Server. DMs are
refused.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from recommender.config import BotConfig
from recommender.errors import SoundalikeError
from recommender.text import shorten

from .. import render
from ..app import NO_MENTIONS, send_ephemeral
from recommender.app.retrainer import RetrainAlreadyRunning, RetrainFailed, RetrainOutcome, RetrainProgress, member_text

if TYPE_CHECKING:
    from ..app import SoundalikeBot

log = logging.getLogger(__name__)

# Discord allows about 5 edits per 5 s on a message; progress needs far fewer.
PROGRESS_EDIT_INTERVAL_S = 2.0


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


def outcome_text(outcome: RetrainOutcome, serving: str) -> str:
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
        retrainer = self.bot.retrainer
        if retrainer.running:
            await send_ephemeral(interaction, "A retrain is already running; wait for it to finish.")
            return
        await interaction.response.send_message("Retraining: starting…", allowed_mentions=NO_MENTIONS)
        reply = ProgressMessage(interaction)
        try:
            outcome = await retrainer.run(reply.update, started_by=str(interaction.user))
        except RetrainAlreadyRunning as error:
            await reply.finish(render.message_text(error))
            return
        except RetrainFailed as error:
            await reply.finish(render.message_text(error))
            return
        try:
            serving = (
                await asyncio.to_thread(self.bot.service.reload)
                if outcome.promoted
                else (self.bot.service.model.version)
            )
        except SoundalikeError as error:
            log.warning("the retrained model could not be loaded: %s", error)
            reason = member_text(str(error), self.bot.config, "reload")
            await reply.finish(render.message_text(f"The new model was saved but could not be loaded: {reason}"))
            return
        await reply.finish(outcome_text(outcome, serving))

    @model.command(name="show", description="The model answering now: version, training, metrics, feedback")
    @admin_only
    async def show(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)  # model_info reads the disk
        info = await asyncio.to_thread(self.bot.service.model_info)
        version = str(info.get("version", ""))
        rows = await self.bot.feedback_log.stats(interaction.guild_id)
        current = next((row for row in rows if row.model_version == version), None)
        feedback = {"answers": current.answers, "👍": current.up, "👎": current.down} if current else {}
        await interaction.followup.send(
            embed=render.model_embed(info, feedback), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @model.command(name="rollback", description="Serve the previous model version again")
    @admin_only
    async def rollback(self, interaction: discord.Interaction) -> None:
        if self.bot.retrainer.running:
            await send_ephemeral(interaction, "A retrain is running; roll back after it has finished.")
            return
        await interaction.response.defer(thinking=True)  # loading a model can take seconds
        try:
            before, now = await asyncio.to_thread(self.bot.service.rollback)
        except SoundalikeError as error:  # nothing to go back to: the placeholder says so
            log.warning("rollback refused: %s", error)
            text = f"Could not roll back: {member_text(str(error), self.bot.config, 'rollback')}"
        else:
            text = render.rollback_text(before, now)
        await interaction.followup.send(render.message_text(text), allowed_mentions=NO_MENTIONS)


async def setup(bot: SoundalikeBot) -> None:
    await bot.add_cog(AdminCog(bot))
