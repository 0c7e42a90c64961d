"""Reading a console line's options, in Discord's own syntax.

``/soundalike title:Hey Ya! artist:OutKast count:3 novelty:deep`` (``title:`` may be left
out). The songs of a mix are separated by ``|`` (no title in the demo catalog has one):
``/mix Hey Ya! | Hello artist:Adele | Hey Jude novelty:deep``. Nothing typed is dropped
without a word: an option a command does not take, one given twice, one that looks like an
option but is none, or a value out of range is an error saying what is accepted.
"""

from __future__ import annotations

import difflib
import re

from recommender.app.options import MAX_PER_ARTIST_CAP, check_cap, check_count, check_novelty
from recommender.config import Config
from recommender.errors import SoundalikeError
from recommender.text import one_line

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


def parse_mix(text: str) -> tuple[list[tuple[str, str | None]], dict[str, str]]:
    """A /mix line: its (title, artist) songs and its count:/novelty: options, each given once."""
    songs: list[tuple[str, str | None]] = []
    knobs: dict[str, str] = {}
    for part in text.split(MIX_SEPARATOR):
        options = parse_options(part, "mix")
        if "artist" in options and not options.get("title", "").strip():
            raise SoundalikeError("artist: goes after a song of the mix, e.g. /mix Hey Ya! | Hello artist:Adele")
        songs.append((options.get("title", ""), artist_of(options)))
        for name in ("count", "novelty"):
            if name in options:
                if name in knobs:
                    raise SoundalikeError(f"{name}: is given twice; give it once")
                knobs[name] = options[name]
    return songs, knobs


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


# -- option values -------------------------------------------------------------------------
# None: the option was not given (the default applies); "": it was typed with no value.
def count_of(text: str | None, config: Config) -> int:
    maximum = config.bot.max_results
    if text is None:
        return check_count(None, default=config.serving.default_count, maximum=maximum)
    try:
        wanted = int(text)
    except ValueError:
        raise SoundalikeError(
            f"count must be a whole number from 1 to {maximum}, got {one_line(text)[:40]!r}"
        ) from None
    return check_count(wanted, default=config.serving.default_count, maximum=maximum)


def novelty_of(text: str | None, session_novelty: str) -> str:
    """The novelty typed for one answer; not given: the session's (/novelty)."""
    if text is None:
        return session_novelty
    if not text.strip():
        raise SoundalikeError("novelty: needs a value: popular, balanced or deep")
    return check_novelty(text)


def yes_no(name: str, text: str | None) -> bool:
    if text is None:
        return False
    if text.strip().lower() in _YES:
        return True
    if text.strip().lower() in _NO:
        return False
    raise SoundalikeError(f"{name} takes yes or no, got {one_line(text)[:40]!r}")


def cap_of(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return check_cap(int(text))
    except ValueError:
        raise SoundalikeError(
            f"per_artist takes a whole number from 0 (no limit) to {MAX_PER_ARTIST_CAP}, got {one_line(text)[:40]!r}"
        ) from None


def artist_of(options: dict[str, str]) -> str | None:
    artist = options.get("artist")
    if artist is not None and not artist.strip():
        raise SoundalikeError("artist: needs a name, e.g. artist:OutKast")
    return artist
