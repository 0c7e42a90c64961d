"""Answering in Discord: the steps every answer takes, whichever command asked for it.

/soundalike (typed or picked from its menu), /mix, /foryou and the More button all end in
:func:`send_answer`: compute the request (:class:`recommender.app.core.Soundalike`, shared with
the console), show it (embed, rating buttons, More), log it with its params, then queue it for
its 👍/👎 (:class:`bot.rating.RatingReactions`: reactions come after the answers of a burst).

Discord drops an interaction that has no response within 3 s. :class:`Reply` answers at once
when the work is done within ``RESPOND_WITHIN_S`` of the command (so a quick "no such song"
stays private and leaves nothing behind), and shows a public "thinking…" placeholder first
when it is not, or at once when the work has to wait (a burst: other interactions under way,
no compute worker free; Discord lets a deferred interaction be answered within 15 minutes);
failures after that replace the placeholder with a private note.

"More" is a persistent button (``soundalike:more``): the click carries the id of the message
it sits on, and the log maps that message to its query and params, so it works on answers
sent before a restart. It posts the next page as a new message with its own rating buttons:
ratings already given on the first page stay attached to that page.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import discord

from recommender.app.answers import MAX_POSITION, Member, Request
from recommender.app.core import NoNextPage
from recommender.app.limits import Busy
from recommender.app.wording import NO_MORE_SUGGESTIONS, as_far_as_i_go
from recommender.errors import SoundalikeError
from recommender.feedback.errors import FeedbackLogError
from recommender.feedback.log import NO_GUILD
from recommender.results import Answer

from . import render
from .messages import GENERIC_FAILURE, LOG_NOT_WRITTEN, NO_MENTIONS, send_ephemeral, slow_down_text
from .rating import rating_view

if TYPE_CHECKING:
    from .app import SoundalikeBot

log = logging.getLogger(__name__)

T = TypeVar("T")

# Discord drops an interaction that gets no response within 3 s; work that must wait its turn
# on the compute pool answers "thinking…" at once, and work not done within this many seconds
# (a slow disk, a busy machine) answers "thinking…" then.
RESPOND_WITHIN_S = 1.0


# Interactions whose work is under way before any response: while one is, another cannot
# count on being answered quickly, so it is acknowledged at once (a burst).
_in_window = 0


def _queued(interaction: discord.Interaction) -> bool:
    """Whether this interaction's work has to wait: other interactions are being worked on, or
    the compute pool has no worker free for it (not refused: a full queue answers Busy at
    once, privately)."""
    app = getattr(interaction.client, "app", None)
    pool = getattr(app, "pool", None)
    if pool is None:
        return _in_window > 0
    if pool.would_wait(guild_key(interaction)):
        return pool.waiting < pool.max_queue
    return _in_window > 0


def guild_key(interaction: discord.Interaction) -> int:
    """The log's guild id: the server's, or NO_GUILD in DMs."""
    return interaction.guild_id or NO_GUILD


def member_of(interaction: discord.Interaction) -> Member:
    """Who asked, as the app counts them: per server (NO_GUILD in DMs)."""
    return Member(guild_key(interaction), interaction.user.id)


def member_cooldown_key(interaction: discord.Interaction) -> tuple[int, int]:
    return (guild_key(interaction), interaction.user.id)


class SlowDown(Exception):
    """The member's turn is not over: another bot process (or this one, before a restart)
    answered them within their cooldown."""

    def __init__(self, wait: float):
        self.wait = wait
        super().__init__(slow_down_text(wait))


async def after_turn(bot: SoundalikeBot, interaction: discord.Interaction, work: Callable[[], Awaitable[T]]) -> T:
    """``work()`` once the member's turn is claimed in the log that every bot process shares
    (this process's own cooldown was checked before, at once). Raises SlowDown when their turn
    is not over. A log that cannot be reached leaves this process's cooldown alone to decide."""
    seconds = bot.cooldowns.seconds
    if seconds > 0:
        try:
            wait = await bot.app.claim_turn(member_of(interaction), seconds)
        except FeedbackLogError as error:
            log.warning("could not check a member's turn in the log (%s); this process's cooldown decides", error)
            wait = 0.0
        if wait > 0:
            raise SlowDown(wait)
    return await work()


async def give_turn_back(bot: SoundalikeBot, interaction: discord.Interaction) -> None:
    """A request refused as busy at once: the member may ask again without waiting."""
    bot.cooldowns.reset(member_cooldown_key(interaction))
    if bot.cooldowns.seconds > 0:
        try:
            await bot.app.give_back_turn(member_of(interaction))
        except FeedbackLogError as error:
            log.warning("could not give a member's turn back in the log: %s", error)


def failure_text(error: BaseException, what: str) -> str:
    """One sentence for the member: theirs to act on, or ours (then logged)."""
    if isinstance(error, SlowDown):
        return str(error)
    if isinstance(error, (Busy, SoundalikeError)):
        return render.message_text(error)
    log.error("answering %s failed", what, exc_info=error)
    return GENERIC_FAILURE


class Reply:
    """How one interaction gets answered.

    ``fresh``: nothing sent yet. ``thinking``: a public "thinking…" placeholder stands and
    becomes the answer. ``followup``: the interaction was answered otherwise (a pick edits
    the private menu), so the answer is a new public message.
    """

    def __init__(self, interaction: discord.Interaction, started: float, *, state: str = "fresh"):
        self.interaction = interaction
        self.started = started
        self.state = state

    async def within_window(self, work: Awaitable[T]) -> T:
        """Await ``work``; if it is not done ``RESPOND_WITHIN_S`` after the command came, or
        it has to wait (other interactions are being worked on, or the compute pool has no
        worker free for it), show "thinking…" (Discord's deferred response, which may be
        answered within 15 minutes) and wait on. Errors of ``work`` propagate (see :meth:`fail`)."""
        global _in_window
        if self.state != "fresh":
            return await work
        left = max(0.0, RESPOND_WITHIN_S - (time.perf_counter() - self.started))
        if _queued(self.interaction):
            left = 0.0  # it waits its turn: acknowledge now, answer when it comes
        task = asyncio.ensure_future(work)
        _in_window += 1
        try:
            return await asyncio.wait_for(asyncio.shield(task), left)
        except TimeoutError:
            await self.interaction.response.defer(thinking=True)
            self.state = "thinking"
            return await task
        finally:
            _in_window -= 1

    async def private(self, text: str, *, view: discord.ui.View | None = None) -> None:
        """An ephemeral reply; a public placeholder goes first."""
        extra: dict[str, Any] = {"view": view} if view is not None else {}
        if self.state == "fresh":
            await self.interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS, **extra)
            self.state = "followup"
            return
        if self.state == "thinking":
            with contextlib.suppress(discord.HTTPException):  # already gone: the note still goes out
                await self.interaction.delete_original_response()
            self.state = "followup"
        await self.interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS, **extra)

    async def fail(self, error: BaseException, what: str) -> None:
        await self.private(failure_text(error, what))

    async def public(self, embed: discord.Embed, view: discord.ui.View) -> discord.Message:
        """Show the answer to everyone in the channel; returns its message."""
        if self.state == "followup":
            return await self.interaction.followup.send(embed=embed, view=view, wait=True, allowed_mentions=NO_MENTIONS)
        if self.state == "fresh":
            await self.interaction.response.defer(thinking=True)
            self.state = "thinking"
        return await self.interaction.edit_original_response(embed=embed, view=view, allowed_mentions=NO_MENTIONS)


class MoreButton(discord.ui.DynamicItem[discord.ui.Button], template=r"soundalike:more"):
    """The next suggestions for the same question, as a new message."""

    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(label="More", emoji="➕", style=discord.ButtonStyle.primary, custom_id="soundalike:more")
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ):
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: SoundalikeBot = interaction.client  # type: ignore[assignment]
        reply = Reply(interaction, time.perf_counter())
        page = (
            await bot.app.next_page(interaction.message.id, interaction.user.id)
            if interaction.message is not None
            else NoNextPage.NO_RECORD
        )
        if page is NoNextPage.NO_RECORD:
            await reply.private("I have no record of that answer any more; ask again with /soundalike.")
            return
        if page is NoNextPage.NOT_YOURS:
            await reply.private("That playlist was made for someone else; ask /foryou for your own.")
            return
        if page is NoNextPage.AS_FAR_AS_I_GO:
            await reply.private(as_far_as_i_go(MAX_POSITION))
            return
        wait = bot.cooldowns.retry_after(member_cooldown_key(interaction))
        if wait > 0:
            await reply.private(slow_down_text(wait))
            return
        await send_answer(
            bot,
            reply,
            page.request,
            typed_title=page.typed_title,
            typed_artist=page.typed_artist,
            for_name=interaction.user.display_name if page.request.command == "foryou" else None,
            claim_turn=True,
        )


def answer_view(answer: Answer, request: Request) -> discord.ui.View:
    """Rating buttons (four rows at most) and, when the page was full and the list goes on, More
    on the last row."""
    view = rating_view(answer, max_rows=4)
    if (
        answer.suggestions
        and answer.has_more
        and len(answer.suggestions) >= request.count
        and answer.offset + len(answer.suggestions) < MAX_POSITION
    ):
        more = MoreButton()
        more.row = 4
        view.add_item(more)
    return view


async def send_answer(
    bot: SoundalikeBot,
    reply: Reply,
    request: Request,
    *,
    typed_title: str | None,
    typed_artist: str | None,
    for_name: str | None = None,
    claim_turn: bool = False,
    resume: bool = False,
) -> discord.Message | None:
    """Compute, show, log and react: one answer, whichever command asked for it.
    ``claim_turn``: take the member's turn in the shared log first (see :func:`after_turn`);
    ``resume``: the request's look-up ran already (it goes ahead of new requests)."""
    interaction = reply.interaction
    member = member_of(interaction)

    def work() -> Awaitable[Answer]:
        return bot.app.answer(request, member, pool_key=member.guild_id, resume=resume)

    try:
        answer = await reply.within_window(after_turn(bot, interaction, work) if claim_turn else work())
    except Exception as error:  # Busy, SoundalikeError or a bug: never leave a placeholder behind
        if isinstance(error, Busy) and reply.state == "fresh":
            await give_turn_back(bot, interaction)  # refused at once: give the turn back
        await reply.fail(error, f"/{request.command}")
        return None
    if request.offset and not answer.suggestions:
        await reply.private(NO_MORE_SUGGESTIONS)
        return None
    message = await reply.public(
        render.answer_embed(answer, for_name=for_name, novelty=request.novelty), answer_view(answer, request)
    )
    try:
        await bot.app.log_answer(
            answer,
            request,
            member,
            started=reply.started,
            channel_id=interaction.channel_id,
            typed_title=typed_title,
            typed_artist=typed_artist,
            message_id=message.id,
        )
    except Exception as error:  # a full disk, text that cannot be stored, a bug: all the same to the member
        # The answer stands; the member learns that it (and ratings on it) cannot be kept.
        # Buttons (More, a pick) never reach the tree's on_error, so this is said here.
        if isinstance(error, FeedbackLogError):
            log.warning("an answer to /%s was not logged: %s", request.command, error)
        else:
            log.error("an answer to /%s was not logged", request.command, exc_info=error)
        await send_ephemeral(interaction, LOG_NOT_WRITTEN)
        return message
    bot.rating_reactions.add(message)  # after the answer and its log entry, once the burst allows
    return message
