"""The private "which song did you mean?" menu under an ambiguous title.

A persistent component: its options carry item ids, then "none of these"; its custom id
carries the request's options (count, novelty, leave out the seed's artist, per-artist cap),
so a pick made after a restart is answered as it was asked.
"""

from __future__ import annotations

import dataclasses
import re
import time
from typing import TYPE_CHECKING, Any

import discord

from recommender.app.answers import Request
from recommender.app.limits import Busy
from recommender.app.options import DEFAULT_NOVELTY
from recommender.results import Candidate

from . import render
from .messages import NO_MENTIONS, send_ephemeral
from .options import clamp_count
from .replies import Reply, guild_key, send_answer

if TYPE_CHECKING:
    from .app import SoundalikeBot

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
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ):
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

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: SoundalikeBot = interaction.client  # type: ignore[assignment]
        data: dict[str, Any] = dict(interaction.data or {})
        values = data.get("values") or []
        item_id = str(values[0]) if values else ""
        if item_id == NONE_OF_THESE:  # the menu is private: so is this
            await interaction.response.edit_message(
                content=render.nothing_picked_text(bot.app.no_match_note()), view=None, allowed_mentions=NO_MENTIONS
            )
            return
        seed = bot.app.song(item_id) if item_id else None
        if seed is None:
            await send_ephemeral(interaction, "That song is no longer in the catalog; try /soundalike again.")
            return
        try:
            bot.app.check_busy(guild_key(interaction))
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
