"""Running `python -m recommender retrain` from the bot or the console.

Training is CPU-heavy and long, so it runs as a separate process
(``asyncio.create_subprocess_exec``): the bot keeps answering meanwhile. The process prints
one JSON object a line (``--json-progress``); each becomes a :class:`RetrainProgress` for the
caller to show, and the last one (stage ``done``) a :class:`RetrainOutcome`.
One retrain at a time: a second request gets :class:`RetrainAlreadyRunning`.

What the process says is shown to Discord members, who have no business knowing where the
server keeps its files: every text given to the caller has its filesystem paths cut to their
last part (:func:`member_text`), and a text that named one is logged whole.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from recommender.config import ENV_PREFIX, PROJECT_ROOT, Config
from recommender.errors import SoundalikeError, without_paths
from recommender.feedback.backends import log_names

log = logging.getLogger(__name__)

# Longest a retrain may run before it is stopped (large catalogs train for minutes, not hours).
DEFAULT_TIMEOUT_S = 3 * 3600.0
# A JSON progress line may carry metrics; allow long lines.
LINE_LIMIT = 1 << 20


class RetrainAlreadyRunning(SoundalikeError):
    def __init__(self, started_at: float, started_by: str):
        minutes = max(0, int((time.monotonic() - started_at) // 60))
        super().__init__(
            f"A retrain is already running (started {minutes} min ago by {started_by}); wait for it to finish."
        )


class RetrainFailed(SoundalikeError):
    """The retrain process failed; the message carries its last error line."""


@dataclass(frozen=True)
class RetrainProgress:
    stage: str
    progress: float | None  # 0..1 when known
    message: str


DATABASE_VARIABLE = f"{ENV_PREFIX}BOT__DATABASE"  # how the retrain process learns a PostgreSQL log


@dataclass(frozen=True)
class RetrainOutcome:
    promoted: bool
    version: str | None
    reason: str
    metrics: dict = field(default_factory=dict)


ProgressCallback = Callable[[RetrainProgress], Awaitable[None]]


def server_paths(config: Config) -> tuple[Path | str, ...]:
    """Folders that messages may name: the data, the log, the config's and the project's folder."""
    return (config.data_root, *log_names(config.database_location), config.base_dir, PROJECT_ROOT, Path.home())


def member_text(text: str, config: Config, what: str = "retrain") -> str:
    """``text`` without server paths, for Discord; the whole text goes to the log when it had one."""
    shown = without_paths(text, server_paths(config))
    if shown != text:
        log.info("%s: %s", what, text)
    return shown


class Retrainer:
    """Starts retrain processes for one dataset, one at a time."""

    def __init__(
        self,
        config: Config,
        *,
        dataset: str | None = None,
        config_path: Path | None = None,
        command: list[str] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ):
        self.config = config
        self.dataset = dataset or config.data.default_dataset
        self.config_path = config_path
        # The program to run; tests may swap in a stand-in that prints the same JSON lines.
        self.command = command or [sys.executable, "-m", "recommender"]
        self.timeout_s = timeout_s
        self._started_at: float | None = None
        self._started_by = ""

    @property
    def running(self) -> bool:
        return self._started_at is not None

    def argv(self) -> list[str]:
        bot = self.config.bot
        argv = list(self.command)
        if self.config_path is not None:
            argv += ["--config", str(self.config_path)]
        location = self.config.database_location
        # A PostgreSQL URL may hold a password: it goes in the environment (environment()),
        # never on a command line that every user of the machine can list.
        log_file = ["--feedback-db", str(location)] if isinstance(location, Path) else []
        return [
            *argv,
            "retrain",
            "--dataset",
            self.dataset,
            *log_file,
            "--feedback-weight",
            repr(bot.feedback_weight),
            "--tolerance",
            repr(bot.promotion_tolerance),
            "--json-progress",
        ]

    async def run(self, on_progress: ProgressCallback, *, started_by: str = "someone") -> RetrainOutcome:
        """Run one retrain to the end, reporting progress; raise RetrainFailed if it fails."""
        if self._started_at is not None:
            raise RetrainAlreadyRunning(self._started_at, self._started_by)
        self._started_at, self._started_by = time.monotonic(), started_by
        try:
            return await asyncio.wait_for(self._run(on_progress), self.timeout_s)
        except TimeoutError:
            raise RetrainFailed(f"The retrain ran longer than {self.timeout_s:.0f} s and was stopped.") from None
        finally:
            self._started_at = None

    def environment(self) -> dict[str, str]:
        """The retrain process's environment: this one's, and a PostgreSQL log's URL as the
        config's own override of [bot] database (so the process reads the log the bot writes)."""
        environment = dict(os.environ)
        location = self.config.database_location
        if isinstance(location, str):
            environment[DATABASE_VARIABLE] = location
        return environment

    async def _run(self, on_progress: ProgressCallback) -> RetrainOutcome:
        argv = self.argv()
        log.info("starting retrain: %s", " ".join(argv))
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=LINE_LIMIT,
            cwd=PROJECT_ROOT,  # so that `-m recommender` imports this checkout
            env=self.environment(),
        )
        errors: collections.deque[str] = collections.deque(maxlen=20)
        drain_stderr = asyncio.create_task(_collect_lines(process.stderr, errors))
        outcome: RetrainOutcome | None = None
        error_message = ""  # from a {"stage": "error"} line: the clearest reason there is
        try:
            assert process.stdout is not None
            async for raw in process.stdout:
                line = raw.decode("utf-8", "replace").strip()
                event = _parse(line)
                if event is None:
                    log.debug("retrain output: %s", line)
                    continue
                if event.get("stage") == "done":
                    metrics = event.get("metrics")
                    outcome = RetrainOutcome(
                        promoted=bool(event.get("promoted")),
                        version=None if event.get("version") is None else str(event["version"]),
                        reason=member_text(str(event.get("reason") or ""), self.config),
                        metrics=metrics if isinstance(metrics, dict) else {},
                    )
                    continue
                message = member_text(str(event.get("message") or ""), self.config)
                if event.get("stage") == "error":
                    error_message = message
                progress = event.get("progress")
                await on_progress(
                    RetrainProgress(
                        stage=member_text(str(event.get("stage") or ""), self.config),
                        progress=float(progress) if isinstance(progress, (int, float)) else None,
                        message=message,
                    )
                )
            status = await process.wait()
            await drain_stderr
        except BaseException:
            if process.returncode is None:
                process.kill()
                await process.wait()
            drain_stderr.cancel()
            raise
        if status != 0 or outcome is None:
            last = error_message or member_text(
                next((line for line in reversed(errors) if line.strip()), ""), self.config
            )
            detail = f": {last}" if last else ""
            raise RetrainFailed(f"The retrain failed (exit status {status}){detail}")
        log.info("retrain finished: promoted=%s version=%s (%s)", outcome.promoted, outcome.version, outcome.reason)
        return outcome


async def _collect_lines(stream: asyncio.StreamReader | None, into: collections.deque[str]) -> None:
    if stream is None:
        return
    async for raw in stream:
        line = raw.decode("utf-8", "replace").rstrip()
        into.append(line)
        log.debug("retrain stderr: %s", line)


def _parse(line: str) -> dict | None:
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) else None
