"""/mix and /foryou: answers from several songs at once.

/mix song1 song2 [song3 .. song5]: songs the listeners of all the seeds love; every option
autocompletes catalog songs (the value is the item id), none of the seeds is in the answer,
and each suggestion's reason names the seeds it came from. An ambiguous typed title takes the
best match (the heading names the songs used); one that matches nothing gets a private note.

/foryou [count]: a playlist from the member's own 👍 in this server, folded into the current
model on the fly (no retrain), leaving out what they already rated and the server's blocked
songs. Too few 👍 yet gets a private note saying how to start.

Both share the answer path of /soundalike (:func:`bot.replies.send_answer`): the same
rating buttons, reactions, logging (seeds and options in the params) and More.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from recommender.app.answers import Request
from recommender.app.limits import Busy

from ..messages import send_ephemeral, slow_down_text
from ..options import NOVELTY_CHOICES, count_option, declare_count_range, novelty_of, song_choices
from ..replies import Reply, after_turn, give_turn_back, guild_key, member_cooldown_key, send_answer

if TYPE_CHECKING:
    from ..app import SoundalikeBot


class PlaylistsCog(commands.Cog, name="Playlists"):
    def __init__(self, bot: SoundalikeBot):
        self.bot = bot
        declare_count_range(self.mix, bot.config.bot.max_results)
        declare_count_range(self.foryou, bot.config.bot.max_results)

    async def _allowed(self, interaction: discord.Interaction) -> bool:
        wait = self.bot.cooldowns.retry_after(member_cooldown_key(interaction))
        if wait > 0:
            await send_ephemeral(interaction, slow_down_text(wait))
            return False
        return True

    @app_commands.command(name="mix", description="Songs for the listeners of several songs at once")
    @app_commands.describe(
        song1="A song: pick one from the list or type its title",
        song2="Another song",
        song3="Another song (optional)",
        song4="Another song (optional)",
        song5="Another song (optional)",
        count="How many songs to suggest",
        novelty="Well-known songs, a balance, or deep cuts (default: balanced)",
    )
    @app_commands.choices(novelty=NOVELTY_CHOICES)
    async def mix(
        self,
        interaction: discord.Interaction,
        song1: str,
        song2: str,
        song3: str | None = None,
        song4: str | None = None,
        song5: str | None = None,
        count: app_commands.Range[int, 1, 25] | None = None,
        novelty: app_commands.Choice[str] | None = None,
    ) -> None:
        bot = self.bot
        wanted, level = count_option(bot, count), novelty_of(novelty, bot.config.serving.novelty)
        if not await self._allowed(interaction):
            return
        reply = Reply(interaction, time.perf_counter())
        songs: list[tuple[str, str | None]] = [(s, None) for s in (song1, song2, song3, song4, song5) if s is not None]
        try:
            seeds = await reply.within_window(
                after_turn(bot, interaction, lambda: bot.app.mix_seeds(songs, pool_key=guild_key(interaction)))
            )
        except Exception as error:
            if isinstance(error, Busy):
                await give_turn_back(bot, interaction)
            await reply.fail(error, "/mix")
            return
        request = Request("mix", tuple(seed.item_id for seed in seeds), wanted, novelty=level)
        typed = " | ".join(str(song) for song, _ in songs)
        await send_answer(bot, reply, request, typed_title=typed, typed_artist=None, resume=True)

    @mix.autocomplete("song1")
    @mix.autocomplete("song2")
    @mix.autocomplete("song3")
    @mix.autocomplete("song4")
    @mix.autocomplete("song5")
    async def song_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await song_choices(self.bot, current)

    @app_commands.command(name="foryou", description="A playlist from the songs you gave 👍 in this server")
    @app_commands.describe(
        count="How many songs to suggest",
        novelty="Well-known songs, a balance, or deep cuts (default: balanced)",
    )
    @app_commands.choices(novelty=NOVELTY_CHOICES)
    async def foryou(
        self,
        interaction: discord.Interaction,
        count: app_commands.Range[int, 1, 25] | None = None,
        novelty: app_commands.Choice[str] | None = None,
    ) -> None:
        bot = self.bot
        request = Request(
            "foryou", (), count_option(bot, count), novelty=novelty_of(novelty, bot.config.serving.novelty)
        )
        if not await self._allowed(interaction):
            return
        reply = Reply(interaction, time.perf_counter())
        await send_answer(
            bot,
            reply,
            request,
            typed_title=None,
            typed_artist=None,
            for_name=interaction.user.display_name,
            claim_turn=True,
        )


async def setup(bot: SoundalikeBot) -> None:
    await bot.add_cog(PlaylistsCog(bot))
