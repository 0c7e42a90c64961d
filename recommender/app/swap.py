"""Every process serves the model the store calls current: watching the ``current`` pointer.

Several bot processes (on several machines) share one model store. A ``/retrain`` or
``/model rollback`` in any of them, or ``python -m recommender train``/``rollback`` anywhere,
moves the store's ``current`` pointer (atomically, after the version's folder is complete and
fsynced). :class:`ModelWatcher` reads that small file every ``[serving] watch_model_seconds``
and, when it names another version than the one answering here, loads it in a worker thread,
verified like any model (checksums, contents, the dataset's fingerprint), and swaps it in.

Why the pointer rather than PostgreSQL's LISTEN/NOTIFY: the pointer is the one truth of which
model is current, with either log backend (SQLite has no notifications) and for every way a
model is published (the command line has no database connection); a process that was down or
disconnected catches up at its next look, where a NOTIFY sent meanwhile is lost; and it needs
no connection held open per process. The price is one read of a tiny file per interval.

A version that cannot be served (damaged, for other data, unreadable) is reported once in a
warning and the model answering now stays; it is tried again after ``RETRY_REFUSED_S`` (a
shared folder may show a new version's files late). Nothing here ever stops the bot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from recommender.errors import SoundalikeError
from recommender.service import SoundalikeService

log = logging.getLogger(__name__)

# A version refused once is tried again after this many seconds.
RETRY_REFUSED_S = 60.0


class ModelWatcher:
    """Follows the store's ``current`` pointer for one service (see the module's doc)."""

    def __init__(
        self, service: SoundalikeService, interval_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.service = service
        self.interval_s = interval_s
        self._clock = clock
        self._refused: dict[str, float] = {}  # version -> when it was refused
        self._pointer_problem: str | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> str | None:
        """One look at the pointer; the version swapped in, or None when nothing changed."""
        async with self._lock:
            try:
                current = await asyncio.to_thread(self.service.store.current_version)
            except (SoundalikeError, OSError) as error:
                if str(error) != self._pointer_problem:  # say it once, not every interval
                    log.warning(
                        "cannot read the current-model pointer (%s); still serving model %s", error, self.serving
                    )
                    self._pointer_problem = str(error)
                return None
            self._pointer_problem = None
            if current is None or current == self.serving:
                return None
            refused_at = self._refused.get(current)
            if refused_at is not None and self._clock() - refused_at < RETRY_REFUSED_S:
                return None
            before = self.serving
            try:
                now = await asyncio.to_thread(self.service.reload, current)
            except Exception as error:  # a bad publish never stops the bot
                if current not in self._refused:
                    detail = str(error) if isinstance(error, SoundalikeError) else repr(error)
                    log.warning(
                        "model %s was published but cannot be served (%s); still serving model %s",
                        current,
                        detail,
                        before,
                    )
                self._refused[current] = self._clock()
                return None
            self._refused.pop(current, None)
            log.info("swapped to model %s, published in the shared model store (was %s)", now, before)
            return now

    @property
    def serving(self) -> str:
        return self.service.model.version

    async def run(self) -> None:
        """Look every ``interval_s`` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.check()
            except Exception:  # never let the watcher die: log it and look again next time
                log.exception("checking the model store for a new model failed")
