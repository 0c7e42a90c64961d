"""bench.steps.answering: the measured /soundalike path is the bot's (resolve, similar, render)."""

from __future__ import annotations

import asyncio

import numpy as np

from bench.steps.answering import RENDERER, ComputePath, compute_pool
from recommender.results import Answer


def test_a_typed_title_is_answered_rendered_and_timed_by_stage(demo_service):
    dataset = demo_service.dataset
    most_heard = int(np.argmax(dataset.listeners))
    path = ComputePath(demo_service)
    path.stages = {"resolve": [], "similar": [], "render": []}
    answer = path(dataset.title(most_heard).lower())
    assert isinstance(answer, Answer) and len(answer.suggestions) == 5
    assert answer.seeds[0].item_index == most_heard
    assert {name: len(seconds) for name, seconds in path.stages.items()} == {"resolve": 1, "similar": 1, "render": 1}
    assert RENDERER == "bot.render.answer_embed"


def test_a_title_that_matches_nothing_gets_no_answer(demo_service):
    path = ComputePath(demo_service)
    assert path("qzxv qzxv qzxv") is None


def test_the_pool_is_the_bots():
    async def run() -> tuple[int, str]:
        pool, name = compute_pool()
        try:
            return await pool.run(None, lambda: 6 * 7), name
        finally:
            pool.close()

    value, name = asyncio.run(run())
    assert value == 42 and name.startswith("recommender.app.limits.ComputePool (")
