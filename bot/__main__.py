"""``python -m bot``: the Discord bot (token from DISCORD_TOKEN); ``--console`` for the terminal.

Every expected failure (bad config, no token, a token Discord refuses, missing data) ends
with one clear line on stderr and exit status 2, never a traceback. The token is read from
the environment only and a logging filter blanks it out of every log line, just in case.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

import discord

from recommender.config import Config, load_config
from recommender.errors import SoundalikeError

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
    parser = argparse.ArgumentParser(prog="python -m bot", description="Soundalike's Discord bot.")
    parser.add_argument("--console", action="store_true", help="use the commands in this terminal instead of Discord")
    parser.add_argument("--config", type=Path, help="config file (default: config.toml at the project root)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    return parser.parse_args(argv)


def configure_logging(verbose: bool, console: bool, token: str | None) -> None:
    level = logging.DEBUG if verbose else (logging.WARNING if console else logging.INFO)
    discord.utils.setup_logging(level=level, root=True)
    if token:
        for handler in logging.getLogger().handlers:
            handler.addFilter(RedactToken(token))


async def run_bot(config: Config, token: str, config_path: Path | None, **bot_options) -> None:
    """Open the resources, hand them to the bot, run until closed (advanced_startup.py style)."""
    from recommender.feedback_log import FeedbackLog
    from recommender.service import SoundalikeService

    from .app import SoundalikeBot
    from .limits import ComputePool
    from .retrain import Retrainer

    service = await asyncio.to_thread(SoundalikeService.open, config)
    settings = config.bot
    pool = ComputePool(per_guild=settings.per_guild_concurrency, max_queue=settings.max_queue)
    try:
        async with FeedbackLog.open(config.database_path) as feedback_log:
            async with SoundalikeBot(
                config=config, service=service, feedback_log=feedback_log, pool=pool,
                retrainer=Retrainer(config, config_path=config_path), **bot_options,
            ) as bot:
                loop = asyncio.get_running_loop()
                try:
                    loop.add_signal_handler(signal.SIGTERM, lambda: asyncio.ensure_future(bot.close()))
                except (NotImplementedError, RuntimeError):
                    pass  # platforms without loop signal handlers stop on Ctrl-C only
                await bot.start(token)
    finally:
        pool.close()


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
            from .console import run_console

            return asyncio.run(run_console(config, config_path=args.config))
        if not token:
            print(f"error: {NO_TOKEN}", file=sys.stderr)
            return 2
        asyncio.run(run_bot(config, token, args.config))
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
