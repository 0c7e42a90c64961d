"""The bot's command tree (bot.app): every failure ends in one private sentence."""

from __future__ import annotations

import logging
from pathlib import Path
from unittest import mock

from bot_mocks import (
    assert_no_mentions,
    make_interaction,
    sent_texts,
)
from discord import app_commands

from bot import render
from bot.app import SoundalikeTree
from bot.checks import NotAdmin
from recommender.app.limits import Busy
from recommender.errors import DataError, ModelError, SoundalikeError
from recommender.feedback.errors import LogWriteError


async def test_tree_turns_failures_into_one_private_sentence(bot, caplog):
    tree = bot.tree
    assert isinstance(tree, SoundalikeTree)
    cases = [
        (NotAdmin(), render.message_text(NotAdmin())),
        (app_commands.NoPrivateMessage(), "That command works in a server, not in direct messages."),
        (app_commands.CommandInvokeError(mock.Mock(), SoundalikeError("Bad @everyone")), "Bad @\u200beveryone"),
        (app_commands.CommandInvokeError(mock.Mock(), Busy(2.1)), "Busy, try again in 3 s."),
        (
            app_commands.CommandInvokeError(
                mock.Mock(), LogWriteError(Path("/srv/secret/log.sqlite3"), "record", "disk full")
            ),
            "I could not write to my log just now, so this was not recorded. Please try again later.",
        ),
        (
            app_commands.CommandInvokeError(
                mock.Mock(),
                ModelError(
                    "no good version of 'demo' to roll back to (model demo/v1: folder "
                    f"{bot.config.data_root}/models/demo/v1 is missing)"
                ),
            ),
            "no good version of 'demo' to roll back to \\(model demo/v1: folder v1 is missing\\)",
        ),
        (
            app_commands.CommandInvokeError(
                mock.Mock(), DataError("interactions.npz is missing", path=bot.config.datasets_dir / "demo")
            ),
            "demo: interactions.npz is missing",
        ),
        (
            app_commands.CommandNotFound("gone", []),
            "That command has changed; Discord should show the new version within a few minutes.",
        ),
    ]
    for error, expected in cases:
        interaction = make_interaction(bot)
        interaction.command = None
        await tree.on_error(interaction, error)
        assert sent_texts(interaction) == [expected]
        assert_no_mentions(interaction.response.send_message)
    interaction = make_interaction(bot)
    interaction.command = None
    interaction.response.is_done.return_value = True
    with caplog.at_level(logging.ERROR):
        await tree.on_error(interaction, app_commands.CommandInvokeError(mock.Mock(), KeyError("x")))
    assert sent_texts(interaction)[0].startswith("Something went wrong on my side")
    assert interaction.followup.send.call_args.kwargs["ephemeral"] is True
    assert "failed" in caplog.text
