"""Open a feedback log whose file is read-only, read from it, try to write, and report as JSON.

tests/recommender/feedback/test_log.py runs this in a subprocess after making the file
read-only (chmod 444). Root ignores file permissions through the CAP_DAC_OVERRIDE capability,
and CI runs as root: so when run as root this process first gives that capability up, and the
file is then as read-only to it as to anyone else. It stays root otherwise (it can still read
the project and the file), and nothing else in the test run loses anything.

    python tests/helpers/read_only_log.py DB_PATH MESSAGE_ID

Prints ``{"answer_found": bool, "write_error": str | null}`` for an attempt to rate MESSAGE_ID.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import sys
from pathlib import Path

# Runnable as a plain script from anywhere: the project root holds the `recommender` package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from recommender.feedback.errors import LogWriteError
from recommender.feedback.log import FeedbackLog

CAP_DAC_OVERRIDE = 1  # linux/capability.h
LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def give_up_overriding_file_permissions() -> None:
    """Drop CAP_DAC_OVERRIDE from this (still single-threaded) process, for good, when root.

    Threads started later (aiosqlite's) inherit the reduced set. Linux's capget/capset through
    libc; a root process elsewhere cannot be made to respect permissions this way, so it stops.
    """
    if os.geteuid() != 0:
        return  # permissions already apply
    libc = ctypes.CDLL(None, use_errno=True)
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    sets = (_CapData * 2)()  # version 3 holds 64 capabilities as two 32-bit words
    if libc.capget(ctypes.byref(header), sets) != 0:
        raise SystemExit(f"capget failed: {os.strerror(ctypes.get_errno())}")
    keep = ~(1 << CAP_DAC_OVERRIDE) & 0xFFFFFFFF
    sets[0].effective &= keep
    sets[0].permitted &= keep
    sets[0].inheritable &= keep
    if libc.capset(ctypes.byref(header), sets) != 0:
        raise SystemExit(f"capset failed: {os.strerror(ctypes.get_errno())}")


async def open_read_and_try_to_write(db_path: Path, message_id: int) -> dict:
    async with FeedbackLog.open(db_path) as log:
        found = await log.query_for_message(message_id) is not None
        try:
            await log.record_feedback(message_id, 1, 1)
        except LogWriteError as error:
            return {"answer_found": found, "write_error": str(error)}
    return {"answer_found": found, "write_error": None}


def main() -> None:
    db_path, message_id = Path(sys.argv[1]), int(sys.argv[2])
    give_up_overriding_file_permissions()
    print(json.dumps(asyncio.run(open_read_and_try_to_write(db_path, message_id))), flush=True)


if __name__ == "__main__":
    main()
