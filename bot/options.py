"""The options every song command shares: count, novelty, and song autocomplete.

Each is checked by the app (:mod:`recommender.app.options`): a value outside the range is
refused with a sentence, never clamped behind the member's back.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from discord import app_commands

from recommender.app.answers import MAX_QUERY_CHARS
from recommender.app.limits import Busy
from recommender.app.options import DEFAULT_NOVELTY, MAX_COUNT, NOVELTY_NAMES, check_count, check_novelty

from . import render

if TYPE_CHECKING:
    from .app import SoundalikeBot

log = logging.getLogger(__name__)

AUTOCOMPLETE_LIMIT = 25  # Discord shows at most 25 choices

NOVELTY_CHOICES = [app_commands.Choice(name=name, value=level) for level, name in NOVELTY_NAMES.items()]


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
        pairs = await bot.app.complete(
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


async def artist_choices(bot: SoundalikeBot, current: str) -> list[app_commands.Choice[str]]:
    """Artist names for an autocomplete, as the catalog spells them."""
    try:
        names = await bot.app.complete_artist(current[:MAX_QUERY_CHARS], limit=AUTOCOMPLETE_LIMIT)
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
