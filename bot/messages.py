"""Sending short texts to members, the same way from every cog and component.

Nothing the bot sends may ping anyone (``NO_MENTIONS``), whatever a title or a name holds.
"""

from __future__ import annotations

import logging

import discord

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
# What a member is told when the log could not keep what they did (disk full, read-only...).
LOG_NOT_WRITTEN = "I could not write to my log just now, so this was not recorded. Please try again later."
GENERIC_FAILURE = "Something went wrong on my side; it has been logged. Please try again later."


def slow_down_text(wait: float) -> str:
    """A member asked again within their cooldown."""
    return f"Slow down a little: try again in {max(1, round(wait))} s."


async def send_ephemeral(interaction: discord.Interaction, text: str) -> None:
    """Tell only the person who asked, whether or not the interaction was answered already."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException as error:
        log.warning("could not tell a member %r: %s", text[:80], error)
