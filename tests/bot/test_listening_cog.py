"""The /link and /unlink cog with mocks: private answers that ping nobody, escaped names, the
member's cooldown (each /link asks ListenBrainz), and errors worded for the member."""

from __future__ import annotations

from unittest import mock

import pytest
from bot_mocks import assert_no_mentions, make_bot, make_interaction, sent_texts

from bot.cogs.listening import ListeningCog
from recommender.app.listening import Linked
from recommender.config import Config
from recommender.feedback.log import LinkedAccount
from recommender.listenbrainz.client import ListenBrainzUnavailable

pytestmark = pytest.mark.asyncio


def linked(name: str, listens: int) -> Linked:
    return Linked(LinkedAccount("listenbrainz", name, "2026-01-01T00:00:00.000+00:00"), listens)


async def test_link_answers_privately_with_the_name_escaped_and_no_pings():
    bot = make_bot(Config())
    bot.app.link_listenbrainz = mock.AsyncMock(return_value=linked("**rob**_@everyone", 12))
    interaction = make_interaction(bot, user_id=42)
    await ListeningCog.link_listenbrainz.callback(ListeningCog(bot), interaction, "**rob**_@everyone")
    bot.app.link_listenbrainz.assert_awaited_once_with(42, "**rob**_@everyone")
    interaction.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
    (text,) = sent_texts(interaction)
    assert text.startswith("Linked ListenBrainz account \\*\\*rob\\*\\*\\_@\u200beveryone (12 public listens).")
    assert interaction.followup.send.call_args.kwargs["ephemeral"] is True
    assert_no_mentions(interaction.followup.send)


async def test_a_second_link_within_the_cooldown_is_told_to_wait_and_asks_nothing():
    bot = make_bot(Config())  # [bot] cooldown_seconds 3
    bot.app.link_listenbrainz = mock.AsyncMock(return_value=linked("rob", 1))
    cog = ListeningCog(bot)
    await cog.link_listenbrainz.callback(cog, make_interaction(bot, user_id=42), "rob")
    again = make_interaction(bot, user_id=42)
    await cog.link_listenbrainz.callback(cog, again, "rob")
    assert bot.app.link_listenbrainz.await_count == 1
    assert sent_texts(again)[0].startswith("Slow down a little")


async def test_listenbrainz_down_is_one_private_sentence():
    bot = make_bot(Config())
    bot.app.link_listenbrainz = mock.AsyncMock(side_effect=ListenBrainzUnavailable("ListenBrainz answered 503."))
    interaction = make_interaction(bot)
    await ListeningCog.link_listenbrainz.callback(ListeningCog(bot), interaction, "rob")
    assert sent_texts(interaction) == ["ListenBrainz answered 503."]


async def test_unlink_says_what_it_removed_or_that_nothing_was_linked():
    bot = make_bot(Config())
    bot.app.unlink_listenbrainz = mock.AsyncMock(side_effect=[linked("rob", 0).account, None])
    first, second = make_interaction(bot), make_interaction(bot)
    await ListeningCog.unlink.callback(ListeningCog(bot), first)
    await ListeningCog.unlink.callback(ListeningCog(bot), second)
    assert sent_texts(first) == ["Unlinked ListenBrainz account rob; /foryou uses only your 👍 again."]
    assert sent_texts(second) == ["You have no ListenBrainz account linked."]
    assert first.response.send_message.call_args.kwargs["ephemeral"] is True
