"""The Discord side of the burst step, in its own process: a fake Discord that sends a burst.

``python -m bench.steps.discord_burst --requests 1000 --servers 10``: starts the fake Discord of
the tests (tests/fake_discord) on 127.0.0.1 with ``--servers`` servers, prints ``{"port": N}``,
waits for one bot to connect and sync its commands, then sends ``--requests`` /soundalike at
once, each from its own member, the servers in turn. It times, with its own clock, each
interaction's first response (the acknowledgement: an answer, a note or "thinking…") and its
answer (the embed in place of "thinking…"), waits until every one has ended and every answer
has its 👍/👎 (the bot's last step; bounded by ``--timeout``), prints one JSON line of what it
saw, and keeps serving until a line comes on stdin (so that the bot closes first).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))  # the fake Discord lives with the tests

from fake_discord import FakeDiscord, FakeMember, FakeUser, option, snowflake  # noqa: E402

BUSY = re.compile(r"Busy, try again in \d+ s\.")
EPHEMERAL = 1 << 6


@dataclass
class Seen:
    sent_at: float
    acknowledged_at: float | None = None
    answered_at: float | None = None
    final: str | None = None  # "answer", "busy" or "other"
    detail: str = ""


def songs(count: int) -> list[tuple[str, str]]:
    with (ROOT / "data" / "demo" / "catalog.csv").open(encoding="utf-8", newline="") as handle:
        return [(row["title"], row["artist"]) for row, _ in zip(csv.DictReader(handle), range(count))]


def rated(fake: FakeDiscord) -> int:
    """Answers the bot has finished: 👎 put on them."""
    return sum(1 for r in fake.requests if r.method == "PUT" and "/reactions/" in r.path and "👎" in r.path)


def read(fake: FakeDiscord, seen: dict[str, Seen], start: int) -> int:
    """File the fake's requests from index ``start`` under their interactions; the next index."""
    app = fake.application_id
    requests = fake.requests
    for recorded in requests[start:]:
        if match := re.fullmatch(r"/interactions/\d+/([^/]+)/callback", recorded.path):
            one = seen.get(match[1])
            if one is None:
                continue
            one.acknowledged_at = one.acknowledged_at or recorded.at
            if recorded.body["type"] == 4:  # answered at once: a note
                _final(one, recorded.body.get("data") or {})
        elif match := re.fullmatch(rf"/webhooks/{app}/([^/]+)/messages/@original", recorded.path):
            one = seen.get(match[1])
            if one is not None and recorded.method == "PATCH" and recorded.body.get("embeds"):
                one.final, one.answered_at = "answer", recorded.at
        elif match := re.fullmatch(rf"/webhooks/{app}/([^/]+)", recorded.path):
            one = seen.get(match[1])
            if one is not None and recorded.method == "POST":
                _final(one, recorded.body)
    return len(requests)


def _final(one: Seen, data: dict) -> None:
    content = data.get("content") or ""
    if (data.get("flags") or 0) & EPHEMERAL and BUSY.fullmatch(content):
        one.final = "busy"
    else:
        one.final, one.detail = "other", content[:200]


async def main(requests: int, servers: int, bound_s: float) -> None:
    async with FakeDiscord() as fake:
        guilds = [fake.add_guild(f"Server {number}") for number in range(servers)]
        print(json.dumps({"port": fake.port}), flush=True)
        await fake.wait_connected(1, timeout=bound_s)
        await fake.wait_until(lambda: "global" in fake.commands, timeout=bound_s)
        await asyncio.sleep(1.0)  # let the bot settle after READY (guild_ready_timeout)
        catalog = songs(40)
        seen: dict[str, Seen] = {}
        started = time.monotonic()
        for number in range(requests):
            title, artist = catalog[number % len(catalog)]
            member = FakeMember(FakeUser(snowflake(), f"listener{number}"))
            sent_at = time.monotonic()
            pending = await fake.slash_command(
                "soundalike",
                [option("title", title), option("artist", artist)],
                member=member,
                guild=guilds[number % servers],
            )
            seen[pending.token] = Seen(sent_at)
        dispatched = time.monotonic() - started
        index = 0
        async with asyncio.timeout(bound_s):
            while True:
                index = read(fake, seen, index)
                answers = sum(one.final == "answer" for one in seen.values())
                if all(one.final is not None for one in seen.values()) and rated(fake) >= answers:
                    break
                await asyncio.sleep(0.05)
        finished = time.monotonic() - started
        print(json.dumps(figures(seen, requests, servers, dispatched, finished)), flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # the bot has closed


def figures(seen: dict[str, Seen], requests: int, servers: int, dispatched: float, finished: float) -> dict:
    return {
        "requests": requests,
        "servers": servers,
        "members": requests,
        "dispatch_s": round(dispatched, 3),
        "all_done_s": round(finished, 3),
        "answered": sum(one.final == "answer" for one in seen.values()),
        "busy": sum(one.final == "busy" for one in seen.values()),
        "other": [one.detail for one in seen.values() if one.final == "other"][:5],
        "acknowledged_s": [round(one.acknowledged_at - one.sent_at, 4) for one in seen.values() if one.acknowledged_at],
        "answered_s": [round(one.answered_at - one.sent_at, 4) for one in seen.values() if one.answered_at],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.steps.discord_burst")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.servers, args.timeout))
