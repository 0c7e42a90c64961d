"""Nothing acknowledged is lost: SIGKILL a process in the middle of a burst of writes, then
check that the database is sound and holds every rating that process acknowledged (a SQLite
file, and a real PostgreSQL server)."""

from __future__ import annotations

import asyncio
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
from feedback_logs import rows
from paths import HELPERS

from recommender.feedback.log import FeedbackLog

PROJECT_ROOT = HELPERS.parent.parent
WRITER = HELPERS / "feedback_writer.py"
MESSAGE_ID = 424_242  # as in the helper
ACKS_BEFORE_KILL = 150
WAIT_SECONDS = 20.0


def pump_lines(stream, lines: queue.Queue) -> None:
    """Copy a pipe into a queue line by line (so the test can wait with a timeout)."""
    for line in stream:
        lines.put(line.strip())
    lines.put(None)  # end of stream


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_sigkill_mid_burst_loses_no_acknowledged_rating(db_path: Path | str):
    writer = subprocess.Popen(
        [
            sys.executable,
            str(WRITER),
            str(db_path),
            "--max-rows",
            "100000",
            "--max-seconds",
            str(WAIT_SECONDS),
            "--burst",
            "8",
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    pump = threading.Thread(target=pump_lines, args=(writer.stdout, lines), daemon=True)
    pump.start()
    acknowledged: set[int] = set()
    ready = False
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while len(acknowledged) < ACKS_BEFORE_KILL:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"only {len(acknowledged)} acknowledgements in {WAIT_SECONDS} s"
            line = lines.get(timeout=remaining)
            assert line is not None, f"writer ended early: {writer.stderr.read()}"
            if line == "ready":
                ready = True
            else:
                acknowledged.add(int(line))
        writer.send_signal(signal.SIGKILL)  # bursts of 8 are in flight all the time
        assert writer.wait(timeout=10) == -signal.SIGKILL
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(timeout=10)
    # Acknowledgements printed before the kill may still sit in the pipe.
    pump.join(timeout=10)
    while (line := lines.get_nowait()) is not None:
        assert line != "done", "the writer finished before it was killed"
        acknowledged.add(int(line))
    writer.stdout.close()
    writer.stderr.close()
    assert ready and len(acknowledged) >= ACKS_BEFORE_KILL

    if isinstance(db_path, Path):
        with closing(sqlite3.connect(db_path)) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    stored = {member for (member,) in rows(db_path, "SELECT user_id FROM feedback WHERE message_id = ?", (MESSAGE_ID,))}
    assert acknowledged <= stored, f"lost: {sorted(acknowledged - stored)[:10]}"

    # The log opens again after the crash and keeps working.
    asyncio.run(rate_again_after_the_crash(db_path))


async def rate_again_after_the_crash(db_path: Path | str) -> None:
    async with FeedbackLog.open(db_path) as log:
        assert await log.record_feedback(MESSAGE_ID, 1, 1) is True
        logged = await log.query_for_message(MESSAGE_ID)
        assert logged is not None and len(logged.suggestions) == 5
