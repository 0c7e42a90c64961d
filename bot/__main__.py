"""``python -m bot``: the Discord bot (token from DISCORD_TOKEN); ``--console`` for the terminal.

Every expected failure (bad config, no token, a token Discord refuses, missing data) ends
with one clear line on stderr and exit status 2, never a traceback. Discord out of reach (no
network, an outage) is one line per attempt while the bot tries again with a growing wait.
The token is read from the environment only, and every log handler's formatter blanks it out
of what it writes, tracebacks included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import discord

from recommender.cli.main import Parser
from recommender.config import Config, load_config
from recommender.errors import SoundalikeError

from .shards import ShardSpecError, shard_options
from .shards import describe as describe_shards

TOKEN_VARIABLE = "DISCORD_TOKEN"
NO_TOKEN = (
    f"{TOKEN_VARIABLE} is not set. Put your bot's token in the environment "
    f"(export {TOKEN_VARIABLE}=<token>, from the Discord Developer Portal > your app > Bot), "
    "or try Soundalike without Discord: python -m bot --console"
)
BAD_TOKEN = (
    f"Discord refused the token in {TOKEN_VARIABLE} (wrong, or reset in the Developer Portal); "
    "copy the current bot token into it and start again."
)
REDACTED = "[redacted token]"


# Waits between attempts to reach Discord: doubling from the first, then the last one forever.
RETRY_DELAYS_S = (2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 120.0, 300.0)
# Failures that mean "Discord cannot be reached now", not "this will never work".
UNREACHABLE = (OSError, aiohttp.ClientError, asyncio.TimeoutError, discord.GatewayNotFound, discord.DiscordServerError)

log = logging.getLogger("bot")


class RedactingFormatter(logging.Formatter):
    """Wraps a handler's formatter and blanks the token in everything it writes.

    A filter cannot do this for tracebacks: ``exc_text`` is only filled in by the formatter,
    after the filters ran. Here the finished text (message, traceback, stack) is redacted.
    """

    def __init__(self, inner: logging.Formatter, token: str):
        super().__init__()
        self.inner = inner
        self.token = token

    def format(self, record: logging.LogRecord) -> str:
        return self.inner.format(record).replace(self.token, REDACTED)

    def formatException(self, ei) -> str:
        return self.inner.formatException(ei).replace(self.token, REDACTED)

    def formatStack(self, stack_info: str) -> str:
        return self.inner.formatStack(stack_info).replace(self.token, REDACTED)


class OneLineReconnects(logging.Filter):
    """discord.py logs each gateway reconnect with a whole traceback (``_log.exception``);
    keep the reason in one line instead (-v keeps the traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and str(record.msg).startswith("Attempting a reconnect"):
            error = record.exc_info[1]
            record.msg = f"lost the connection to Discord ({describe(error)}); reconnecting in %.0f s"
            record.exc_info, record.exc_text = None, None
        elif record.exc_info and str(record.msg).startswith("Failed to connect for shard_id"):
            # AutoShardedBot's shard launcher: it tries again itself after 5 s.
            error = record.exc_info[1]
            record.msg = f"shard %s cannot reach Discord ({describe(error)}); trying again in 5 s"
            record.exc_info, record.exc_text = None, None
        return True


def describe(error: BaseException | None) -> str:
    """One line for a connection failure: its type and message."""
    if error is None:
        return "no reason given"
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class RedactToken(logging.Filter):
    """Replaces the token wherever it would appear in a log line."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call; logging reports it itself
            return True
        if self.token in message:
            record.msg, record.args = message.replace(self.token, REDACTED), None
        if record.exc_text and self.token in record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, REDACTED)
        return True


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(prog="python -m bot", description="Soundalike's Discord bot.")  # errors: "error: ..."
    parser.add_argument("--console", action="store_true", help="use the commands in this terminal instead of Discord")
    parser.add_argument("--config", type=Path, help="config file (default: config.toml at the project root)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    parser.add_argument(
        "--shards",
        metavar="IDS",
        help="run only these shards of Discord's gateway here: ids and ranges, e.g. 0-1 or 0,2,5-7 "
        "(needs --shard-count; other processes run the rest)",
    )
    parser.add_argument(
        "--shard-count",
        type=int,
        metavar="N",
        help="the number of shards over all bot processes; alone, this process runs all N",
    )
    args = parser.parse_args(argv)
    try:
        args.shard_options = shard_options(args.shards, args.shard_count)
    except ShardSpecError as error:
        parser.error(str(error))
    if args.console and args.shard_options:
        parser.error("--shards and --shard-count are for the Discord bot, not --console")
    return args


def configure_logging(verbose: bool, console: bool, token: str | None) -> None:
    level = logging.DEBUG if verbose else (logging.WARNING if console else logging.INFO)
    discord.utils.setup_logging(level=level, root=True)
    if token:
        for handler in logging.getLogger().handlers:
            handler.addFilter(RedactToken(token))
            handler.setFormatter(RedactingFormatter(handler.formatter or logging.Formatter(), token))
    if not verbose:
        logging.getLogger("discord.client").addFilter(OneLineReconnects())
        logging.getLogger("discord.shard").addFilter(OneLineReconnects())


def retry_delays(delays: tuple[float, ...] = RETRY_DELAYS_S) -> Iterator[float]:
    yield from delays
    while True:
        yield delays[-1]


async def run_bot(
    config: Config, token: str, config_path: Path | None, *, delays: Iterator[float] | None = None, **bot_options
) -> None:
    """Open the application, hand it to the bot, run until closed (advanced_startup.py style).

    While Discord cannot be reached (no network, an outage: the login or the command sync
    fails to connect), say so in one line and try again after ``delays`` (default
    :data:`RETRY_DELAYS_S`), until it works or SIGTERM / Ctrl-C. A refused token is no
    network problem: it ends the run (``discord.LoginFailure``).
    """
    from recommender.app.core import Soundalike

    from .app import ShardedSoundalikeBot, SoundalikeBot

    bot_class = ShardedSoundalikeBot if "shard_count" in bot_options else SoundalikeBot
    if "shard_count" in bot_options:
        log.info("running %s", describe_shards(bot_options))
    delays = delays if delays is not None else retry_delays()
    stopping = asyncio.Event()
    running: list[SoundalikeBot] = []
    closing: set[asyncio.Future] = set()  # referenced until done, so none is collected mid-close

    def stop() -> None:
        stopping.set()
        for bot in running:
            closed = asyncio.ensure_future(bot.close())
            closing.add(closed)
            closed.add_done_callback(closing.discard)

    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # no loop signal handlers: Ctrl-C only
        loop.add_signal_handler(signal.SIGTERM, stop)
    try:
        async with Soundalike.open(config, config_path=config_path) as app:
            attempt = 0
            while not stopping.is_set():
                attempt += 1
                try:
                    async with bot_class(app=app, **bot_options) as bot:
                        running[:] = [bot]
                        await bot.start(token)
                    return
                except UNREACHABLE as error:
                    if stopping.is_set():
                        return
                    wait = next(delays)
                    log.warning(
                        "cannot reach Discord (%s); trying again in %.0f s (attempt %d)", describe(error), wait, attempt
                    )
                finally:
                    running.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), wait)
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    configure_logging(args.verbose, args.console, token or None)
    try:
        config = load_config(args.config)
    except SoundalikeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        if args.console:
            from console.terminal import run_console

            return asyncio.run(run_console(config, config_path=args.config))
        if not token:
            print(f"error: {NO_TOKEN}", file=sys.stderr)
            return 2
        asyncio.run(run_bot(config, token, args.config, **args.shard_options))
    except discord.LoginFailure:
        print(f"error: {BAD_TOKEN}", file=sys.stderr)
        return 2
    except SoundalikeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
