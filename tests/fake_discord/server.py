"""A small fake Discord on 127.0.0.1: the REST routes and gateway events the bot uses.

The fake records every HTTP request the bot makes, keeps the messages the bot posts (so a
button press or a reaction can refer to them later, also after a bot restart), and lets a
test push gateway events (slash commands, autocomplete, button presses, reactions).

It speaks exactly what discord.py 2.7.1 needs (see shared notes/offline-discord-testing.md):
JSON bodies with ``Content-Type: application/json`` (no charset), interaction callbacks that
return the created message, plain-text gateway frames.

Shards as Discord has them: a connection may IDENTIFY with ``"shard": [id, count]`` (id below
count, else it is closed with 4010, "Invalid shard"); a server belongs to shard
``(guild_id >> 22) % count``, and its events (READY's guild list, GUILD_CREATE, interactions,
reactions) go only to the connections of that shard; events of no server (direct messages)
go to shard 0. A connection without ``shard`` is shard 0 of 1 and gets everything.
``GET /gateway/bot`` reports ``shard_count`` (what discord.py's AutoShardedBot asks when it is
given no count).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from .payloads import (
    FakeGuild,
    FakeMember,
    FakeUser,
    shard_of,
    snowflake,
    snowflake_on_shard,
)
from .payloads import (
    message as message_payload,
)

API_PREFIX = "/api/v10"
EPHEMERAL = 1 << 6

# Gateway opcodes.
DISPATCH, HEARTBEAT, IDENTIFY, RESUME, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 0, 1, 2, 6, 9, 10, 11
INVALID_SHARD = 4010  # gateway close code
# Interaction callback types that create or change a message.
CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 4, 5, 6, 7


@dataclass
class Recorded:
    """One HTTP request the bot made."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    body: object
    authorization: str | None
    files: dict[str, bytes] = field(default_factory=dict)  # uploaded attachments: filename -> bytes
    at: float = field(default_factory=time.monotonic)  # when the fake received it

    def matches(self, method: str, pattern: str) -> bool:
        return self.method == method and re.fullmatch(pattern, self.path) is not None


@dataclass
class PendingInteraction:
    """An interaction the fake sent; the bot answers it through its token."""

    id: int
    token: str
    channel_id: int
    original_message_id: int | None = None
    message_id: int | None = None  # the message a component sits on
    callback_types: list[int] = field(default_factory=list)
    followup_message_ids: list[int] = field(default_factory=list)


class FakeDiscord:
    """REST + gateway. Use ``async with FakeDiscord() as fake`` (or start/close)."""

    def __init__(
        self, *, bot_name: str = "Soundalike", heartbeat_interval_ms: int = 45_000, shard_count: int = 1
    ) -> None:
        self.application_id = snowflake()
        self.bot_user = FakeUser(self.application_id, bot_name, bot=True)
        self.owner = FakeUser(snowflake(), "owner")
        self.guilds: list[FakeGuild] = []
        self.requests: list[Recorded] = []
        self.messages: dict[int, dict] = {}
        self.attachments: dict[int, dict[str, bytes]] = {}  # message id -> files the bot attached by editing
        self.interactions: dict[str, PendingInteraction] = {}
        self.commands: dict[str, list[dict]] = {}  # "global" or guild id -> last synced commands
        self.identify_payloads: list[dict] = []
        self.rejected_tokens: set[str] = set()  # GET /users/@me answers 401 for these
        # Sent in HELLO; a load test uses a short one to see whether heartbeats keep coming.
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.heartbeats: list[float] = []  # time.monotonic() of every HEARTBEAT received
        self._sockets: list[web.WebSocketResponse] = []
        self.shard_count = shard_count  # what GET /gateway/bot recommends
        self._socket_shards: dict[int, tuple[int, int]] = {}  # id(socket) -> (shard id, count)
        # Every event sent: (event, the server it is about or None, the shard it went to).
        self.delivered: list[tuple[str, int | None, int]] = []
        self._sequence = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- set-up ----------------------------------------------------------------------------
    def add_guild(
        self,
        name: str = "Test server",
        members: list[FakeMember] | None = None,
        *,
        shard: tuple[int, int] | None = None,
    ) -> FakeGuild:
        """A server with a channel and an admin role; ``shard=(id, count)`` gives it an id that
        Discord's rule puts on that shard."""
        guild_id = snowflake() if shard is None else snowflake_on_shard(*shard)
        guild = FakeGuild(
            id=guild_id, name=name, channel_id=snowflake(), admin_role_id=snowflake(), members=list(members or [])
        )
        self.guilds.append(guild)
        return guild

    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # -- waiting on the bot ----------------------------------------------------------------
    async def wait_for(
        self,
        method: str,
        pattern: str,
        *,
        since: int = 0,
        timeout: float = 5.0,
        where: Callable[[Recorded], bool] = lambda r: True,
    ) -> Recorded:
        """The first request (at index >= since) matching method, path regex and ``where``."""

        def find() -> Recorded | None:
            for recorded in self.requests[since:]:
                if recorded.matches(method, pattern) and where(recorded):
                    return recorded
            return None

        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    await self._changed.wait_for(lambda: find() is not None)
        except TimeoutError:
            sent = self.requests[since:]
            seen = "\n  ".join(f"{r.method} {r.path}" for r in sent[-20:]) or "(none)"
            more = f" ({len(sent) - 20} earlier not shown)" if len(sent) > 20 else ""
            raise AssertionError(
                f"the bot never sent {method} {pattern} within {timeout} s; it sent{more}:\n  {seen}"
            ) from None
        return find()  # type: ignore[return-value]

    async def wait_until(self, condition: Callable[[], object], timeout: float = 5.0) -> None:
        """Wait (at most ``timeout`` s) until ``condition()`` holds, checked each time the bot sends something."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(lambda: bool(condition()))

    def sent(self, method: str, pattern: str, *, since: int = 0) -> list[Recorded]:
        return [r for r in self.requests[since:] if r.matches(method, pattern)]

    async def wait_connected(self, count: int = 1, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.identify_payloads) >= count)

    # -- events the tests drive ------------------------------------------------------------
    async def dispatch(self, event: str, data: dict) -> None:
        """Send an event to the connections of the shard it belongs to (see the module's doc)."""
        if not self._sockets:
            raise AssertionError("no bot is connected to the fake gateway")
        guild = data.get("id") if event == "GUILD_CREATE" else data.get("guild_id")
        guild_id = int(guild) if guild is not None else None
        targets = [socket for socket in list(self._sockets) if self._owns(socket, guild_id)]
        if not targets:
            shards = sorted(set(self._socket_shards.values()))
            raise AssertionError(f"no bot is connected for the shard of server {guild_id} (connected: {shards})")
        for socket in targets:
            await self.dispatch_to(socket, event, data)

    def _owns(self, socket: web.WebSocketResponse, guild_id: int | None) -> bool:
        shard, count = self._socket_shards.get(id(socket), (0, 1))
        return shard == (0 if guild_id is None else shard_of(guild_id, count))

    def _interaction_base(
        self, kind: int, guild: FakeGuild | None, member: FakeMember, channel_id: int | None = None
    ) -> tuple[dict, PendingInteraction]:
        pending = PendingInteraction(
            id=snowflake(),
            token=f"interaction-token-{snowflake()}",
            channel_id=channel_id or (guild.channel_id if guild else snowflake()),
        )
        self.interactions[pending.token] = pending
        data = {
            "id": str(pending.id),
            "application_id": str(self.application_id),
            "type": kind,
            "token": pending.token,
            "version": 1,
            "attachment_size_limit": 8 * 1024 * 1024,
            "app_permissions": str((1 << 53) - 1),
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {},
            "channel_id": str(pending.channel_id),
        }
        if guild is not None:
            data["guild_id"] = str(guild.id)
            data["guild_locale"] = "en-US"
            data["channel"] = {"id": str(pending.channel_id), "type": 0, "guild_id": str(guild.id)}
            data["member"] = member.payload()
            data["context"] = 0
        else:
            data["channel"] = {"id": str(pending.channel_id), "type": 1}
            data["user"] = member.user.payload()
            data["context"] = 1
        return data, pending

    async def slash_command(
        self,
        name: str,
        options: list[dict],
        *,
        member: FakeMember,
        guild: FakeGuild | None,
        subcommand: str | None = None,
    ) -> PendingInteraction:
        """Someone runs ``/name`` (optionally ``/name subcommand``) with these options."""
        data, pending = self._interaction_base(2, guild, member)
        if subcommand is not None:
            options = [{"name": subcommand, "type": 1, "options": options}]
        data["data"] = {"id": str(snowflake()), "name": name, "type": 1, "options": options}
        await self.dispatch("INTERACTION_CREATE", data)
        return pending

    async def autocomplete(
        self, name: str, options: list[dict], *, member: FakeMember, guild: FakeGuild | None
    ) -> PendingInteraction:
        data, pending = self._interaction_base(4, guild, member)
        data["data"] = {"id": str(snowflake()), "name": name, "type": 1, "options": options}
        await self.dispatch("INTERACTION_CREATE", data)
        return pending

    async def press(
        self,
        message_id: int,
        custom_id: str,
        *,
        member: FakeMember,
        guild: FakeGuild | None,
        values: list[str] | None = None,
    ) -> PendingInteraction:
        """Someone clicks a button (or picks ``values`` in a select) on a message the bot sent."""
        stored = self.messages[message_id]
        component_type = 3 if values is not None else 2
        data, pending = self._interaction_base(3, guild, member, channel_id=int(stored["channel_id"]))
        pending.message_id = message_id
        data["message"] = stored
        data["data"] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["data"]["values"] = values
        await self.dispatch("INTERACTION_CREATE", data)
        return pending

    async def react(
        self, message_id: int, emoji: str, *, user_id: int, guild: FakeGuild | None, remove: bool = False
    ) -> None:
        stored = self.messages.get(message_id)
        channel_id = stored["channel_id"] if stored else str(guild.channel_id if guild else snowflake())
        data = {
            "message_id": str(message_id),
            "channel_id": channel_id,
            "user_id": str(user_id),
            "emoji": {"id": None, "name": emoji},
            "type": 0,
            "burst": False,
        }
        if guild is not None:
            data["guild_id"] = str(guild.id)
        await self.dispatch("MESSAGE_REACTION_REMOVE" if remove else "MESSAGE_REACTION_ADD", data)

    # -- gateway ---------------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_str(json.dumps({"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}))
        try:
            async for frame in socket:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    continue
                payload = json.loads(frame.data)
                op = payload.get("op")
                if op == HEARTBEAT:
                    self.heartbeats.append(time.monotonic())
                    await socket.send_str(json.dumps({"op": HEARTBEAT_ACK}))
                elif op == IDENTIFY:
                    await self._identify(socket, payload["d"])
                elif op == RESUME:
                    # No sessions to resume here: make the client identify afresh.
                    await socket.send_str(json.dumps({"op": INVALID_SESSION, "d": False}))
        finally:
            if socket in self._sockets:
                self._sockets.remove(socket)
            self._socket_shards.pop(id(socket), None)
        return socket

    async def _identify(self, socket: web.WebSocketResponse, identify: dict) -> None:
        shard, count = identify.get("shard") or (0, 1)
        if not (isinstance(shard, int) and isinstance(count, int) and 0 <= shard < count):
            await socket.close(code=INVALID_SHARD, message=b"Invalid shard.")
            return
        self._socket_shards[id(socket)] = (shard, count)
        mine = [g for g in self.guilds if shard_of(g.id, count) == shard]
        self._sockets.append(socket)
        await self.dispatch_to(
            socket,
            "READY",
            {
                "v": 10,
                "user": self.bot_user.payload(),
                "guilds": [{"id": str(g.id), "unavailable": True} for g in mine],
                "shard": [shard, count],
                "session_id": f"session-{snowflake()}",
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(self.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
            },
        )
        for guild in mine:
            await self.dispatch_to(socket, "GUILD_CREATE", guild.payload())
        async with self._changed:
            self.identify_payloads.append(identify)
            self._changed.notify_all()

    async def dispatch_to(self, socket: web.WebSocketResponse, event: str, data: dict) -> None:
        guild = data.get("id") if event == "GUILD_CREATE" else data.get("guild_id")
        self.delivered.append((event, int(guild) if guild is not None else None, self.shard_on(socket)))
        self._sequence += 1
        await socket.send_str(json.dumps({"op": DISPATCH, "t": event, "s": self._sequence, "d": data}))

    def shard_on(self, socket: web.WebSocketResponse) -> int:
        return self._socket_shards.get(id(socket), (0, 1))[0]

    def connected_shards(self) -> list[tuple[int, int]]:
        """(shard id, count) of every connection that identified, in the order they did."""
        return [self._socket_shards.get(id(socket), (0, 1)) for socket in self._sockets]

    # -- REST ------------------------------------------------------------------------------
    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body: object = None
        files: dict[str, bytes] = {}
        if request.can_read_body:
            if request.content_type.startswith("multipart/"):
                form = await request.post()
                body = json.loads(form.get("payload_json", "{}"))  # type: ignore[arg-type]
                for value in form.values():
                    if isinstance(value, web.FileField):
                        files[value.filename] = value.file.read()
            else:
                raw = await request.text()
                body = json.loads(raw) if raw else None
        recorded = Recorded(
            request.method, path, dict(request.query), body, request.headers.get("Authorization"), files
        )
        try:
            response = self._route(recorded)
        finally:
            async with self._changed:
                self.requests.append(recorded)
                self._changed.notify_all()
        return response

    def _route(self, r: Recorded) -> web.Response:
        app = str(self.application_id)
        if r.matches("GET", "/users/@me"):
            if r.authorization in {f"Bot {token}" for token in self.rejected_tokens}:
                return _json({"message": "401: Unauthorized", "code": 0}, status=401)
            return _json(self.bot_user.payload())
        if r.matches("GET", "/gateway/bot"):
            return _json(
                {
                    "url": self.gateway_url,
                    "shards": self.shard_count,
                    "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1},
                }
            )
        if r.matches("GET", "/oauth2/applications/@me"):
            return _json(
                {
                    "id": app,
                    "name": self.bot_user.name,
                    "description": "",
                    "icon": None,
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "owner": self.owner.payload(),
                    "verify_key": "0" * 64,
                    "flags": 0,
                }
            )
        if r.matches("PUT", rf"/applications/{app}/commands"):
            return _json(self._store_commands("global", r.body))
        if (match := re.fullmatch(rf"/applications/{app}/guilds/(\d+)/commands", r.path)) and r.method == "PUT":
            return _json(self._store_commands(match[1], r.body))
        if (match := re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", r.path)) and r.method == "POST":
            return self._interaction_callback(match[2], r.body)  # type: ignore[arg-type]
        if (match := re.fullmatch(rf"/webhooks/{app}/([^/]+)", r.path)) and r.method == "POST":
            pending = self.interactions[match[1]]
            created = self._new_message(pending.channel_id, r.body)  # type: ignore[arg-type]
            pending.followup_message_ids.append(int(created["id"]))
            return _json(created)
        if match := re.fullmatch(rf"/webhooks/{app}/([^/]+)/messages/(@original|\d+)", r.path):
            return self._webhook_message(r.method, self.interactions[match[1]], match[2], r.body, r.files)
        if re.fullmatch(r"/channels/\d+/messages/\d+/reactions/[^/]+/@me", r.path) and r.method in ("PUT", "DELETE"):
            return web.Response(status=204)
        if (match := re.fullmatch(r"/channels/(\d+)/messages", r.path)) and r.method == "POST":
            return _json(self._new_message(int(match[1]), r.body))  # type: ignore[arg-type]
        if (
            (match := re.fullmatch(r"/channels/(\d+)/messages/(\d+)", r.path))
            and r.method == "PATCH"
            and int(match[2]) in self.messages
        ):
            return _json(self._edit_message(int(match[2]), r.body))  # type: ignore[arg-type]
        return _json({"message": f"fake Discord has no route {r.method} {r.path}", "code": 0}, status=404)

    def _store_commands(self, scope: str, body: object) -> list[dict]:
        commands = []
        for command in body or []:  # type: ignore[union-attr]
            commands.append(
                {
                    **command,
                    "id": str(snowflake()),
                    "application_id": str(self.application_id),
                    "version": str(snowflake()),
                }
            )
        self.commands[scope] = commands
        return commands

    def _new_message(self, channel_id: int, body: dict | None) -> dict:
        message_id = snowflake()
        data = message_payload(message_id=message_id, channel_id=channel_id, author=self.bot_user, body=body or {})
        self.messages[message_id] = data
        return data

    def _edit_message(self, message_id: int, body: dict | None, files: dict[str, bytes] | None = None) -> dict:
        stored = self.messages[message_id]
        for key, value in (body or {}).items():
            if key in ("content", "embeds", "components", "flags"):
                stored[key] = value if value is not None else ([] if key != "content" else "")
        if files:
            stored["attachments"] = [
                {
                    "id": str(snowflake()),
                    "filename": name,
                    "size": len(data),
                    "url": f"http://127.0.0.1:{self.port}/attachments/{name}",
                    "proxy_url": f"http://127.0.0.1:{self.port}/attachments/{name}",
                }
                for name, data in files.items()
            ]
            self.attachments[message_id] = dict(files)
        stored["edited_timestamp"] = stored["timestamp"]
        return stored

    def _interaction_callback(self, token: str, body: dict) -> web.Response:
        pending = self.interactions.get(token)
        if pending is None:
            return _json({"message": "Unknown interaction", "code": 10062}, status=404)
        kind = body["type"]
        if pending.callback_types:
            return _json({"message": "Interaction has already been acknowledged.", "code": 40060}, status=400)
        pending.callback_types.append(kind)
        data = body.get("data") or {}
        interaction = {
            "id": str(pending.id),
            "type": 2,
            "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
            "response_message_ephemeral": bool((data.get("flags") or 0) & EPHEMERAL),
        }
        resource: dict = {"type": kind}
        if kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE):
            created = self._new_message(
                pending.channel_id, data if kind == CHANNEL_MESSAGE else {"flags": data.get("flags")}
            )
            pending.original_message_id = int(created["id"])
            interaction["response_message_id"] = created["id"]
            if kind == CHANNEL_MESSAGE:
                resource["message"] = created
        elif kind in (UPDATE_MESSAGE, DEFERRED_UPDATE) and pending.message_id is not None:
            pending.original_message_id = pending.message_id
            interaction["response_message_id"] = str(pending.message_id)
            if kind == UPDATE_MESSAGE:
                resource["message"] = self._edit_message(pending.message_id, data)
        return _json({"interaction": interaction, "resource": resource})

    def _webhook_message(
        self, method: str, pending: PendingInteraction, which: str, body: object, files: dict[str, bytes] | None = None
    ) -> web.Response:
        message_id = pending.original_message_id if which == "@original" else int(which)
        if message_id is None or message_id not in self.messages:
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        if method == "PATCH":
            return _json(self._edit_message(message_id, body, files))  # type: ignore[arg-type]
        if method == "GET":
            return _json(self.messages[message_id])
        if method == "DELETE":
            self.messages.pop(message_id)
            return web.Response(status=204)
        return _json({"message": "Method not allowed", "code": 0}, status=405)

    # -- reading what the bot did ----------------------------------------------------------
    def message(self, message_id: int) -> dict:
        return self.messages[message_id]

    def reactions_added(self, message_id: int) -> list[str]:
        """Emoji the bot put on a message, in order (URL-decoded)."""
        from urllib.parse import unquote

        found = []
        for r in self.requests:
            match = re.fullmatch(rf"/channels/\d+/messages/{message_id}/reactions/([^/]+)/@me", r.path)
            if match and r.method == "PUT":
                found.append(unquote(match[1]))
        return found


def _json(data: object, status: int = 200) -> web.Response:
    # Exactly "application/json": discord.py reads a body with a charset suffix as text.
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})
