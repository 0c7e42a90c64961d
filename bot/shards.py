"""``--shards`` and ``--shard-count``: which shards of Discord's gateway this process runs.

Discord splits a bot's servers over ``shard_count`` gateway connections: a server belongs to
shard ``(guild_id >> 22) % shard_count``, and its events (slash commands, buttons, reactions)
reach only the connection that identified as that shard. Several processes (on several
machines) each run some of the shards, all with the same count, and share one feedback log
and one model store. ``--shards 0-1 --shard-count 4`` runs shards 0 and 1 of 4 here with
discord.py's ``AutoShardedBot``; without the flags the bot is one plain connection, as before.
"""

from __future__ import annotations

import re

# Discord's own limit is far lower for any bot that would run this; this only stops typos
# (--shard-count 40000000) from launching millions of connections.
MAX_SHARD_COUNT = 65_536
_PART = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")


class ShardSpecError(ValueError):
    """Shard flags that do not make sense; the message says what to type instead."""


def parse_shard_ids(text: str, count: int) -> list[int]:
    """Shard ids from ``--shards``: numbers and ranges separated by commas ("0-1", "0,2,5-7"),
    each below ``count``, none twice; in increasing order."""
    ids: list[int] = []
    for part in text.split(","):
        match = _PART.fullmatch(part)
        if match is None:
            raise ShardSpecError(
                f"--shards {text!r}: {part.strip()!r} is not a shard id or a range; "
                "write ids and ranges separated by commas, e.g. --shards 0-1 or --shards 0,2,5-7"
            )
        first = int(match[1])
        last = int(match[2]) if match[2] is not None else first
        if last < first:
            raise ShardSpecError(f"--shards {text!r}: the range {first}-{last} runs backwards; write {last}-{first}")
        if last >= count:
            raise ShardSpecError(
                f"--shards {text!r}: shard {last} does not exist with --shard-count {count} "
                f"(shard ids go from 0 to {count - 1})"
            )
        for shard in range(first, last + 1):
            if shard in ids:
                raise ShardSpecError(f"--shards {text!r}: shard {shard} is named twice")
            ids.append(shard)
    return sorted(ids)


def shard_options(shards: str | None, shard_count: int | None) -> dict:
    """The bot's keyword arguments for these flags: {} for none (one plain connection), else
    ``shard_ids`` and ``shard_count`` for an AutoShardedBot. ``--shard-count`` alone runs every
    shard of that count in this process."""
    if shards is None and shard_count is None:
        return {}
    if shard_count is None:
        raise ShardSpecError(
            "--shards needs --shard-count: the total number of shards over all processes, e.g. "
            "--shards 0-1 --shard-count 4"
        )
    if not 1 <= shard_count <= MAX_SHARD_COUNT:
        raise ShardSpecError(f"--shard-count {shard_count}: give a number of shards from 1 to {MAX_SHARD_COUNT}")
    ids = parse_shard_ids(shards, shard_count) if shards is not None else list(range(shard_count))
    return {"shard_ids": ids, "shard_count": shard_count}


def describe(options: dict) -> str:
    """ "shards 0, 1 of 4" for the start-up log line."""
    ids = ", ".join(str(shard) for shard in options["shard_ids"])
    return f"shard{'s' if len(options['shard_ids']) > 1 else ''} {ids} of {options['shard_count']}"
