"""/stats (bot.cogs.stats): numbers at once, the chart drawn on the compute pool."""

from __future__ import annotations

import threading

from bot_mocks import (
    GUILD_ID,
    make_interaction,
)

from bot.cogs.stats import StatsCog
from recommender.feedback.log import VersionStats


async def test_stats_per_model_version(bot):
    bot.app.feedback_log.stats.return_value = [VersionStats("v1", 10, 3, 1), VersionStats("v2", 4, 0, 0)]
    interaction = make_interaction(bot)
    await StatsCog.stats.callback(StatsCog(bot), interaction)
    bot.app.feedback_log.stats.assert_awaited_once_with(GUILD_ID)
    fields = interaction.response.send_message.call_args.kwargs["embed"].fields
    assert [(f.name, f.value) for f in fields] == [
        ("model v1", "10 answered · 👍 3 (75%) · 👎 1 (25%)"),
        ("model v2", "4 answered · 👍 0 (–) · 👎 0 (–)"),
    ]


async def test_stats_chart_is_drawn_on_a_compute_thread_and_attached(bot, monkeypatch):
    import bot.charts as charts
    from recommender.feedback.log import FeedbackDay, TopQuery

    drawn_on = []
    real = charts.stats_png

    def spy(*args, **kwargs):
        drawn_on.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(charts, "stats_png", spy)
    bot.app.feedback_log.stats.return_value = [VersionStats("v1", 2, 1, 1)]
    bot.app.feedback_log.feedback_over_time.return_value = [FeedbackDay("2026-01-02", "v1", 1, 1)]
    bot.app.feedback_log.top_queries.return_value = [TopQuery("s-heyya", "s-heyya", None, 2)]
    interaction = make_interaction(bot)
    await StatsCog.stats.callback(StatsCog(bot), interaction)
    assert drawn_on and drawn_on[0].startswith("soundalike-compute")
    interaction.response.send_message.assert_awaited_once()  # the numbers went out first
    edit = interaction.edit_original_response.call_args.kwargs
    (attached,) = edit["attachments"]
    assert attached.filename == charts.FILENAME and attached.fp.read(8) == b"\x89PNG\r\n\x1a\n"
