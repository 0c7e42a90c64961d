"""/soundalike title [artist] [count]: songs that the listeners of a song also love.

Autocomplete offers catalog songs as "Title — Artist" with the item id as the value, so a
picked choice is exact. Typed text is resolved; an ambiguous title gets a short select menu
(a persistent component: it works after a restart), and a title that matches nothing gets an
ephemeral note with the closest titles.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import TYPE_CHECKING, Optional

import discord
from discord import app_commands
from discord.ext import commands

from recommender.errors import SoundalikeError
from recommender.feedback_log import NO_GUILD
from recommender.results import Candidate

from .. import render
from ..answers import Lookup, MAX_QUERY_CHARS, log_answer, look_up, similar_answer
from ..app import NO_MENTIONS, send_ephemeral
from ..limits import Busy
from .feedback import add_rating_reactions, rating_view

if TYPE_CHECKING:
    from ..app import SoundalikeBot

log = logging.getLogger(__name__)

AUTOCOMPLETE_LIMIT = 25  # Discord shows at most 25 choices
# Discord drops an interaction that gets no response within 3 s. A title lookup that has not
# finished by then (a queue on the compute pool) answers "thinking…" first.
RESPOND_WITHIN_S = 2.0


def guild_key(interaction: discord.Interaction) -> int:
    """The log's guild id: the server's, or NO_GUILD in DMs."""
    return interaction.guild_id or NO_GUILD


def member_cooldown_key(interaction: discord.Interaction) -> tuple[int, int]:
    return (guild_key(interaction), interaction.user.id)


def clamp_count(bot: "SoundalikeBot", count: Optional[int]) -> int:
    settings = bot.config.bot
    wanted = settings.default_results if count is None else count
    return max(1, min(int(wanted), settings.max_results))


class PickSong(discord.ui.DynamicItem[discord.ui.Select], template=r"soundalike:pick:(?P<count>\d{1,2})"):
    """The 'which one did you mean?' menu. Its options carry item ids; the count is in the id."""

    def __init__(self, count: int, candidates: list[Candidate] | None = None):
        options = []
        for candidate in candidates or []:
            name, description = render.candidate_option(candidate)
            if len(candidate.item_id) <= render.LABEL:
                options.append(discord.SelectOption(label=name, value=candidate.item_id, description=description))
        super().__init__(
            discord.ui.Select(
                custom_id=f"soundalike:pick:{count}",
                placeholder="Which song did you mean?",
                options=options or [discord.SelectOption(label="(no songs)", value="-")],
                min_values=1,
                max_values=1,
            )
        )
        self.count = count

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Select, match: re.Match[str], /):
        return cls(int(match["count"]))

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        bot: SoundalikeBot = interaction.client  # type: ignore[assignment]
        values = (interaction.data or {}).get("values") or []
        item_id = str(values[0]) if values else ""
        seed = bot.service.candidate(item_id) if item_id else None
        if seed is None:
            await send_ephemeral(interaction, "That song is no longer in the catalog; try /soundalike again.")
            return
        try:
            bot.pool.check(guild_key(interaction))
        except Busy as busy:
            await send_ephemeral(interaction, str(busy))
            return
        await interaction.response.edit_message(
            content=f"Finding songs like {render.song_line(seed.title, seed.artist)}…", view=None,
            allowed_mentions=NO_MENTIONS,
        )
        started = time.perf_counter()
        cog = bot.get_cog("Soundalike")
        assert isinstance(cog, SoundalikeCog)

        async def deliver(embed: discord.Embed, view: discord.ui.View) -> discord.Message:
            return await interaction.followup.send(embed=embed, view=view, wait=True, allowed_mentions=NO_MENTIONS)

        await cog.answer(interaction, seed, clamp_count(bot, self.count), deliver, started=started,
                         typed_title=seed.title, typed_artist=None)


class SoundalikeCog(commands.Cog, name="Soundalike"):
    def __init__(self, bot: "SoundalikeBot"):
        self.bot = bot

    @app_commands.command(name="soundalike", description="Songs that the listeners of a song also love")
    @app_commands.describe(
        title="A song title: pick one from the list or type it",
        artist="The artist, if the title alone is ambiguous",
        count="How many songs to suggest",
    )
    async def soundalike(
        self,
        interaction: discord.Interaction,
        title: str,
        artist: Optional[str] = None,
        count: Optional[app_commands.Range[int, 1, 25]] = None,
    ) -> None:
        bot = self.bot
        wait = bot.cooldowns.retry_after(member_cooldown_key(interaction))
        if wait > 0:
            await send_ephemeral(interaction, f"Slow down a little: try again in {max(1, round(wait))} s.")
            return
        started = time.perf_counter()
        lookup = asyncio.ensure_future(
            bot.pool.run(guild_key(interaction), look_up, bot.service, title, artist))
        deferred = False
        try:
            found: Lookup = await asyncio.wait_for(asyncio.shield(lookup), RESPOND_WITHIN_S)
        except Busy as busy:
            bot.cooldowns.reset(member_cooldown_key(interaction))
            await send_ephemeral(interaction, str(busy))
            return
        except TimeoutError:
            # Discord drops an interaction not answered within 3 s: show "thinking…" and wait on.
            await interaction.response.defer(thinking=True)
            deferred = True
            try:
                found = await lookup
            except Exception as error:
                await self._withdraw_placeholder(interaction, error)
                return
        wanted = clamp_count(bot, count)
        if found.seed is None:
            if found.choices:
                view = discord.ui.View(timeout=None)
                view.add_item(PickSong(wanted, found.choices))
                text = f"Several songs match “{render.safe(found.query, 200)}”. Which one did you mean?"
                await self._reply_privately(interaction, text, deferred=deferred, view=view)
            else:
                text = render.closest_titles_text(found.query, found.closest)
                await self._reply_privately(interaction, text, deferred=deferred)
            return

        if not deferred:
            await interaction.response.defer(thinking=True)

        async def deliver(embed: discord.Embed, view: discord.ui.View) -> discord.Message:
            return await interaction.edit_original_response(embed=embed, view=view, allowed_mentions=NO_MENTIONS)

        await self.answer(interaction, found.seed, wanted, deliver, started=started,
                          typed_title=title, typed_artist=artist)

    async def _reply_privately(self, interaction: discord.Interaction, text: str, *, deferred: bool,
                               view: discord.ui.View | None = None) -> None:
        """An ephemeral reply; after a public "thinking…" placeholder, the placeholder goes first."""
        extra = {"view": view} if view is not None else {}
        if not deferred:
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS, **extra)
            return
        await self._delete_placeholder(interaction)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS, **extra)

    @staticmethod
    async def _delete_placeholder(interaction: discord.Interaction) -> None:
        try:
            await interaction.delete_original_response()
        except discord.HTTPException:
            pass  # already gone; the private note still goes out

    async def answer(self, interaction: discord.Interaction, seed: Candidate, count: int, deliver,
                     *, started: float, typed_title: str | None, typed_artist: str | None) -> None:
        """Compute, show (through ``deliver``), react, and log one answer. The response is deferred."""
        bot = self.bot
        try:
            answer = await similar_answer(
                bot.service, bot.feedback_log, bot.pool, seed=seed, count=count,
                guild_id=guild_key(interaction), user_id=interaction.user.id, pool_key=guild_key(interaction),
            )
        except Exception as error:  # Busy, SoundalikeError or a bug: the placeholder must not stay
            await self._withdraw_placeholder(interaction, error)
            return
        message = await deliver(render.answer_embed(answer), rating_view(answer))
        await log_answer(
            bot.feedback_log, answer, command="soundalike", guild_id=guild_key(interaction),
            user_id=interaction.user.id, channel_id=interaction.channel_id, typed_title=typed_title,
            typed_artist=typed_artist, started=started, message_id=message.id,
            params={"count": count},
        )
        await add_rating_reactions(message)

    async def _withdraw_placeholder(self, interaction: discord.Interaction, error: Exception) -> None:
        """Replace the public "thinking…" placeholder by an ephemeral note for the asker.

        For a pick from the select menu the "placeholder" is the private picker itself, which
        stays (edited to "Finding songs like …"); the note simply follows it.
        """
        if isinstance(error, (Busy, SoundalikeError)):
            text = render.message_text(error)
        else:
            log.error("answering /soundalike failed", exc_info=error)
            text = "Something went wrong on my side; it has been logged. Please try again later."
        if interaction.type is discord.InteractionType.application_command:
            await self._delete_placeholder(interaction)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @soundalike.autocomplete("title")
    async def title_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        artist = getattr(interaction.namespace, "artist", None)
        try:
            pairs = await self.bot.pool.run(
                None, self.bot.service.complete, current[:MAX_QUERY_CHARS],
                artist=artist[:MAX_QUERY_CHARS] if isinstance(artist, str) and artist else None,
                limit=AUTOCOMPLETE_LIMIT,
            )
        except Busy:
            return []
        except Exception:
            log.exception("title autocomplete failed for %r", current[:80])
            return []
        return [
            app_commands.Choice(name=render.label(text), value=item_id)
            for text, item_id in pairs[:AUTOCOMPLETE_LIMIT]
            if 0 < len(item_id) <= render.LABEL
        ]

    @soundalike.autocomplete("artist")
    async def artist_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        try:
            names = await self.bot.pool.run(None, self.bot.service.complete_artist, current[:MAX_QUERY_CHARS],
                                            limit=AUTOCOMPLETE_LIMIT)
        except Busy:
            return []
        except Exception:
            log.exception("artist autocomplete failed for %r", current[:80])
            return []
        return [
            app_commands.Choice(name=render.label(name), value=render.shorten(name, render.LABEL))
            for name in names[:AUTOCOMPLETE_LIMIT]
            if name
        ]


async def setup(bot: "SoundalikeBot") -> None:
    bot.add_dynamic_items(PickSong)
    await bot.add_cog(SoundalikeCog(bot))


async def teardown(bot: "SoundalikeBot") -> None:
    bot.remove_dynamic_items(PickSong)
