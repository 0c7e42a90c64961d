"""One /soundalike as the bot answers it (resolve, similar, render) and the pool the bot runs it in.

The renderer and the pool are the bot's own: ``bot.render.answer_embed`` (discord.py) and
``recommender.app.limits.ComputePool``.
"""

from __future__ import annotations

import time

from bot.render import answer_embed
from recommender.app.limits import ComputePool
from recommender.config import load_config
from recommender.errors import SoundalikeError
from recommender.results import Answer
from recommender.service import SoundalikeService

RENDERER = f"{answer_embed.__module__}.{answer_embed.__qualname__}"


class ComputePath:
    """resolve + similar (versions merged, reasons) + render: what one /soundalike costs."""

    def __init__(self, service: SoundalikeService):
        self.service = service
        # Set to {"resolve": [], "similar": [], "render": []} to record per-stage seconds (one thread).
        self.stages: dict[str, list[float]] | None = None

    def __call__(self, title: str) -> Answer | SoundalikeError | None:
        """The answer (rendered and dropped, as sent), None when no title matched, or the
        SoundalikeError the bot would show."""
        started = time.perf_counter()
        # Uncached: each query is timed as a first-time question, as before the service kept answers.
        best = self.service.resolve_afresh(title).best
        resolved = time.perf_counter()
        if best is None:
            return None
        try:
            answer = self.service.similar(best.item_id, count=5)
        except SoundalikeError as error:  # e.g. a song nobody has played: the bot says so
            return error
        answered = time.perf_counter()
        answer_embed(answer)
        if self.stages is not None:
            self.stages["resolve"].append(resolved - started)
            self.stages["similar"].append(answered - resolved)
            self.stages["render"].append(time.perf_counter() - answered)
        return answer


def compute_pool() -> tuple[ComputePool, str]:
    """The bot's compute pool with its configured per-server limit and no queue bound, and its name."""
    config = load_config()
    pool = ComputePool(per_guild=config.bot.per_guild_concurrency, max_queue=10**6)
    return pool, f"{ComputePool.__module__}.{ComputePool.__qualname__} ({pool.workers} workers)"
