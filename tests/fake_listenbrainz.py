"""A fake ListenBrainz API on 127.0.0.1 (aiohttp.web), for the client's and the bot's tests.

It answers the two calls Soundalike makes, as ListenBrainz documents them: ``GET
/1/user/{name}/listen-count`` and ``GET /1/user/{name}/listens?count=N`` (404 with
``{"code": 404, "error": "Cannot find user: …"}`` for a name it does not know). A test
scripts trouble: ``fail_next`` answers the next calls with a status (a 429 with
``X-RateLimit-Reset-In``, a 5xx), ``delay`` makes every answer slow, and ``remaining`` /
``reset_in`` set the rate-limit headers every answer carries. ``calls`` records each call
(path, query, monotonic time, User-Agent).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web


def listen(title: str, artist: str, *, mbid: str | None = None, at: int = 1_700_000_000) -> dict:
    """A listen in ListenBrainz's JSON (docs/users/json.rst), matched when ``mbid`` is given."""
    metadata: dict = {"track_name": title, "artist_name": artist, "additional_info": {}}
    if mbid is not None:
        metadata["mbid_mapping"] = {"recording_mbid": mbid, "artist_mbids": []}
    return {"listened_at": at, "track_metadata": metadata, "user_name": "someone"}


@dataclass(frozen=True)
class Call:
    path: str
    query: dict[str, str]
    at: float
    user_agent: str


@dataclass
class FakeListenBrainz:
    users: dict[str, list[dict]] = field(default_factory=dict)  # name -> listens, newest first
    delay: float = 0.0
    remaining: int = 100
    reset_in: float = 10.0
    fail_next: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    url: str = ""

    def _headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": "100",
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset-In": f"{self.reset_in:g}",
        }

    async def _answer(self, request: web.Request) -> web.Response:
        self.calls.append(
            Call(request.path, dict(request.query), time.monotonic(), request.headers.get("User-Agent", ""))
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_next:
            status, extra = self.fail_next.pop(0)
            return web.json_response({"code": status, "error": "scripted"}, status=status, headers=extra)
        name = request.match_info["name"]
        listens = self.users.get(name)
        if listens is None:
            return web.json_response(
                {"code": 404, "error": f"Cannot find user: {name}"}, status=404, headers=self._headers()
            )
        if request.match_info["what"] == "listen-count":
            return web.json_response({"payload": {"count": len(listens)}}, headers=self._headers())
        count = int(request.query.get("count", "25"))
        shown = listens[: min(count, 1000)]
        payload = {"user_id": name, "count": len(shown), "listens": shown, "latest_listen_ts": 0}
        return web.json_response({"payload": payload}, headers=self._headers())


@contextlib.asynccontextmanager
async def running(fake: FakeListenBrainz | None = None) -> AsyncIterator[FakeListenBrainz]:
    """Serve ``fake`` on a free port of 127.0.0.1 for the block; ``fake.url`` is its API root."""
    fake = fake or FakeListenBrainz()
    app = web.Application()
    app.router.add_get(r"/1/user/{name:[^/]+}/{what:listen-count|listens}", fake._answer)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        fake.url = f"http://127.0.0.1:{port}"
        yield fake
    finally:
        await runner.cleanup()
