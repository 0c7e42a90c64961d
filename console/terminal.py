"""The bot's commands in a terminal or from a pipe, without Discord.

    $ printf '/soundalike Hey Ya!\\n+1\\n/more\\n' | python -m bot --console

The same application as the bot (:class:`recommender.app.core.Soundalike`: the service, the
feedback log, a compute pool of one worker and the retrainer); the console member is user 0 in
the log's no-guild space, and its own admin there (/block, /unblock). Options use Discord's
own syntax (:mod:`console.options`); what is printed is worded by :mod:`console.render`.
``/novelty deep`` sets the novelty for every later answer of the session; a ``novelty:``
option wins for one answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from recommender.app.answers import MAX_POSITION, Member, Rated, Request, artist_mismatch_text
from recommender.app.core import Soundalike
from recommender.app.options import NOVELTY_NAMES, check_novelty
from recommender.app.retrainer import Retrainer, RetrainProgress
from recommender.app.wording import (
    NO_MORE_SUGGESTIONS,
    NO_RECORD_OF_RATED_ANSWER,
    as_far_as_i_go,
    linked_text,
    plain,
    rating_text,
    rollback_text,
    thumb,
    unlinked_text,
)
from recommender.config import Config
from recommender.errors import SoundalikeError
from recommender.feedback.log import NO_GUILD
from recommender.results import Answer, Candidate
from recommender.service import SoundalikeService
from recommender.text import one_line, without_lone_surrogates

from . import render
from .options import artist_of, cap_of, count_of, novelty_of, parse_mix, parse_options, yes_no

log = logging.getLogger(__name__)

CONSOLE_USER_ID = 0
CONSOLE = Member(NO_GUILD, CONSOLE_USER_ID)
HOW_TO_SET_TOKEN = (
    "To run the real Discord bot instead, set the bot token in the environment and start it again:\n"
    "    export DISCORD_TOKEN=<your bot token>   # Discord Developer Portal > your app > Bot > Reset Token\n"
    "    python -m bot                           # or: make run\n"
    "The token is read only from DISCORD_TOKEN, never from a config file."
)
HELP = """\
Commands (as in Discord):
  /soundalike TITLE [artist:ARTIST] [count:N] [novelty:LEVEL] [leave_out_artist:yes] [per_artist:N]
                                 songs that listeners of TITLE also love; per_artist 0 = no limit
  TITLE                          the same as /soundalike TITLE
  /mix A | B [| C | D | E] [count:N] [novelty:LEVEL]
                                 songs for the listeners of 2 to 5 songs together (| between songs;
                                 each may add artist:ARTIST)
  /foryou [N] [novelty:LEVEL]    a playlist from the songs you rated 👍 (needs 3)
  /more                          the next suggestions for the last question
  /novelty [LEVEL]               show or set the novelty for later answers: popular, balanced, deep
  +N / -N                        rate suggestion N of the last answer 👍 / 👎 (again: take it back)
  + / -                          rate the whole last answer
  /block TITLE [artist:ARTIST]   never suggest that song in the console's answers
  /unblock TITLE                 allow a blocked song again
  /retrain                       retrain with the ratings, swap the model if better
  /model                         the model answering now
  /model rollback                serve the previous model version again
  /stats                         answers, 👍/👎 per model version, most asked-for songs (console)
  /link listenbrainz NAME        use your public ListenBrainz listens in /foryou too
  /unlink                        remove the linked ListenBrainz account
  /forgetme                      erase the console's questions, ratings and linked account
  /help                          this list
  /quit                          leave (end of input does too)"""

_RATING = re.compile(r"([+-])\s*(\d{1,3})?")
# Songs named under /stats.
TOP_SONGS = 5


def _asks_for_songs(line: str) -> bool:
    """Whether a console line is a question (a title, a pick, /soundalike, /mix, /foryou, /more)."""
    if _RATING.fullmatch(line):
        return False
    if not line.startswith("/"):
        return True
    return line[1:].partition(" ")[0].lower() in ("soundalike", "mix", "foryou", "more")


class Console:
    """Handles one line at a time; ``handle`` returns False when the console should end."""

    def __init__(self, app: Soundalike, out: TextIO):
        self.app = app
        self.config = app.config
        self.out = out
        self.last_query_id: int | None = None
        self.last_count = 0
        self.last_answer: Answer | None = None
        self.last_request: Request | None = None
        self._last_typed: tuple[str | None, str | None] = (None, None)
        self.novelty = app.config.serving.novelty  # [serving] novelty; /novelty sets it for the session
        self.pending_choices: list[Candidate] = []
        self._pending_request: Request | None = None
        # Why a rating has nothing to apply to just now (None: nothing was asked yet).
        self._unrated: str | None = None

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    async def handle(self, line: str) -> bool:
        # A terminal's bad UTF-8 arrives as lone surrogates, which nothing can encode (the log
        # included): they become U+FFFD here, where input comes in.
        line = without_lone_surrogates(line).strip()
        if not line:
            return True
        if _asks_for_songs(line):
            self._new_question(more=line.lower().split(" ", 1)[0] == "/more")
        try:
            return await self._dispatch(line)
        except SoundalikeError as error:
            self.say(f"error: {one_line(error)}")
        except Exception:
            log.exception("console command failed: %r", line[:80])
            self.say("error: something went wrong (details in the log); try again.")
        return True

    async def _dispatch(self, line: str) -> bool:
        if self.pending_choices and line.isdigit():
            return await self._pick(int(line))
        if rating := _RATING.fullmatch(line):
            await self.rate(1 if rating[1] == "+" else -1, int(rating[2]) if rating[2] else None)
            return True
        if not line.startswith("/"):
            await self.soundalike(line)
            return True
        command, _, rest = line[1:].partition(" ")
        command = command.lower()
        if command in ("quit", "exit", "q"):
            return False
        if command == "help":
            self.say(HELP)
        elif command == "soundalike":
            await self.soundalike(rest)
        elif command == "mix":
            await self.mix(rest)
        elif command == "foryou":
            await self.foryou(rest)
        elif command == "more":
            await self.more()
        elif command == "novelty":
            self.set_novelty(rest)
        elif command == "block":
            await self.block(rest)
        elif command == "unblock":
            await self.unblock(rest)
        elif command == "retrain":
            await self.retrain()
        elif command == "model":
            await (self.rollback() if rest.strip().lower() == "rollback" else self.model())
        elif command == "stats":
            await self.stats()
        elif command == "forgetme":
            await self.forget_me()
        elif command == "link":
            await self.link(rest)
        elif command == "unlink":
            removed = await self.app.unlink_listenbrainz(CONSOLE_USER_ID)
            self.say(unlinked_text(removed.username if removed is not None else None, plain))
        else:
            self.say(f"Unknown command /{one_line(command)[:40]}; /help lists the commands.")
        return True

    def set_novelty(self, text: str) -> None:
        if text.strip():
            self.novelty = check_novelty(text)
        self.say(f"Novelty: {NOVELTY_NAMES[self.novelty]} (choose popular, balanced or deep: /novelty deep).")

    # -- /soundalike, /mix, /foryou, /more -----------------------------------------------
    async def soundalike(self, text: str) -> None:
        options = parse_options(text, "soundalike")
        title, artist = options.get("title", ""), artist_of(options)
        request = Request(
            "soundalike",
            count=count_of(options.get("count"), self.config),
            novelty=novelty_of(options.get("novelty"), self.novelty),
            exclude_seed_artist=yes_no("leave_out_artist", options.get("leave_out_artist")),
            per_artist_cap=cap_of(options.get("per_artist")),
        )
        started = time.perf_counter()
        found = await self.app.look_up(title, artist)
        self.pending_choices = []
        if found.artist_mismatch:
            self.say(one_line(artist_mismatch_text(found.query, found.artist_mismatch)))
            if found.choices:
                self.pending_choices, self._pending_request = found.choices, request
                self.say("Songs by other artists with that title; type the number of one to use it:")
                self._say_lines(render.choice_lines(found.choices))
        elif found.seed is not None:
            await self._answer(dataclasses.replace(request, seeds=(found.seed.item_id,)), started, title, artist)
        elif found.choices:  # not sure: numbered choices, 0 for none of them
            self.pending_choices, self._pending_request = found.choices, request
            self.say(render.pick_question(found))
            self._say_lines(render.choice_lines(found.choices))
            self.say("  0. none of these")
        else:
            self.say(render.no_match_text(found))

    async def _pick(self, number: int) -> bool:
        choices, self.pending_choices = self.pending_choices, []
        if number == 0:
            self.say(render.nothing_picked_text(self.app.no_match_note()))
            return True
        if not 1 <= number <= len(choices):
            self.say(f"Pick a number from 0 to {len(choices)}; ask again with /soundalike.")
            return True
        seed = choices[number - 1]
        request = dataclasses.replace(self._pending_request or Request("soundalike"), seeds=(seed.item_id,))
        await self._answer(request, time.perf_counter(), seed.title, None)
        return True

    async def mix(self, text: str) -> None:
        songs, knobs = parse_mix(text)
        count, novelty = count_of(knobs.get("count"), self.config), novelty_of(knobs.get("novelty"), self.novelty)
        request = Request("mix", count=count, novelty=novelty)
        started = time.perf_counter()
        seeds = await self.app.mix_seeds(songs)
        request = dataclasses.replace(request, seeds=tuple(seed.item_id for seed in seeds))
        await self._answer(request, started, " | ".join(title for title, _ in songs if title.strip()), None)

    async def foryou(self, text: str) -> None:
        options = parse_options(text, "foryou")
        if "count" in options and "title" in options:
            raise SoundalikeError("count: is given twice (/foryou 3 means count:3); give it once")
        count = options.get("count", options.get("title"))  # "/foryou 3" means three songs
        request = Request(
            "foryou", count=count_of(count, self.config), novelty=novelty_of(options.get("novelty"), self.novelty)
        )
        await self._answer(request, time.perf_counter(), None, None)

    async def more(self) -> None:
        if self.last_request is None:
            self.say("Nothing to continue yet: ask for songs first, e.g. /soundalike Hey Ya!")
            return
        if self.last_answer is not None and not self.last_answer.has_more:
            self.say(NO_MORE_SUGGESTIONS)
            return
        following = self.last_request.next_page()
        if following.offset >= MAX_POSITION:
            self.say(as_far_as_i_go(MAX_POSITION))
            return
        typed_title, typed_artist = self._last_typed
        await self._answer(following, time.perf_counter(), typed_title, typed_artist)

    async def _answer(
        self, request: Request, started: float, typed_title: str | None, typed_artist: str | None
    ) -> None:
        answer = await self.app.answer(request, CONSOLE)
        if request.offset and not answer.suggestions:
            self.say(NO_MORE_SUGGESTIONS)
            return
        self.say(render.answer_text(answer, novelty=request.novelty))
        self.last_request, self._last_typed = request, (typed_title, typed_artist)  # /more goes on from here
        try:
            query_id = await self.app.log_answer(
                answer,
                request,
                CONSOLE,
                started=started,
                typed_title=typed_title,
                typed_artist=typed_artist,
                extra_params={"console": True},
            )
        except Exception as error:  # any failure: a full disk, text that cannot be stored, a bug
            if isinstance(error, SoundalikeError):
                log.warning("an answer was not logged: %s", error)
            else:
                log.exception("an answer was not logged")
            self._unrated = (
                "Nothing to rate: the last answer could not be written to the log, so no rating of it can be kept."
            )
            self.say("(This answer could not be written to the log, so it cannot be rated; details are in the log.)")
            return
        self.last_query_id, self.last_answer, self._unrated = query_id, answer, None
        self.last_count = len(answer.suggestions)
        if answer.suggestions:
            self.say(
                "Rate with +N / -N (e.g. +1), or + / - for the whole list"
                + ("; /more for the next ones." if answer.has_more else ".")
            )

    def _new_question(self, *, more: bool) -> None:
        """Before anything of a new question can fail: a rating applies to nothing until its
        answer is shown and logged (never to the answer before, which the person may take for
        this one's). A new question also ends the one /more continues; /more itself keeps it."""
        self.last_query_id = self.last_answer = None
        self.last_count = 0
        self._unrated = "Nothing to rate: your last question got no answer."
        if not more:
            self.last_request, self._last_typed = None, (None, None)

    def _say_lines(self, lines: list[str]) -> None:
        for line in lines:
            self.say(line)

    # -- ratings -----------------------------------------------------------------------
    async def rate(self, value: int, position: int | None) -> None:
        if self.last_query_id is None or self.last_answer is None:
            self.say(self._unrated or "Nothing to rate yet: ask for songs first, e.g. /soundalike Hey Ya!")
            return
        emoji = thumb(value)
        if position is None:
            recorded = await self.app.rate_answer(CONSOLE_USER_ID, value, query_id=self.last_query_id)
            self.say(f"Noted: {emoji} for the whole list." if recorded else NO_RECORD_OF_RATED_ANSWER)
            return
        answer = self.last_answer
        index = position - 1 - answer.offset
        if not 0 <= index < len(answer.suggestions):
            first = answer.offset + 1
            self.say(
                f"There is no suggestion {position} in the last answer "
                f"(it had {self.last_count}" + (f", numbered from {first})." if answer.offset else ").")
            )
            return
        shown, query_id = answer.suggestions[index].item_id, self.last_query_id
        outcome = await self.app.rate(CONSOLE, value=value, position=position, item_id=shown, query_id=query_id)
        if outcome is Rated.RECORDED:
            self.say(f"Noted: {emoji} for suggestion {position}.")
        else:
            self.say(rating_text(outcome, value, position))

    # -- blocks ------------------------------------------------------------------------
    async def block(self, text: str) -> None:
        options = parse_options(text, "block")
        result = await self.app.block(CONSOLE, options.get("title", ""), artist_of(options))
        self.say(render.block_text(result))

    async def unblock(self, text: str) -> None:
        options = parse_options(text, "unblock")
        result = await self.app.unblock(CONSOLE, options.get("title", ""), artist_of(options))
        self.say(render.block_text(result))

    # -- admin and the log ---------------------------------------------------------------
    async def retrain(self) -> None:
        async def show(progress: RetrainProgress) -> None:
            self.say(render.progress_line(progress))

        self.say("Retraining with the logged ratings…")
        report = await self.app.retrain(show, started_by="the console")
        reason = one_line(report.outcome.reason)
        if report.not_loaded is not None:
            self.say(f"error: {one_line(report.not_loaded)}")
        elif report.outcome.promoted:
            self.say(f"Retrained: now serving model {report.serving}. {reason}")
        else:
            self.say(f"Kept model {report.serving}: {reason}")

    async def model(self) -> None:
        report = await self.app.model_report()
        self._say_lines(render.model_lines(report.info))

    async def rollback(self) -> None:
        rolled = await self.app.rollback()
        self.say(rollback_text(rolled.before, rolled.now))

    async def stats(self) -> None:
        self._say_lines(render.stats_lines(await self.app.stats(NO_GUILD, top_songs=TOP_SONGS)))

    async def forget_me(self) -> None:
        erased = await self.app.forget(CONSOLE_USER_ID)
        self.last_query_id = self.last_answer = self.last_request = None
        unlinked = " and unlinked the ListenBrainz account" if erased.linked_accounts else ""
        self.say(f"Erased {erased.questions} questions and {erased.ratings} ratings{unlinked}.")

    async def link(self, text: str) -> None:
        service, _, username = text.partition(" ")
        if service.lower() != "listenbrainz":
            self.say("Link what? /link listenbrainz NAME (ListenBrainz is the one service there is).")
            return
        linked = await self.app.link_listenbrainz(CONSOLE_USER_ID, username)
        self.say(linked_text(linked.account.username, linked.listens, plain))


async def read_line(stream: TextIO, prompt: str) -> str:
    """The next line ('' at end of input), read on a daemon thread so the event loop keeps
    running and Ctrl-C never waits for a blocked read."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def read() -> None:
        try:
            line = input(prompt) + "\n" if prompt else stream.readline()
        except EOFError:
            line = ""
        except BaseException as error:
            loop.call_soon_threadsafe(_settle, future, None, error)
            return
        loop.call_soon_threadsafe(_settle, future, line, None)

    threading.Thread(target=read, name="console-input", daemon=True).start()
    return await future


def _settle(future: asyncio.Future, value, error) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


async def run_console(
    config: Config,
    *,
    config_path: Path | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    service: SoundalikeService | None = None,
    retrainer: Retrainer | None = None,
) -> int:
    """Run the console until /quit or end of input; returns the exit status."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    interactive = stdin is sys.stdin and stdin.isatty()
    stdout.write("Soundalike console: the bot's commands, without Discord.\n" + HOW_TO_SET_TOKEN + "\n")
    stdout.flush()
    async with Soundalike.open(config, config_path=config_path, service=service, retrainer=retrainer, workers=1) as app:
        await app.expire_old_questions()  # the README's retention promise
        console = Console(app, stdout)
        console.say(
            f"Serving the {app.dataset_name} data with model {app.serving_version}. Type /help for the commands."
        )
        while True:
            line = await read_line(stdin, "soundalike> " if interactive else "")
            if not line or not await console.handle(line):
                break
    return 0
