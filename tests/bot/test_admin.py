"""/retrain and /model (bot.cogs.admin): progress, outcomes, rollback, no server paths."""

from __future__ import annotations

from bot_mocks import (
    ADMIN_ROLE_ID,
    assert_no_mentions,
    make_bot,
    make_interaction,
    sent_texts,
)

from bot import render
from bot.cogs.admin import AdminCog, ProgressMessage
from recommender.app.retrainer import RetrainFailed, RetrainOutcome, RetrainProgress
from recommender.config import Config
from recommender.errors import ModelError
from recommender.feedback.log import VersionStats


async def run_retrain(bot, interaction):
    await AdminCog.retrain.callback(AdminCog(bot), interaction)


async def test_retrain_reports_progress_then_swaps_in_the_promoted_model(bot):
    bot.app.retrainer.running = False

    async def run(on_progress, started_by):
        await on_progress(RetrainProgress("train", 0.5, "ALS iteration 8/15"))
        return RetrainOutcome(True, "v2", "ndcg@10 0.31 -> 0.33", {})

    bot.app.retrainer.run.side_effect = run
    interaction = make_interaction(bot, manage_guild=True)
    await run_retrain(bot, interaction)
    assert sent_texts(interaction) == ["Retraining: starting…"]
    edits = [c.kwargs["content"] for c in interaction.edit_original_response.call_args_list]
    assert edits == [
        "Retraining… train (50%): ALS iteration 8/15",
        "Retrained: now serving model v2. ndcg@10 0.31 -> 0.33",
    ]
    assert ("reload", None) in bot.app.service.calls
    assert_no_mentions(interaction.edit_original_response)


async def test_retrain_kept_or_failed_is_said_plainly(bot):
    bot.app.retrainer.running = False
    bot.app.retrainer.run.return_value = RetrainOutcome(False, None, "ndcg@10 dropped 0.02", {})
    interaction = make_interaction(bot, manage_guild=True)
    await run_retrain(bot, interaction)
    assert interaction.edit_original_response.call_args.kwargs["content"] == (
        "Retrained, but kept model v1: ndcg@10 dropped 0.02."
    )
    assert ("reload", None) not in bot.app.service.calls
    bot.app.retrainer.run.side_effect = RetrainFailed("The retrain failed (exit status 2): error: no dataset")
    failed = make_interaction(bot, manage_guild=True)
    await run_retrain(bot, failed)
    assert failed.edit_original_response.call_args.kwargs["content"] == (
        "The retrain failed \\(exit status 2\\): error: no dataset"
    )


async def test_a_second_retrain_is_told_one_is_running(bot):
    bot.app.retrainer.running = True
    interaction = make_interaction(bot, manage_guild=True)
    await run_retrain(bot, interaction)
    assert sent_texts(interaction) == ["A retrain is already running; wait for it to finish."]
    bot.app.retrainer.run.assert_not_awaited()


async def test_progress_edits_are_throttled():
    interaction = make_interaction(make_bot(Config()))
    now = [100.0]
    reply = ProgressMessage(interaction, clock=lambda: now[0])
    for _ in range(5):
        await reply.update(RetrainProgress("train", None, "working"))
    now[0] += 2.5
    await reply.update(RetrainProgress("evaluate", None, "scoring"))
    assert interaction.edit_original_response.await_count == 2


async def test_model_show_and_rollback(bot):
    bot.app.feedback_log.stats.return_value = [VersionStats("v1", 10, 4, 1)]
    interaction = make_interaction(bot, role_ids=(ADMIN_ROLE_ID,))
    await AdminCog.show.callback(AdminCog(bot), interaction)
    embed = interaction.followup.send.call_args.kwargs["embed"]
    assert embed.title == "Model v1"
    assert {f.name: f.value for f in embed.fields}["Feedback since"] == "answers 10 · 👍 4 · 👎 1"
    bot.app.retrainer.running = False
    rollback = make_interaction(bot, role_ids=(ADMIN_ROLE_ID,))
    await AdminCog.rollback.callback(AdminCog(bot), rollback)
    assert bot.app.service.calls.count(("rollback",)) == 1
    assert sent_texts(rollback) == [render.message_text("Rolled back: now serving model v0 (was v1).")]


async def test_a_refused_rollback_replaces_the_placeholder_with_why_and_names_no_path(bot):
    bot.app.retrainer.running = False
    bot.app.service.rollback_error = ModelError(
        f"no good version of 'tiny' was served before v1, so there is nothing to roll back to "
        f"(model tiny/v0: folder {bot.config.models_dir}/tiny/v0 is missing)"
    )
    interaction = make_interaction(bot, role_ids=(ADMIN_ROLE_ID,))
    await AdminCog.rollback.callback(AdminCog(bot), interaction)
    interaction.response.defer.assert_awaited_once_with(thinking=True)
    (text,) = sent_texts(interaction)  # the first followup after "thinking…" replaces it
    assert text == render.message_text(
        "Could not roll back: no good version of 'tiny' was served before v1, so "
        "there is nothing to roll back to (model tiny/v0: folder v0 is missing)"
    )
    assert str(bot.config.data_root) not in text
