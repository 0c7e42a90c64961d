"""/soundalike title [artist] [count] [novelty] [leave_out_artist] [per_artist]: songs that
the listeners of a song also love.

Autocomplete offers catalog songs as "Title — Artist" with the item id as the value, so a
picked choice is exact. Typed text is resolved; an ambiguous title gets a short select menu
(:mod:`bot.picks`), and a title that matches nothing gets an ephemeral note with the closest
titles. The answer itself goes through :func:`bot.replies.send_answer`, like /mix, /foryou
and More.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from recommender.app.answers import Lookup, Request, artist_mismatch_text
from recommender.app.limits import Busy
from recommender.app.options import check_cap

from .. import render
from ..messages import send_ephemeral, slow_down_text
from ..options import NOVELTY_CHOICES, artist_choices, count_option, declare_count_range, novelty_of, song_choices
from ..picks import PickSong
from ..replies import MoreButton, Reply, after_turn, give_turn_back, guild_key, member_cooldown_key, send_answer

if TYPE_CHECKING:
    from ..app import SoundalikeBot


class SoundalikeCog(commands.Cog, name="Soundalike"):
    def __init__(self, bot: SoundalikeBot):
        self.bot = bot
        declare_count_range(self.soundalike, bot.config.bot.max_results)

    @app_commands.command(name="soundalike", description="Songs that the listeners of a song also love")
    @app_commands.describe(
        title="A song title: pick one from the list or type it",
        artist="The artist, if the title alone is ambiguous",
        count="How many songs to suggest",
        novelty="Well-known songs, a balance, or deep cuts (default: balanced)",
        leave_out_artist="Leave out songs by the same artist",
        per_artist="At most this many songs by one artist (0 = no limit; empty = the usual 2)",
    )
    @app_commands.choices(novelty=NOVELTY_CHOICES)
    async def soundalike(
        self,
        interaction: discord.Interaction,
        title: str,
        artist: str | None = None,
        count: app_commands.Range[int, 1, 25] | None = None,
        novelty: app_commands.Choice[str] | None = None,
        leave_out_artist: bool | None = None,
        per_artist: app_commands.Range[int, 0, 25] | None = None,
    ) -> None:
        bot = self.bot
        request = Request(
            "soundalike",
            count=count_option(bot, count),
            novelty=novelty_of(novelty, bot.config.serving.novelty),
            exclude_seed_artist=leave_out_artist is True,
            per_artist_cap=check_cap(per_artist),
        )
        wait = bot.cooldowns.retry_after(member_cooldown_key(interaction))
        if wait > 0:
            await send_ephemeral(interaction, slow_down_text(wait))
            return
        reply = Reply(interaction, time.perf_counter())
        try:
            found: Lookup = await reply.within_window(
                after_turn(bot, interaction, lambda: bot.app.look_up(title, artist, pool_key=guild_key(interaction)))
            )
        except Exception as error:
            if isinstance(error, Busy):
                await give_turn_back(bot, interaction)
            await reply.fail(error, "/soundalike")
            return
        if found.seed is None:
            await self._not_sure(reply, request, found)
            return
        request = dataclasses.replace(request, seeds=(found.seed.item_id,))
        await send_answer(bot, reply, request, typed_title=title, typed_artist=artist, resume=True)

    @staticmethod
    async def _not_sure(reply: Reply, request: Request, found: Lookup) -> None:
        """No song taken: "did you mean ...?" with a pick menu, or the closest titles; privately."""
        mismatch = (
            render.safe(artist_mismatch_text(found.query, found.artist_mismatch), 300) if found.artist_mismatch else ""
        )
        if found.choices:
            view = discord.ui.View(timeout=None)
            view.add_item(PickSong(request, found.choices))
            text = mismatch + " Songs by other artists with that title:" if mismatch else render.pick_text(found)
            await reply.private(text, view=view)
        elif mismatch:
            await reply.private(mismatch)
        else:
            await reply.private(render.closest_titles_text(found.query, found.closest, found.note))

    @soundalike.autocomplete("title")
    async def title_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        artist = getattr(interaction.namespace, "artist", None)
        return await song_choices(self.bot, current, artist if isinstance(artist, str) else None)

    @soundalike.autocomplete("artist")
    async def artist_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await artist_choices(self.bot, current)


async def setup(bot: SoundalikeBot) -> None:
    bot.add_dynamic_items(PickSong, MoreButton)
    await bot.add_cog(SoundalikeCog(bot))


async def teardown(bot: SoundalikeBot) -> None:
    bot.remove_dynamic_items(PickSong, MoreButton)
