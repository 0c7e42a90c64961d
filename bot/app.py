"""The Discord bot: a ``commands.Bot`` around the application object every cog talks to.

Built like discord.py's ``examples/advanced_startup.py``: ``run_bot`` opens the application
(:class:`recommender.app.core.Soundalike`: service, feedback log, compute pool, retrainer) with
``async with`` and hands it in; ``setup_hook`` loads one cog per concern (each registers its
persistent components, so buttons on old messages still work after a restart) and syncs slash
commands to the configured dev guilds only, else globally. The bot itself holds only what is
Discord's: per-member cooldowns and the daily retention task.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands, tasks

from recommender.app.core import Soundalike
from recommender.app.limits import Busy, Cooldowns
from recommender.app.retrainer import member_text
from recommender.errors import DataError, DatasetNotFound, ModelError, SoundalikeError
from recommender.feedback.errors import FeedbackLogError

from . import render
from .messages import GENERIC_FAILURE, LOG_NOT_WRITTEN, NO_MENTIONS, send_ephemeral
from .rating import RatingReactions

log = logging.getLogger(__name__)

EXTENSIONS = (
    "bot.cogs.soundalike",
    "bot.cogs.playlists",
    "bot.cogs.feedback",
    "bot.cogs.admin",
    "bot.cogs.blocks",
    "bot.cogs.stats",
    "bot.cogs.privacy",
    "bot.cogs.listening",
)

# The bot never joins voice: discord.py's start-up warnings that voice libraries (PyNaCl,
# davey) are missing would only alarm whoever runs it.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False

# No message content, no members, no presences: slash commands need no intents, and
# reactions arrive as raw events with the (non-privileged) reaction intents.
INTENTS = discord.Intents.default()
# Connections to Discord's HTTP API held at once (discord.py's default is no limit).
HTTP_CONNECTIONS = 32
# Tasks discord.py starts to handle one interaction or event (app_commands/tree.py,
# ui/view.py, ui/modal.py, client.py). On shutdown those already under way finish, for at most
# HANDLERS_FINISH_S, before the HTTP session (and after it the log) is closed: an
# acknowledged request still gets its answer and its log entry.
HANDLER_TASK_PREFIXES = (
    "CommandTree-invoker",
    "discord-ui-view-dispatch-",
    "discord-ui-modal-dispatch-",
    "discord-ui-dynamic-item-",
    "discord.py: ",
)
HANDLERS_FINISH_S = 10.0


class SoundalikeTree(app_commands.CommandTree):
    """Turns expected failures into one ephemeral sentence; logs the unexpected ones."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        original = getattr(error, "original", error)
        if isinstance(original, Busy):
            text = str(original)
        elif isinstance(original, FeedbackLogError):
            # The message names a server path: log it, tell the member only what happened.
            log.warning("feedback log error: %s", original)
            text = LOG_NOT_WRITTEN
        elif isinstance(original, (ModelError, DataError, DatasetNotFound)):
            # These name server files: the member gets the sentence without the paths.
            bot: SoundalikeBot = interaction.client  # type: ignore[assignment]
            text = render.message_text(member_text(str(original), bot.config, "command failed"))
        elif isinstance(original, SoundalikeError):
            text = render.message_text(original)
        elif isinstance(error, app_commands.TransformerError):
            text = render.message_text(f"That value does not fit: {error}")
        elif isinstance(error, (app_commands.CommandNotFound, app_commands.CommandSignatureMismatch)):
            log.warning("Discord sent a command this bot does not know as such: %s", error)
            text = "That command has changed; Discord should show the new version within a few minutes."
        elif isinstance(error, app_commands.NoPrivateMessage):
            text = "That command works in a server, not in direct messages."
        elif isinstance(error, app_commands.CheckFailure):
            text = render.message_text(error) or "You cannot use that command here."
        else:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error("command /%s failed", command, exc_info=error)
            text = GENERIC_FAILURE
        await send_ephemeral(interaction, text)


class SoundalikeBot(commands.Bot):
    def __init__(self, *, app: Soundalike, **options):
        options.setdefault("intents", INTENTS)
        super().__init__(
            command_prefix=commands.when_mentioned,  # unused: every command is a slash command
            help_command=None,
            allowed_mentions=NO_MENTIONS,
            tree_cls=SoundalikeTree,
            **options,
        )
        self.app = app
        self.config = app.config
        self.cooldowns = Cooldowns(app.config.bot.cooldown_seconds)
        # Answers first: their 👍/👎 follow once no request is computing or waiting.
        self.rating_reactions = RatingReactions(lambda: app.pool.in_flight > 0)

    async def login(self, token: str) -> None:
        # A bounded pool of HTTP connections to Discord: a burst of responses reuses them
        # instead of opening (and TLS-handshaking) one connection per response.
        if not isinstance(self.http.connector, aiohttp.BaseConnector):
            self.http.connector = aiohttp.TCPConnector(limit=HTTP_CONNECTIONS)
        await super().login(token)

    async def setup_hook(self) -> None:
        self.rating_reactions.start()
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        guild_ids = self.config.bot.dev_guild_ids
        if guild_ids:
            for guild_id in guild_ids:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.info("synced %d commands to dev guild %d", len(synced), guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d commands globally (may take a while to show up)", len(synced))
        if self.config.bot.retention_days:
            self.expire_old_questions.start()

    @tasks.loop(hours=24)
    async def expire_old_questions(self) -> None:
        """Keep the README's retention promise: at start, then once a day."""
        days = self.config.bot.retention_days
        try:
            erased = await self.app.expire_old_questions()
        except FeedbackLogError as error:
            log.warning("could not erase questions older than %d days: %s", days, error)
            return
        if erased.questions:
            log.info("erased %d questions older than %d days (%d ratings)", erased.questions, days, erased.ratings)
        try:
            await self.app.feedback_log.forget_past_turns()  # cooldowns that are over decide nothing
        except FeedbackLogError as error:
            log.warning("could not drop members' past turns: %s", error)

    async def close(self) -> None:
        self.expire_old_questions.cancel()
        await finish_handlers(HANDLERS_FINISH_S)
        await self.rating_reactions.close()
        await super().close()

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info("logged in as %s (id %d) in %d servers", self.user, self.user.id, len(self.guilds))


async def finish_handlers(within_s: float) -> None:
    """Wait, at most ``within_s`` seconds, for the interaction and event handlers under way
    (not the task calling this: a handler may close the bot)."""
    this = asyncio.current_task()
    handlers = [
        task
        for task in asyncio.all_tasks()
        if task is not this and not task.done() and task.get_name().startswith(HANDLER_TASK_PREFIXES)
    ]
    if not handlers:
        return
    log.info("closing: waiting for %d request(s) under way", len(handlers))
    _, unfinished = await asyncio.wait(handlers, timeout=within_s)
    if unfinished:
        log.warning("closing with %d request(s) unfinished after %.0f s", len(unfinished), within_s)


class ShardedSoundalikeBot(SoundalikeBot, commands.AutoShardedBot):
    """The same bot over some shards of Discord's gateway, in one process (discord.py's
    ``AutoShardedBot``): pass ``shard_ids`` and ``shard_count`` (see :mod:`bot.shards`).
    Each shard is its own connection; Discord sends a server's events to its shard only."""

    async def on_shard_ready(self, shard_id: int) -> None:
        log.info("shard %d of %s is ready", shard_id, self.shard_count)
