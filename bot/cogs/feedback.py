"""Ratings by reaction: 👍/👎 on an answer rate the whole answer; removing one takes it back.

Reactions come as raw gateway events (they need only the non-privileged reaction intents and
no message cache), so reactions on messages sent before a restart still count: the log finds
the answer by message id. The per-suggestion buttons are :mod:`bot.rating`'s, registered here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from recommender.errors import SoundalikeError

from ..rating import RateButton, rating_of

if TYPE_CHECKING:
    from ..app import SoundalikeBot

log = logging.getLogger(__name__)


class FeedbackCog(commands.Cog, name="Feedback"):
    def __init__(self, bot: SoundalikeBot):
        self.bot = bot

    def _rating(self, payload: discord.RawReactionActionEvent) -> int | None:
        if self.bot.user is not None and payload.user_id == self.bot.user.id:
            return None  # the bot's own 👍/👎 are prompts, not opinions
        return rating_of(payload.emoji)

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        value = self._rating(payload)
        if value is None:
            return
        try:
            recorded = await self.bot.app.rate_answer(payload.user_id, value, message_id=payload.message_id)
        except SoundalikeError as error:
            log.warning("a reaction on message %d was not recorded: %s", payload.message_id, error)
            return
        log.debug("reaction %+d by %d on %d recorded=%s", value, payload.user_id, payload.message_id, recorded)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        value = self._rating(payload)
        if value is None:
            return
        try:
            retracted = await self.bot.app.take_back_reaction(payload.user_id, value, message_id=payload.message_id)
        except SoundalikeError as error:
            log.warning("a removed reaction on message %d was not recorded: %s", payload.message_id, error)
            return
        log.debug("reaction %+d by %d on %d retracted=%s", value, payload.user_id, payload.message_id, retracted)


async def setup(bot: SoundalikeBot) -> None:
    bot.add_dynamic_items(RateButton)
    await bot.add_cog(FeedbackCog(bot))


async def teardown(bot: SoundalikeBot) -> None:
    bot.remove_dynamic_items(RateButton)
