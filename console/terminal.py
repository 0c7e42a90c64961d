"""The bot's commands in a terminal or from a pipe, without Discord.

    $ printf '/soundalike Hey Ya!\\n+1\\n/more\\n' | python -m bot --console

Same service, same feedback log, same steps as the cogs (:mod:`recommender.app.answers`); the console
member is user 0 in the log's no-guild space, and its own admin there (/block, /unblock).
Options use Discord's own syntax: ``/soundalike title:Hey Ya! artist:OutKast count:3
novelty:deep`` (``title:`` may be left out, and a line that is not a command is a title).
The songs of a mix are separated by ``|`` (no title in the demo catalog has one):
``/mix Hey Ya! | Hello artist:Adele | Hey Jude novelty:deep``. ``/novelty deep`` sets the
novelty for every later answer of the session; a ``novelty:`` option wins for one answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import logging
import re
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from recommender.config import Config
from recommender.errors import SoundalikeError
from recommender.feedback.log import NO_GUILD, FeedbackLog
from recommender.results import Answer, Candidate
from recommender.text import one_line, without_lone_surrogates

from bot import render
from recommender.app.answers import (
    MAX_POSITION,
    NOVELTY_NAMES,
    Lookup,
    Rated,
    Request,
    artist_mismatch_text,
    block_song,
    check_cap,
    check_count,
    check_novelty,
    compute_answer,
    log_answer,
    look_up,
    mix_seeds,
    rate_suggestion,
    unblock_song,
)
from recommender.app.limits import ComputePool
from recommender.app.retrainer import Retrainer, RetrainOutcome, RetrainProgress

log = logging.getLogger(__name__)

CONSOLE_USER_ID = 0
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
  /forgetme                      erase the console's questions and ratings
  /help                          this list
  /quit                          leave (end of input does too)"""

OPTION_NAMES = ("title", "artist", "count", "novelty", "leave_out_artist", "per_artist")
_OPTION = re.compile(r"(?:^|\s)(title|artist|count|novelty|leave_out_artist|per_artist):", re.IGNORECASE)
# What looks like an option but is none ("bogus:1", "novelt:deep"): a lowercase word with the
# value right after its colon. Titles with a colon in them are capitalised ("The Sin:Decay"),
# have a space after it ("Re: Stacks"), or start the text; a word at the start only counts
# when it is close to an option's name.
_OPTION_LIKE = re.compile(r"(?:^|(?<=\s))([a-z][a-z_]{0,30}):(?=[^\s/])")
# Which options each command takes (a mix's "title" is each song, /foryou's is its count).
COMMAND_OPTIONS = {
    "soundalike": OPTION_NAMES,
    "mix": ("title", "artist", "count", "novelty"),
    "foryou": ("title", "count", "novelty"),
    "block": ("title", "artist"),
    "unblock": ("title", "artist"),
}
MIX_SEPARATOR = "|"
_YES = {"yes", "y", "true", "1", "on"}
_NO = {"no", "n", "false", "0", "off"}
_RATING = re.compile(r"([+-])\s*(\d{1,3})?")


def parse_options(text: str, command: str = "soundalike") -> dict[str, str]:
    """``Hey Ya! artist:OutKast count:3`` -> {'title': 'Hey Ya!', 'artist': 'OutKast', 'count': '3'}.

    An option the command does not take, one given twice, or something that looks like an
    option but is none (``novelt:deep``) is an error saying what the command takes: nothing
    typed is dropped without a word.
    """
    allowed = COMMAND_OPTIONS.get(command, OPTION_NAMES)
    options: dict[str, str] = {}
    matches = list(_OPTION.finditer(text))
    head = text[: matches[0].start()] if matches else text
    if head.strip():
        options["title"] = head.strip()
    _check_option_like(head, command, allowed, at_start=True)
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        name, value = match[1].lower(), text[match.end() : end].strip()
        if name not in allowed:
            raise SoundalikeError(f"/{command} has no {name}: option; {_takes(command, allowed)}.")
        if name in options:
            raise SoundalikeError(f"{name}: is given twice; give it once")
        _check_option_like(value, command, allowed, at_start=False)
        options[name] = value
    return options


def _asks_for_songs(line: str) -> bool:
    """Whether a console line is a question (a title, a pick, /soundalike, /mix, /foryou, /more)."""
    if _RATING.fullmatch(line):
        return False
    if not line.startswith("/"):
        return True
    return line[1:].partition(" ")[0].lower() in ("soundalike", "mix", "foryou", "more")


def _takes(command: str, allowed: tuple[str, ...]) -> str:
    """ "/soundalike takes artist:, count:, ... and per_artist:" """
    if command == "mix":
        return "/mix takes count: and novelty:, and artist: after a song"
    names = [f"{name}:" for name in allowed if name != "title"]
    listed = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)
    return f"/{command} takes {listed}" if names else f"/{command} takes no options"


def _check_option_like(text: str, command: str, allowed: tuple[str, ...], *, at_start: bool) -> None:
    for match in _OPTION_LIKE.finditer(text):
        name = match[1]
        close = difflib.get_close_matches(name, OPTION_NAMES, n=1, cutoff=0.75)
        if match.start() == 0 and at_start and not close:
            continue  # a title that starts with "word:" ("yourcodenameis:milo")
        hint = f" (did you mean {close[0]}:?)" if close and close[0] in allowed else ""
        raise SoundalikeError(
            f"unknown option {name}:{hint}. {_takes(command, allowed)}; "
            "a colon that belongs to a title needs a space after it."
        )


class Console:
    """Handles one line at a time; ``handle`` returns False when the console should end."""

    def __init__(
        self, config: Config, service, feedback_log: FeedbackLog, pool: ComputePool, retrainer: Retrainer, out: TextIO
    ):
        self.config = config
        self.service = service
        self.feedback_log = feedback_log
        self.pool = pool
        self.retrainer = retrainer
        self.out = out
        self.last_query_id: int | None = None
        self.last_count = 0
        self.last_answer: Answer | None = None
        self.last_request: Request | None = None
        self._last_typed: tuple[str | None, str | None] = (None, None)
        self.novelty = config.serving.novelty  # [serving] novelty; /novelty sets it for the session
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
            counts = await self.feedback_log.forget_user(CONSOLE_USER_ID)
            self.last_query_id = self.last_answer = self.last_request = None
            self.say(f"Erased {counts.get('queries', 0)} questions and {counts.get('feedback', 0)} ratings.")
        else:
            self.say(f"Unknown command /{one_line(command)[:40]}; /help lists the commands.")
        return True

    # -- options ----------------------------------------------------------------------
    # None: the option was not given (the default applies); "": it was typed with no value.
    def _count(self, text: str | None) -> int:
        maximum = self.config.bot.max_results
        if text is None:
            return check_count(None, default=self.config.serving.default_count, maximum=maximum)
        try:
            wanted = int(text)
        except ValueError:
            raise SoundalikeError(
                f"count must be a whole number from 1 to {maximum}, got {one_line(text)[:40]!r}"
            ) from None
        return check_count(wanted, default=self.config.serving.default_count, maximum=maximum)

    def _novelty(self, text: str | None) -> str:
        if text is None:
            return self.novelty
        if not text.strip():
            raise SoundalikeError("novelty: needs a value: popular, balanced or deep")
        return check_novelty(text)

    @staticmethod
    def _yes_no(name: str, text: str | None) -> bool:
        if text is None:
            return False
        if text.strip().lower() in _YES:
            return True
        if text.strip().lower() in _NO:
            return False
        raise SoundalikeError(f"{name} takes yes or no, got {one_line(text)[:40]!r}")

    @staticmethod
    def _cap(text: str | None) -> int | None:
        if text is None:
            return None
        try:
            return check_cap(int(text))
        except ValueError:
            raise SoundalikeError(
                f"per_artist takes a whole number from 0 (no limit) to 25, got {one_line(text)[:40]!r}"
            ) from None

    @staticmethod
    def _artist(options: dict[str, str]) -> str | None:
        artist = options.get("artist")
        if artist is not None and not artist.strip():
            raise SoundalikeError("artist: needs a name, e.g. artist:OutKast")
        return artist

    def set_novelty(self, text: str) -> None:
        if text.strip():
            self.novelty = check_novelty(text)
        self.say(f"Novelty: {NOVELTY_NAMES[self.novelty]} (choose popular, balanced or deep: /novelty deep).")

    # -- /soundalike, /mix, /foryou, /more -----------------------------------------------
    async def soundalike(self, text: str) -> None:
        options = parse_options(text, "soundalike")
        title, artist = options.get("title", ""), self._artist(options)
        request = Request(
            "soundalike",
            count=self._count(options.get("count")),
            novelty=self._novelty(options.get("novelty")),
            exclude_seed_artist=self._yes_no("leave_out_artist", options.get("leave_out_artist")),
            per_artist_cap=self._cap(options.get("per_artist")),
        )
        started = time.perf_counter()
        found: Lookup = await self.pool.run(None, look_up, self.service, title, artist)
        self.pending_choices = []
        if found.artist_mismatch:
            self.say(one_line(artist_mismatch_text(found.query, found.artist_mismatch)))
            if found.choices:
                self.pending_choices, self._pending_request = found.choices, request
                self.say("Songs by other artists with that title; type the number of one to use it:")
                for number, candidate in enumerate(found.choices, start=1):
                    self.say(f"{number:>3}. {one_line(candidate.label)}  ({candidate.listeners:,} listeners)")
        elif found.seed is not None:
            await self._answer(dataclasses.replace(request, seeds=(found.seed.item_id,)), started, title, artist)
        elif found.choices:  # not sure: numbered choices, 0 for none of them
            self.pending_choices, self._pending_request = found.choices, request
            self.say(render.pick_text(found, plain=True) + " Type its number (0: none of these):")
            for number, candidate in enumerate(found.choices, start=1):
                self.say(f"{number:>3}. {one_line(candidate.label)}  ({candidate.listeners:,} listeners)")
            self.say("  0. none of these")
        else:
            text = f"No song matches “{one_line(found.query)}”."
            if found.closest:
                text += " Closest titles: " + "; ".join(one_line(t) for t in found.closest[:5])
            if found.note:
                text += "\n" + one_line(found.note)
            self.say(text)

    async def _pick(self, number: int) -> bool:
        choices, self.pending_choices = self.pending_choices, []
        if number == 0:
            text = "Nothing picked. Add the artist (artist:NAME) to find the song you mean."
            note = self.service.no_match_note()
            self.say(text + ("\n" + one_line(note) if note else ""))
            return True
        if not 1 <= number <= len(choices):
            self.say(f"Pick a number from 0 to {len(choices)}; ask again with /soundalike.")
            return True
        seed = choices[number - 1]
        request = dataclasses.replace(self._pending_request or Request("soundalike"), seeds=(seed.item_id,))
        await self._answer(request, time.perf_counter(), seed.title, None)
        return True

    async def mix(self, text: str) -> None:
        songs: list[tuple[str, str | None]] = []
        knobs: dict[str, str] = {}
        for part in text.split(MIX_SEPARATOR):
            options = parse_options(part, "mix")
            if "artist" in options and not options.get("title", "").strip():
                raise SoundalikeError("artist: goes after a song of the mix, e.g. /mix Hey Ya! | Hello artist:Adele")
            songs.append((options.get("title", ""), self._artist(options)))
            for name in ("count", "novelty"):
                if name in options:
                    if name in knobs:
                        raise SoundalikeError(f"{name}: is given twice; give it once")
                    knobs[name] = options[name]
        request = Request("mix", count=self._count(knobs.get("count")), novelty=self._novelty(knobs.get("novelty")))
        started = time.perf_counter()
        seeds = await self.pool.run(None, mix_seeds, self.service, songs)
        request = dataclasses.replace(request, seeds=tuple(seed.item_id for seed in seeds))
        await self._answer(request, started, " | ".join(title for title, _ in songs if title.strip()), None)

    async def foryou(self, text: str) -> None:
        options = parse_options(text, "foryou")
        if "count" in options and "title" in options:
            raise SoundalikeError("count: is given twice (/foryou 3 means count:3); give it once")
        count = options.get("count", options.get("title"))  # "/foryou 3" means three songs
        request = Request("foryou", count=self._count(count), novelty=self._novelty(options.get("novelty")))
        await self._answer(request, time.perf_counter(), None, None)

    async def more(self) -> None:
        if self.last_request is None:
            self.say("Nothing to continue yet: ask for songs first, e.g. /soundalike Hey Ya!")
            return
        if self.last_answer is not None and not self.last_answer.has_more:
            self.say("That was all: there are no more suggestions for this.")
            return
        following = self.last_request.next_page()
        if following.offset >= MAX_POSITION:
            self.say(render.as_far_as_i_go(MAX_POSITION))
            return
        typed_title, typed_artist = self._last_typed
        await self._answer(following, time.perf_counter(), typed_title, typed_artist)

    async def _answer(
        self, request: Request, started: float, typed_title: str | None, typed_artist: str | None
    ) -> None:
        answer = await compute_answer(
            self.service,
            self.feedback_log,
            self.pool,
            request,
            guild_id=NO_GUILD,
            user_id=CONSOLE_USER_ID,
            pool_key=None,
        )
        if request.offset and not answer.suggestions:
            self.say("That was all: there are no more suggestions for this.")
            return
        self.say(render.answer_text(answer, novelty=request.novelty))
        self.last_request, self._last_typed = request, (typed_title, typed_artist)  # /more goes on from here
        try:
            query_id = await log_answer(
                self.feedback_log,
                answer,
                command=request.command,
                guild_id=NO_GUILD,
                user_id=CONSOLE_USER_ID,
                channel_id=None,
                typed_title=typed_title,
                typed_artist=typed_artist,
                started=started,
                params={"console": True},
                request=request,
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

    # -- ratings -----------------------------------------------------------------------
    async def rate(self, value: int, position: int | None) -> None:
        if self.last_query_id is None or self.last_answer is None:
            self.say(self._unrated or "Nothing to rate yet: ask for songs first, e.g. /soundalike Hey Ya!")
            return
        emoji = render.THUMBS_UP if value > 0 else render.THUMBS_DOWN
        if position is None:
            recorded = await self.feedback_log.record_feedback(
                None, CONSOLE_USER_ID, value, None, query_id=self.last_query_id
            )
            self.say(
                f"Noted: {emoji} for the whole list."
                if recorded
                else "I have no record of that answer any more, so the rating was not kept."
            )
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
        outcome = await rate_suggestion(
            self.feedback_log,
            guild_id=NO_GUILD,
            user_id=CONSOLE_USER_ID,
            value=value,
            position=position,
            item_id=answer.suggestions[index].item_id,
            query_id=self.last_query_id,
        )
        if outcome is Rated.RECORDED:
            self.say(f"Noted: {emoji} for suggestion {position}.")
        else:
            self.say(render.rating_text(outcome, value, position))

    # -- blocks ------------------------------------------------------------------------
    async def block(self, text: str) -> None:
        options = parse_options(text, "block")
        song = self._song_text(options)
        result = await block_song(
            self.service,
            self.feedback_log,
            self.pool,
            guild_id=NO_GUILD,
            user_id=CONSOLE_USER_ID,
            song=song,
            pool_key=None,
        )
        self.say(render.block_text(result, plain=True).replace("this server", "the console"))

    async def unblock(self, text: str) -> None:
        options = parse_options(text, "unblock")
        result = await unblock_song(
            self.service, self.feedback_log, self.pool, guild_id=NO_GUILD, song=self._song_text(options), pool_key=None
        )
        self.say(render.block_text(result, plain=True).replace("this server", "the console"))

    def _song_text(self, options: dict[str, str]) -> str:
        """A typed title with an artist narrows to that artist's song (the resolver takes both)."""
        title, artist = options.get("title", ""), self._artist(options)
        if artist and title:
            found = self.service.resolve(title, artist)
            if found.artist_matched is False:
                raise SoundalikeError(artist_mismatch_text(title, artist))
            if found.found and found.confident:  # a single far match is no reason to block it
                return found.best.item_id
        return title

    # -- admin -------------------------------------------------------------------------
    async def retrain(self) -> None:
        async def show(progress: RetrainProgress) -> None:
            share = f" {progress.progress:.0%}" if progress.progress is not None else ""
            self.say(f"  retrain: {one_line(progress.stage)}{share} {one_line(progress.message)}")

        self.say("Retraining with the logged ratings…")
        outcome: RetrainOutcome = await self.retrainer.run(show, started_by="the console")
        if outcome.promoted:
            version = await asyncio.to_thread(self.service.reload)
            self.say(f"Retrained: now serving model {version}. {one_line(outcome.reason)}")
        else:
            self.say(f"Kept model {self.service.model.version}: {one_line(outcome.reason)}")

    async def model(self) -> None:
        info = await asyncio.to_thread(self.service.model_info)
        self.say(
            f"Model {info.get('version')} ({info.get('algorithm', '?')}) on {info.get('dataset')} data, "
            f"created {info.get('created', '?')}"
        )
        metrics = info.get("metrics")
        if isinstance(metrics, dict) and metrics:
            for line in render.metrics_text(metrics, plain=True).splitlines():
                self.say(f"  {line}")
        versions = info.get("versions")
        if versions:
            self.say(f"  versions on disk: {', '.join(map(str, versions))}")

    async def rollback(self) -> None:
        before, now = await asyncio.to_thread(self.service.rollback)
        self.say(render.rollback_text(before, now))

    async def stats(self) -> None:
        rows = await self.feedback_log.stats(NO_GUILD)
        if not rows:
            self.say("No answers logged from the console yet.")
        for row in rows:
            rated = row.up + row.down
            self.say(
                f"model {row.model_version}: {row.answers} answered, "
                f"👍 {row.up} ({render.percent(row.up, rated)}), 👎 {row.down} ({render.percent(row.down, rated)})"
            )
        top = await self.feedback_log.top_queries(NO_GUILD, limit=5)
        if top:
            self.say("Most asked-for songs:")
            for row in top:
                song = self.service.candidate(row.item_id)
                name = one_line(song.label if song is not None else (row.typed_title or row.item_id))
                self.say(f"  {row.times:>3}× {name}")


async def read_line(stream: TextIO, prompt: str) -> str:
    """The next line ('' at end of input), read on a daemon thread so the event loop keeps
    running and Ctrl-C never waits for a blocked read."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def read() -> None:
        try:
            if prompt:
                line = input(prompt) + "\n"
            else:
                line = stream.readline()
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
    service=None,
    retrainer: Retrainer | None = None,
) -> int:
    """Run the console until /quit or end of input; returns the exit status."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    interactive = stdin is sys.stdin and stdin.isatty()
    stdout.write("Soundalike console: the bot's commands, without Discord.\n" + HOW_TO_SET_TOKEN + "\n")
    stdout.flush()
    if service is None:
        from recommender.service import SoundalikeService

        service = await asyncio.to_thread(SoundalikeService.open, config)
    settings = config.bot
    pool = ComputePool(per_guild=settings.per_guild_concurrency, max_queue=settings.max_queue, workers=1)
    try:
        async with FeedbackLog.open(config.database_path) as feedback_log:
            await feedback_log.expire(settings.retention_days)  # the README's retention promise
            console = Console(
                config, service, feedback_log, pool, retrainer or Retrainer(config, config_path=config_path), stdout
            )
            console.say(
                f"Serving the {service.dataset.name} data with model {service.model.version}. "
                "Type /help for the commands."
            )
            while True:
                line = await read_line(stdin, "soundalike> " if interactive else "")
                if not line:
                    break
                if not await console.handle(line):
                    break
    finally:
        pool.close()
    return 0
