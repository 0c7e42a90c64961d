"""Write ratings into a feedback log in concurrent bursts, acknowledging each on stdout.

tests/recommender/feedback/test_crash.py runs this in a subprocess and SIGKILLs it mid-burst. Each rating
comes from its own member, so the member id names the row; that id is printed (and flushed)
only after ``record_feedback`` has returned, which is the log's promise that the row is on disk.

    python tests/helpers/feedback_writer.py DB_PATH_OR_URL [--max-rows N] [--max-seconds S] [--burst B]

Prints ``ready`` once the answer being rated is logged, one member id per acknowledged rating,
and ``done`` if it reaches a limit before being killed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

# Runnable as a plain script from anywhere: the project root holds the `recommender` package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from recommender.feedback.backends import location_of
from recommender.feedback.log import FeedbackLog

MESSAGE_ID = 424_242
POSITIONS = 5


async def write(db_path: Path | str, max_rows: int, max_seconds: float, burst: int) -> None:
    async with FeedbackLog.open(db_path) as log:
        await log.record_answer(
            guild_id=1,
            user_id=1,
            command="similar",
            resolved_item_id="seed",
            model_version="crash-test",
            suggestions=[(position, f"song-{position}", 1.0 / position) for position in range(1, POSITIONS + 1)],
            message_id=MESSAGE_ID,
        )
        print("ready", flush=True)

        async def rate(member: int) -> None:
            position = member % (POSITIONS + 1) or None  # some whole-message ratings too
            landed = await log.record_feedback(MESSAGE_ID, member, 1 if member % 2 else -1, position)
            if landed:
                print(member, flush=True)  # the acknowledgement

        deadline = time.monotonic() + max_seconds
        next_member = 1
        while next_member <= max_rows and time.monotonic() < deadline:
            members = range(next_member, min(next_member + burst, max_rows + 1))
            await asyncio.gather(*(rate(member) for member in members))
            next_member = members[-1] + 1
    print("done", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db_path", type=location_of, help="a SQLite file or a postgresql:// URL")
    parser.add_argument("--max-rows", type=int, default=10_000)
    parser.add_argument("--max-seconds", type=float, default=30.0)
    parser.add_argument("--burst", type=int, default=8, help="ratings written concurrently")
    args = parser.parse_args()
    asyncio.run(write(args.db_path, args.max_rows, args.max_seconds, args.burst))


if __name__ == "__main__":
    main()
