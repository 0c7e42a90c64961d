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
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))  # the fake Discord lives with the tests

from fake_discord import FakeDiscord, FakeMember, FakeUser, option, shard_of, snowflake  # noqa: E402

BUSY = re.compile(r"Busy, try again in \d+ s\.")
EPHEMERAL = 1 << 6


@dataclass
class Seen:
    sent_at: float
    shard: int = 0  # the shard of its server: the bot process whose connection gets it
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


async def main(requests: int, servers: int, bound_s: float, connections: int = 1) -> None:
    async with FakeDiscord() as fake:
        # Servers spread over the shards as Discord's ids spread them (ids made within one
        # millisecond would otherwise all fall on one shard).
        guilds = [fake.add_guild(f"Server {n}", shard=(n % connections, connections)) for n in range(servers)]
        print(json.dumps({"port": fake.port}), flush=True)
        await fake.wait_connected(connections, timeout=bound_s)
        await fake.wait_until(lambda: "global" in fake.commands, timeout=bound_s)
        await asyncio.sleep(1.0)  # let the bot settle after READY (guild_ready_timeout)
        catalog = songs(40)
        seen: dict[str, Seen] = {}
        started = time.monotonic()
        for number in range(requests):
            title, artist = catalog[number % len(catalog)]
            member = FakeMember(FakeUser(snowflake(), f"listener{number}"))
            sent_at = time.monotonic()
            guild = guilds[number % servers]
            pending = await fake.slash_command(
                "soundalike", [option("title", title), option("artist", artist)], member=member, guild=guild
            )
            seen[pending.token] = Seen(sent_at, shard=shard_of(guild.id, connections))
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
        "answered_by_shard": dict(
            sorted(Counter(str(one.shard) for one in seen.values() if one.final == "answer").items())
        ),
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
    parser.add_argument("--connections", type=int, default=1, help="gateway connections (shards) to wait for")
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.servers, args.timeout, args.connections))
