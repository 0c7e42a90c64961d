"""(d) the bot's start: importing the library and opening the service, then the first answer.

A bot process pays for importing the library before it can answer, so the start's figures
include it: this module imports the product inside the measured region, not above.
"""

from __future__ import annotations

import shutil
import time

import numpy as np

from bench.steps.context import Context, jsonable, rss_mb


def first_start(ctx: Context) -> dict:
    """The first start after an import: the title index is built and saved beside the dataset."""
    from recommender.search.cache import CACHE_DIR

    cache = ctx.dataset_dir / CACHE_DIR
    if cache.exists():
        shutil.rmtree(cache)
    return start(ctx)


def start(ctx: Context) -> dict:
    """A start with the title index saved: open (imports included), then the first /soundalike."""
    before = rss_mb()
    started = time.perf_counter()
    from bench.steps.serving import open_service, titles_and_listeners  # the library: part of a start

    service = open_service()
    seconds = time.perf_counter() - started
    info = {}
    try:
        info = service.model_info()
    except Exception as error:  # the figure is the start time; model_info is a courtesy
        info = {"error": str(error)}
    titles, listeners, _ = titles_and_listeners(service)
    first = titles[int(np.argmax(listeners))]
    from bench.steps.answering import ComputePath  # the renderer (discord.py): the bot has it loaded

    path = ComputePath(service)
    answered = time.perf_counter()
    path(first)  # what the first /soundalike after a start costs
    first_answer = time.perf_counter() - answered
    return {
        "seconds": round(seconds, 3),
        "first_answer_ms": round(first_answer * 1000, 2),
        "rss_after_open_mb": round(rss_mb(), 1),
        "rss_added_mb": round(rss_mb() - before, 1),
        "model": jsonable(info),
    }
