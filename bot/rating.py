"""Rating an answer in Discord: 👍/👎 reactions and a 👍 n / 👎 n button per suggestion.

The buttons are persistent: each ``custom_id`` says which position and which rating it is
(``soundalike:rate:<position>:<up|down>``), and the message id comes with the click, so a
:class:`discord.ui.DynamicItem` rebuilds them from any old message after a restart. Pressing
the rating a member already gives that song again takes it back (a 👎 on one suggestion keeps
the song out of their answers until then; see :meth:`recommender.app.core.Soundalike.rate`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import discord

from recommender.app.wording import THUMBS_DOWN, THUMBS_UP, rating_text
from recommender.feedback.errors import FeedbackLogError
from recommender.results import Answer

from .messages import LOG_NOT_WRITTEN, send_ephemeral

if TYPE_CHECKING:
    from .app import SoundalikeBot

log = logging.getLogger(__name__)

RATING_BY_EMOJI = {THUMBS_UP: 1, THUMBS_DOWN: -1}
# Skin tones (🏻..🏿) and the emoji variation selector do not change what a thumb means.
_MODIFIERS = re.compile("[\U0001f3fb-\U0001f3ff\ufe0f]")
BUTTONS_PER_ROW = 5
# On shutdown, queued 👍/👎 still being added for at most this long.
REACTIONS_FINISH_S = 2.0


def rating_of(emoji: discord.PartialEmoji) -> int | None:
    """+1 for 👍, -1 for 👎 (any skin tone), None for every other emoji (custom ones included)."""
    if emoji.id is not None or not emoji.name:
        return None
    return RATING_BY_EMOJI.get(_MODIFIERS.sub("", emoji.name))


class RateButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"soundalike:rate:(?P<position>\d{1,3}):(?P<value>up|down)"
):
    """👍 n / 👎 n under an answer: rate suggestion n alone."""

    def __init__(self, position: int, value: int):
        up = value > 0
        super().__init__(
            discord.ui.Button(
                label=str(position),
                emoji=THUMBS_UP if up else THUMBS_DOWN,
                style=discord.ButtonStyle.secondary,
                custom_id=f"soundalike:rate:{position}:{'up' if up else 'down'}",
            )
        )
        self.position = position
        self.value = 1 if up else -1

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ):
        return cls(int(match["position"]), 1 if match["value"] == "up" else -1)

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: SoundalikeBot = interaction.client  # type: ignore[assignment]
        if interaction.message is None:
            return
        message_id = interaction.message.id
        try:
            rating = await bot.app.rate_shown(message_id, interaction.user.id, value=self.value, position=self.position)
        except FeedbackLogError as error:
            # A button press is not a command: its errors never reach the tree's on_error.
            log.warning("a rating on message %d was not recorded: %s", message_id, error)
            await send_ephemeral(interaction, LOG_NOT_WRITTEN)
            return
        await send_ephemeral(
            interaction, rating_text(rating.outcome, self.value, self.position, per_seed=rating.per_seed)
        )


def rating_view(answer: Answer, *, max_rows: int = 5) -> discord.ui.View:
    """👍 n and 👎 n buttons for every suggestion (two rows per five suggestions, within
    ``max_rows`` of Discord's five; reactions still rate the whole answer beyond that)."""
    view = discord.ui.View(timeout=None)
    positions = list(range(1 + answer.offset, 1 + answer.offset + len(answer.suggestions)))
    rows = 0
    for start in range(0, len(positions), BUTTONS_PER_ROW):
        chunk = positions[start : start + BUTTONS_PER_ROW]
        for value, row in ((1, rows), (-1, rows + 1)):
            if row >= max_rows:
                return view
            for position in chunk:
                button = RateButton(position, value)
                button.row = row
                view.add_item(button)
        rows += 2
    return view


async def add_rating_reactions(message: discord.Message) -> None:
    """Put 👍 and 👎 on an answer so that rating it is one click."""
    for emoji in (THUMBS_UP, THUMBS_DOWN):
        try:
            await message.add_reaction(emoji)
        except discord.HTTPException as error:  # no Add Reactions permission, message gone...
            log.info("could not add %s to message %d: %s", emoji, message.id, error)
            return


class RatingReactions:
    """Puts 👍 and 👎 on answers after the answers themselves are shown.

    They are two of an answer's four calls to Discord, and Discord allows only a few reactions
    a second per channel: added before the bot turns to the next answer, they would hold up
    every answer of a burst. So an answer is shown, then queued here; ``workers`` tasks add
    the reactions while no request is computing or waiting (``answers_pending``), or once an
    answer has waited ``max_delay_s``. Past ``max_queued`` answers waiting, a new one gets no
    reactions (its buttons still rate it, and members can still react themselves).
    """

    def __init__(
        self,
        answers_pending: Callable[[], bool],
        *,
        workers: int = 4,
        max_delay_s: float = 5.0,
        max_queued: int = 10_000,
        poll_s: float = 0.05,
    ):
        self._answers_pending = answers_pending
        self.workers, self.max_delay_s, self.poll_s = workers, max_delay_s, poll_s
        self._queue: asyncio.Queue[tuple[float, discord.Message]] = asyncio.Queue(maxsize=max_queued)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._work(), name=f"soundalike-rating-reactions-{n}") for n in range(self.workers)
            ]

    def add(self, message: discord.Message) -> None:
        try:
            self._queue.put_nowait((time.monotonic(), message))
        except asyncio.QueueFull:
            waiting = self._queue.qsize()
            log.info("%d answers are waiting for their reactions; message %d gets none", waiting, message.id)

    async def _work(self) -> None:
        while True:
            queued_at, message = await self._queue.get()
            try:
                # Polled: the compute pool has no event for "idle", and a check every 50 ms
                # costs nothing beside an answer.
                while self._answers_pending() and time.monotonic() - queued_at < self.max_delay_s:  # noqa: ASYNC110
                    await asyncio.sleep(self.poll_s)
                await add_rating_reactions(message)
            except Exception:  # a worker that stopped would leave every later answer bare
                log.exception("could not add the rating reactions to message %d", message.id)
            finally:
                self._queue.task_done()

    async def close(self, within_s: float = REACTIONS_FINISH_S) -> None:
        """Add what is queued, for at most ``within_s`` seconds, then stop."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), within_s)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
