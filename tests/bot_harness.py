"""Running the real bot against the fake Discord, for the end-to-end tests.

``BotWorld`` holds one fake server with three people (a member, a member with the configured
admin role, a member with Manage Server), a feedback log in a temporary folder, and the bot.
``await world.start()`` logs the bot in (setup_hook: cogs, sync) and connects it; ``stop`` and
``restart`` do what they say, keeping the log and the fake's messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from pathlib import Path

from fake_discord import MANAGE_GUILD, FakeDiscord, FakeGuild, FakeMember, FakeUser, pointed_at, snowflake

from bot.app import SoundalikeBot
from recommender.app.core import Soundalike
from recommender.app.limits import ComputePool
from recommender.app.retrainer import Retrainer
from recommender.config import Config
from recommender.feedback.log import FeedbackLog

# Distinctive, so that a test can search every log line for it.
TEST_TOKEN = "MTIzNDU2Nzg5.fake-bot-token.S3CR3T-do-not-log"
# Every wait on the bot is bounded by this (seconds): a bound against hanging, not a speed
# target, so it leaves room for a machine whose cores are busy with other work.
WAIT = 30.0


def bot_config(config: Config, guild: FakeGuild, **bot_changes) -> Config:
    settings = dataclasses.replace(
        config.bot, admin_role_ids=[guild.admin_role_id], cooldown_seconds=0.0, **bot_changes
    )
    return dataclasses.replace(config, bot=settings)


@dataclasses.dataclass(repr=False)
class BotWorld:
    fake: FakeDiscord
    guild: FakeGuild
    member: FakeMember
    dj: FakeMember  # has the admin role named in the config
    manager: FakeMember  # has Manage Server
    config: Config
    service: object
    feedback_log: FeedbackLog
    retrainer: Retrainer
    bot: SoundalikeBot | None = None
    pool: ComputePool | None = None
    _task: asyncio.Task | None = None

    def __repr__(self) -> str:  # short: hypothesis prints fixtures in failure reports
        return f"<BotWorld guild={self.guild.id} bot={'running' if self.bot else 'stopped'}>"

    async def start(self, **bot_options) -> SoundalikeBot:
        settings = self.config.bot
        self.pool = ComputePool(per_guild=settings.per_guild_concurrency, max_queue=settings.max_queue, workers=2)
        bot_options.setdefault("guild_ready_timeout", 0.01)
        app = Soundalike(self.config, self.service, self.feedback_log, self.pool, self.retrainer)
        self.bot = SoundalikeBot(app=app, **bot_options)
        connected_before = len(self.fake.identify_payloads)
        async with asyncio.timeout(WAIT):
            await self.bot.login(TEST_TOKEN)  # runs setup_hook: cogs, persistent items, sync
            self._task = asyncio.create_task(self.bot.connect(reconnect=False))
            await self.fake.wait_connected(connected_before + 1, timeout=WAIT)
            await self.bot.wait_until_ready()
        return self.bot

    async def stop(self) -> None:
        if self.bot is not None:
            await self.bot.close()
            await self.bot.app.close()  # its ListenBrainz client
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, WAIT)
            error = self._task.exception() if not self._task.cancelled() else None
            self._task = None
            if error is not None:
                raise AssertionError(f"the bot's connection ended with {error!r}") from error
        if self.pool is not None:
            self.pool.close()
        self.bot = None

    async def restart(self) -> SoundalikeBot:
        await self.stop()
        return await self.start()

    # -- asking the bot things ---------------------------------------------------------------
    async def soundalike(
        self, title: str, *, artist: str | None = None, count: int | None = None, who: FakeMember | None = None
    ):
        from fake_discord import option

        options = [option("title", title)]
        if artist is not None:
            options.append(option("artist", artist))
        if count is not None:
            options.append(option("count", count))
        return await self.fake.slash_command("soundalike", options, member=who or self.member, guild=self.guild)

    async def answer_message(self, interaction, *, since: int = 0) -> dict:
        """The message the bot edited into the deferred response of ``interaction``, once the bot
        is done with it (its last step is putting 👍 and 👎 on it, after logging the answer)."""
        app = self.fake.application_id
        await self.fake.wait_for(
            "PATCH", rf"/webhooks/{app}/{interaction.token}/messages/@original", since=since, timeout=WAIT
        )
        message_id = interaction.original_message_id
        await self.fake.wait_for(
            "PUT",
            rf"/channels/\d+/messages/{message_id}/reactions/[^/]+/@me",
            since=since,
            timeout=WAIT,
            where=lambda r: "👎" in r.path,
        )
        return self.fake.message(message_id)

    async def ephemeral_reply(self, interaction, *, since: int = 0) -> str:
        """The text of the ephemeral message the bot answered ``interaction`` with."""
        recorded = await self.fake.wait_for(
            "POST",
            rf"/(interactions/{interaction.id}/{interaction.token}/callback|webhooks/\d+/{interaction.token})",
            since=since,
            timeout=WAIT,
            where=lambda r: _is_ephemeral_message(r.body),
        )
        body = recorded.body.get("data", recorded.body)  # callback bodies wrap the message in "data"
        return body.get("content") or ""


def _is_ephemeral_message(body: object) -> bool:
    if not isinstance(body, dict):
        return False
    data = body.get("data", body) if "type" in body else body
    return isinstance(data, dict) and bool((data.get("flags") or 0) & 64) and "content" in data


def make_people(fake: FakeDiscord) -> tuple[FakeGuild, FakeMember, FakeMember, FakeMember]:
    member = FakeMember(FakeUser(snowflake(), "listener"))
    dj = FakeMember(FakeUser(snowflake(), "dj"))
    manager = FakeMember(FakeUser(snowflake(), "manager"))
    guild = fake.add_guild("Music lovers", members=[member, dj, manager])
    dj.role_ids.append(guild.admin_role_id)
    manager.permissions |= MANAGE_GUILD
    return guild, member, dj, manager


@contextlib.asynccontextmanager
async def bot_world(
    tmp_path: Path,
    config: Config,
    service,
    *,
    retrainer: Retrainer | None = None,
    config_path: Path | None = None,
    dev_guild: bool = False,
    fake_options: dict | None = None,
    **bot_changes,
):
    """A started fake Discord + feedback log + connected bot; everything closed afterwards.

    ``dev_guild`` configures the fake server as the dev guild (commands synced there only);
    ``fake_options`` go to ``FakeDiscord`` (e.g. ``heartbeat_interval_ms``).
    """
    async with FakeDiscord(**(fake_options or {})) as fake:
        guild, member, dj, manager = make_people(fake)
        if dev_guild:
            bot_changes["dev_guild_ids"] = [guild.id]
        bot_changes.setdefault("database", str(tmp_path / "feedback.sqlite3"))  # or a postgresql:// URL
        config = bot_config(config, guild, **bot_changes)
        with pointed_at(fake):
            async with FeedbackLog.open(config.database_location) as feedback_log:
                world = BotWorld(
                    fake,
                    guild,
                    member,
                    dj,
                    manager,
                    config,
                    service,
                    feedback_log,
                    retrainer or Retrainer(config, config_path=config_path),
                )
                await world.start()
                try:
                    yield world
                finally:
                    await world.stop()


class LoopThread:
    """An event loop in a daemon thread; ``run`` waits (bounded) for a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzz-bot-loop", daemon=True)
        self.thread.start()

    def run(self, coroutine, timeout: float = WAIT * 2):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()
