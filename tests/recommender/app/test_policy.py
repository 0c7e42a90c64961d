"""The serving policy (recommender/app/policy.py): which songs each kind of answer leaves out,
read from a real feedback log."""

from __future__ import annotations

import pytest

from recommender.app.answers import Member, Request
from recommender.app.policy import Exclusions, exclusions_for
from recommender.feedback.log import FeedbackLog

GUILD, OTHER_GUILD = 10, 20
ALICE = Member(GUILD, 1)


@pytest.fixture
async def feedback_log(tmp_path):
    async with FeedbackLog.open(tmp_path / "log.sqlite3") as log:
        yield log


async def rated_answer(feedback_log, *, seed: str | None, shown: list[str], ratings: dict[int, int]) -> None:
    """An answer shown to Alice (a /soundalike for ``seed``, else a mix) and her ratings of it."""
    query = await feedback_log.record_answer(
        guild_id=ALICE.guild_id,
        user_id=ALICE.user_id,
        command="soundalike" if seed else "mix",
        resolved_item_id=seed,
        suggestions=[(position, item, 0.5) for position, item in enumerate(shown, start=1)],
    )
    for position, value in ratings.items():
        await feedback_log.record_feedback(None, ALICE.user_id, value, position, query_id=query)


async def test_each_answer_leaves_out_what_the_policy_says(feedback_log):
    await feedback_log.block(GUILD, "blocked", by=99)
    await feedback_log.block(OTHER_GUILD, "blocked elsewhere", by=99)
    await rated_answer(feedback_log, seed="seed-a", shown=["down-for-a", "liked-1"], ratings={1: -1, 2: 1})
    await rated_answer(
        feedback_log, seed=None, shown=["down-in-mix", "liked-2", "liked-3"], ratings={1: -1, 2: 1, 3: 1}
    )

    # /soundalike: the server's blocks and what she turned down for this seed only.
    for_a = await exclusions_for(feedback_log, Request("soundalike", ("seed-a",)), ALICE)
    assert for_a == Exclusions(("blocked", "down-for-a"))
    for_b = await exclusions_for(feedback_log, Request("soundalike", ("seed-b",)), ALICE)
    assert for_b == Exclusions(("blocked",))
    # /mix: everything she turned down in this server.
    mix = await exclusions_for(feedback_log, Request("mix", ("seed-a", "seed-b")), ALICE)
    assert mix == Exclusions(("blocked", "down-for-a", "down-in-mix"))
    # /foryou: the same, made from the songs she likes here (the service leaves those out).
    for_you = await exclusions_for(feedback_log, Request("foryou"), ALICE)
    assert for_you.left_out == mix.left_out and set(for_you.liked) == {"liked-1", "liked-2", "liked-3"}
    # Another server: its own blocks, none of her ratings.
    elsewhere = await exclusions_for(feedback_log, Request("foryou"), Member(OTHER_GUILD, ALICE.user_id))
    assert elsewhere == Exclusions(("blocked elsewhere",))
