"""/soundalike title [artist] [count] [novelty] [leave_out_artist] [per_artist]: songs that
the listeners of a song also love.

Autocomplete offers catalog songs as "Title — Artist" with the item id as the value, so a
picked choice is exact. Typed text is resolved; an ambiguous title gets a short select menu
(a persistent component: it works after a restart; its custom id carries the options), and a
title that matches nothing gets an ephemeral note with the closest titles. The answer itself
goes through :func:`bot.replies.send_answer`, like /mix, /foryou and More.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from recommender.results import Candidate
from recommender.text import shorten

from .. import render
from recommender.app.answers import (
    DEFAULT_NOVELTY,
    MAX_COUNT,
    MAX_QUERY_CHARS,
    Lookup,
    Request,
    artist_mismatch_text,
    check_cap,
    check_count,
    check_novelty,
    look_up,
)
from ..app import NO_MENTIONS, send_ephemeral
from recommender.app.limits import Busy
from ..replies import MoreButton, Reply, guild_key, member_cooldown_key, send_answer

if TYPE_CHECKING:
    from ..app import SoundalikeBot

log = logging.getLogger(__name__)

AUTOCOMPLETE_LIMIT = 25  # Discord shows at most 25 choices

NOVELTY_CHOICES = [
    app_commands.Choice(name="popular", value="popular"),
    app_commands.Choice(name="balanced", value="balanced"),
    app_commands.Choice(name="deep cuts", value="deep"),
]


def clamp_count(bot: SoundalikeBot, count: int | None) -> int:
    """A count carried over from an earlier request (a pick menu's), kept within today's limit."""
    wanted = bot.config.serving.default_count if count is None else count
    return max(1, min(int(wanted), bot.config.bot.max_results))


def count_option(bot: SoundalikeBot, count: int | None) -> int:
    """The count a member gave (Discord offers 1..max_results): the default when empty, refused
    with a message outside the range (a command registered before the limit changed)."""
    return check_count(count, default=bot.config.serving.default_count, maximum=bot.config.bot.max_results)


def novelty_of(choice: app_commands.Choice[str] | None, default: str = DEFAULT_NOVELTY) -> str:
    """The chosen novelty, else ``default`` (callers pass the config's [serving] novelty)."""
    return check_novelty(choice.value if choice is not None else None, default)


def declare_count_range(command: app_commands.Command, maximum: int, name: str = "count") -> None:
    """Make Discord offer ``name`` from 1 to ``maximum`` (the config's max_results).

    ``app_commands.Range`` is fixed when the class is defined, so the cog's own copy of the
    command gets a parameter with the configured maximum before the tree is synced. discord.py
    (2.7.1, pinned) copies a command per cog with a shallow copy of its parameter mapping, so
    replacing the entry changes this cog's command only, never the class's or another bot's.
    """
    params = command._params  # no public way to change a declared range
    params[name] = dataclasses.replace(params[name], min_value=1, max_value=min(int(maximum), MAX_COUNT))


async def song_choices(bot: SoundalikeBot, current: str, artist: str | None = None) -> list[app_commands.Choice[str]]:
    """Catalog songs for an autocomplete: "Title — Artist" labels, item ids as values."""
    try:
        pairs = await bot.pool.run(
            None,
            bot.service.complete,
            str(current)[:MAX_QUERY_CHARS],
            artist=artist[:MAX_QUERY_CHARS] if artist else None,
            limit=AUTOCOMPLETE_LIMIT,
        )
    except Busy:
        return []
    except Exception:
        log.exception("title autocomplete failed for %r", str(current)[:80])
        return []
    return [
        app_commands.Choice(name=render.label(text), value=item_id)
        for text, item_id in pairs[:AUTOCOMPLETE_LIMIT]
        if 0 < len(item_id) <= render.LABEL
    ]


# The pick list's last option: none of the songs offered is the one meant. Not an item id
# (those are checked against the catalog), so it can never be taken for a song.
NONE_OF_THESE = "soundalike:none"


class PickSong(
    discord.ui.DynamicItem[discord.ui.Select],
    template=r"soundalike:pick:(?P<count>\d{1,2})"
    r"(?::(?P<novelty>popular|balanced|deep):(?P<skip>[01]):(?P<cap>\d{1,2}|-))?",
):
    """The 'which one did you mean?' menu. Its options carry item ids, then "none of these";
    the custom id carries the count and the other options (menus sent before they existed
    carry the count only)."""

    def __init__(self, request: Request, candidates: list[Candidate] | None = None):
        options = []
        for candidate in candidates or []:
            name, description = render.candidate_option(candidate)
            if len(candidate.item_id) <= render.LABEL and candidate.item_id != NONE_OF_THESE:
                options.append(discord.SelectOption(label=name, value=candidate.item_id, description=description))
        if options:
            options.append(
                discord.SelectOption(
                    label="None of these", value=NONE_OF_THESE, description="The song I mean is not in this list"
                )
            )
        cap = "-" if request.per_artist_cap is None else str(request.per_artist_cap)
        super().__init__(
            discord.ui.Select(
                custom_id=(
                    f"soundalike:pick:{request.count}:{request.novelty}:{int(request.exclude_seed_artist)}:{cap}"
                ),
                placeholder="Which song did you mean?",
                options=options or [discord.SelectOption(label="(no songs)", value="-")],
                min_values=1,
                max_values=1,
            )
        )
        self.request = request

    @property
    def count(self) -> int:
        return self.request.count

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Select, match: re.Match[str], /):
        cap = match["cap"]
        default_novelty = getattr(getattr(interaction.client, "config", None), "serving", None)
        return cls(
            Request(
                "soundalike",
                count=int(match["count"]),
                novelty=match["novelty"] or getattr(default_novelty, "novelty", DEFAULT_NOVELTY),
                exclude_seed_artist=match["skip"] == "1",
                per_artist_cap=None if cap in (None, "-") else int(cap),
            )
        )

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        bot: SoundalikeBot = interaction.client  # type: ignore[assignment]
        values = (interaction.data or {}).get("values") or []
        item_id = str(values[0]) if values else ""
        if item_id == NONE_OF_THESE:  # the menu is private: so is this
            await interaction.response.edit_message(
                content=render.nothing_picked_text(bot.service.no_match_note()), view=None, allowed_mentions=NO_MENTIONS
            )
            return
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
            content=f"Finding songs like {render.song_line(seed.title, seed.artist)}…",
            view=None,
            allowed_mentions=NO_MENTIONS,
        )
        reply = Reply(interaction, time.perf_counter(), state="followup")
        request = dataclasses.replace(self.request, seeds=(seed.item_id,), count=clamp_count(bot, self.request.count))
        await send_answer(bot, reply, request, typed_title=seed.title, typed_artist=None)


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
            await send_ephemeral(interaction, f"Slow down a little: try again in {max(1, round(wait))} s.")
            return
        reply = Reply(interaction, time.perf_counter())
        try:
            found: Lookup = await reply.within_window(
                bot.pool.run(guild_key(interaction), look_up, bot.service, title, artist)
            )
        except Exception as error:
            if isinstance(error, Busy):
                bot.cooldowns.reset(member_cooldown_key(interaction))
            await reply.fail(error, "/soundalike")
            return
        if found.seed is None:
            if found.choices:  # not sure: "did you mean ...?", privately
                view = discord.ui.View(timeout=None)
                view.add_item(PickSong(request, found.choices))
                text = render.pick_text(found)
                if found.artist_mismatch:
                    text = (
                        render.safe(artist_mismatch_text(found.query, found.artist_mismatch), 300)
                        + " Songs by other artists with that title:"
                    )
                await reply.private(text, view=view)
            elif found.artist_mismatch:
                await reply.private(render.safe(artist_mismatch_text(found.query, found.artist_mismatch), 300))
            else:
                await reply.private(render.closest_titles_text(found.query, found.closest, found.note))
            return
        request = dataclasses.replace(request, seeds=(found.seed.item_id,))
        await send_answer(bot, reply, request, typed_title=title, typed_artist=artist)

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
        try:
            names = await self.bot.pool.run(
                None, self.bot.service.complete_artist, current[:MAX_QUERY_CHARS], limit=AUTOCOMPLETE_LIMIT
            )
        except Busy:
            return []
        except Exception:
            log.exception("artist autocomplete failed for %r", current[:80])
            return []
        return [
            app_commands.Choice(name=render.label(name), value=shorten(name, render.LABEL))
            for name in names[:AUTOCOMPLETE_LIMIT]
            if name
        ]


async def setup(bot: SoundalikeBot) -> None:
    bot.add_dynamic_items(PickSong, MoreButton)
    await bot.add_cog(SoundalikeCog(bot))


async def teardown(bot: SoundalikeBot) -> None:
    bot.remove_dynamic_items(PickSong, MoreButton)
