"""Text rules: normalization shared by the title resolver's index and the queries it answers,
and the one way each piece of text is made fit to show.

Both sides go through the same functions, so "Hey Ya!", "hey ya" and "HEY YA" meet on
the same string. The rules:

- invisible characters (zero-width, bidi marks, control and format characters) go first;
- accents are stripped (NFKD, then combining marks dropped) and case is folded;
- "&", "+" and a lone "n" (as in "rock 'n' roll") all read as "and";
- apostrophes and dots disappear ("don't" -> "dont", "P.Y.T." -> "pyt"); any other
  punctuation, emoji or symbol separates words;
- a leading "the" is dropped ("The Scientist" and "scientist" are one title);
- bracketed parts "(Live)", "[Radio Edit]" and dashed tails " - Live at X" are version
  extras, and "(feat. X)" / "ft. X" / "featuring X" name featured artists: both are kept
  apart from the core title, as a weaker signal, instead of being noise that breaks a match.

Everything is cut to a bounded length before any work, so a 10,000-character paste costs
no more than a long title.

Text shown to people has its own, separate helpers at the end: :func:`one_line` (untrusted
text as one printable line), :func:`shorten` (cut with an ellipsis) and :func:`song_label`
("Title — Artist"). Front ends escape for their medium on top of these.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

# Queries are cut to this many characters before any work; catalog titles get more room.
MAX_QUERY_CHARS = 200
MAX_CATALOG_CHARS = 500

# Categories removed outright: control, format (zero-width, bidi marks, BOM, soft hyphen),
# surrogates, private use and unassigned code points.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
# Letters NFKD leaves whole; spelled out so "Røyksopp" meets "royksopp".
_LETTER_SPELLINGS = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "đ": "d",
        "Đ": "D",
        "ł": "l",
        "Ł": "L",
        "ß": "ss",
        "þ": "th",
        "Þ": "TH",
        "ð": "d",
        "Ð": "D",
        "ı": "i",
    }
)
# Applied after case folding: connectors become words, apostrophes and dots vanish.
_PUNCTUATION = str.maketrans(
    {
        "&": " and ",
        "+": " and ",
        "'": None,
        "’": None,
        "‘": None,
        "`": None,
        "´": None,
        "ʼ": None,
        ".": None,
        "…": " ",
    }
)
_ELLIPSIS = re.compile(r"\.{2,}")
# The ASCII shortcut of the same rules: letters and digits stay, everything else separates.
_ASCII_FOLD = str.maketrans(
    {
        **{chr(code): " " for code in range(128) if not chr(code).isalnum()},
        "&": " and ",
        "+": " and ",
        "'": None,
        "`": None,
        ".": None,
    }
)
# Anything that is not a letter or digit separates words (underscore too).
_SEPARATORS = re.compile(r"[\W_]+")

# "(feat. X)", "ft. X", "featuring X", "feat X". A bare "ft" (feet) is not a marker.
_FEATURING = re.compile(r"^\s*(?:featuring\b|feat\b\.?|ft\.)\s*(.*)$", re.IGNORECASE | re.DOTALL)
_FEATURING_TAIL = re.compile(r"\s(?:featuring|feat\.?|ft\.)\s+(.+)$", re.IGNORECASE | re.DOTALL)
# "(...)", "[...]", "{...}" and an unclosed bracket running to the end (a half-typed query).
_BRACKETED = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]|\{([^{}]*)\}|[(\[{]([^)\]}]*)$")
# A dashed tail needs spaces around the dash, so "Jay-Z" and "T-Shirt" stay whole.
_DASH = re.compile(r"\s+[-–—]+\s+")
# Separators between several featured artists: "X, Y & Z", "X and Y", "X / Y", "X x Y".
_FEATURED_SPLIT = re.compile(r"\s*(?:,|&|/|\band\b|\bx\b)\s*", re.IGNORECASE)
# Primary artist: what comes before "feat."/"ft."/"featuring", " / ", " vs. " ("AC/DC" stays whole).
_ARTIST_CREDIT_SPLIT = re.compile(r"\s+(?:featuring|feat\.?|ft\.|vs\.?|/)\s+", re.IGNORECASE)

# Words that mark an extra as a version of the same recording rather than a subtitle.
VERSION_WORDS = frozenset(
    """
    live remaster remastered remasterd mix remix remixed edit edited version versions demo
    acoustic mono stereo instrumental karaoke radio extended original bonus single album lp ep
    unplugged session sessions take reprise dub explicit clean rerecorded re recorded cover
    medley mixed vocal orchestral orchestra symphonic rehearsal alternate alt outtake outtakes
    club dance deluxe anniversary digital remasters rmx vip short long intro outro bbc peel
    studio performance recording recorded concert tour from soundtrack ost theme
""".split()
)


def strip_invisible(text: object, max_chars: int = MAX_QUERY_CHARS) -> str:
    """``text`` (anything: None and numbers too) cut to ``max_chars``, with invisible characters
    removed and line breaks, tabs and other control characters read as spaces: the first step
    of every match, on typed queries and catalog strings alike.

    The cut comes first, so the work that follows is bounded whatever was pasted.
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = text[:max_chars]
    if text.isascii():
        if text.isprintable():
            return text
        return "".join(ch if ch.isprintable() else " " for ch in text)
    return "".join(
        " " if ch in "\t\n\r\x0b\x0c\u2028\u2029" else ch
        for ch in text
        if ch in "\t\n\r\x0b\x0c\u2028\u2029" or unicodedata.category(ch) not in _INVISIBLE_CATEGORIES
    )


def fold(text: str) -> str:
    """Case-folded, accent-free words of ``text`` separated by single spaces.

    ``text`` should already be :func:`strip_invisible`; this is the string comparison form used on
    both sides of every match.
    """
    if text.isascii():
        # Same result as the general path, with one translate instead of two regexes
        # (the catalog build folds a million titles).
        if ".." in text:
            text = _ELLIPSIS.sub(" ", text)
        words = text.lower().translate(_ASCII_FOLD).split()
    else:
        words = _fold_words(text)
    if "n" in words:  # "rock 'n' roll" / "rock n roll" / "rock & roll" are the same words
        words = ["and" if word == "n" else word for word in words]
    return " ".join(words)


def _fold_words(text: str) -> list[str]:
    """The general folding rule, for any text (``fold`` has an ASCII shortcut)."""
    text = unicodedata.normalize("NFKD", text.translate(_LETTER_SPELLINGS))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _ELLIPSIS.sub(" ", text.casefold()).translate(_PUNCTUATION)
    return _SEPARATORS.sub(" ", text).split()


def drop_leading_the(folded: str) -> str:
    """ "the scientist" -> "scientist"; a bare "the" stays (it is the whole name)."""
    if folded.startswith("the ") and len(folded) > 4:
        return folded[4:]
    return folded


class TitleParts(NamedTuple):
    """A title taken apart for matching.

    ``core`` is what a person means by the song ("hey ya"); ``extras`` are the folded
    bracketed or dashed parts ("radio mix", "live at wembley"); ``featured`` the folded
    featured artists; ``full`` the title with its extras kept in place (feat. removed), the
    form to match when a subtitle is really part of the name ("(I Can't Get No)
    Satisfaction"); ``is_version`` whether an extra marks a live/remix/remaster version.
    """

    core: str
    extras: tuple[str, ...] = ()
    featured: tuple[str, ...] = ()
    full: str = ""
    is_version: bool = False


def _split_featured(names: str) -> list[str]:
    folded = []
    for name in _FEATURED_SPLIT.split(names):
        name = drop_leading_the(fold(name))
        if name:
            folded.append(name)
    return folded


def parse_title(title: object, max_chars: int = MAX_QUERY_CHARS) -> TitleParts:
    """Take a title (or a typed query) apart into core, extras and featured artists."""
    text = strip_invisible(title, max_chars)
    lowered = text.lower()
    if not (
        "(" in text
        or "[" in text
        or "{" in text
        or "-" in text
        or "–" in text
        or "—" in text
        or "feat" in lowered
        or "ft." in lowered
    ):
        # Most titles: no brackets, dashes or featuring, so the core is the whole title.
        core = drop_leading_the(fold(text))
        return TitleParts(core=core, full=core)
    extras: list[str] = []
    featured: list[str] = []

    def bracket(match: re.Match) -> str:
        content = next(group for group in match.groups() if group is not None)
        feat = _FEATURING.match(content)
        if feat:
            featured.extend(_split_featured(feat.group(1)))
            return " "
        if extra := fold(content):
            extras.append(extra)
        return f" {content} "

    # ``with_extras`` keeps bracket contents in place (for ``full``); ``text`` drops them.
    with_extras = text
    if any(ch in text for ch in "([{"):
        with_extras = _BRACKETED.sub(bracket, text)
        text = _BRACKETED.sub(" ", text)

    # Dashed tails: "Hey Ya! - Radio Mix", "Song - Live at Wembley".
    pieces = _DASH.split(text)
    main = pieces[0]
    if len(pieces) > 1:
        if not fold(main):  # "- Live -": nothing before the dash, keep it all
            main = " ".join(pieces)
        else:
            for piece in pieces[1:]:
                feat = _FEATURING.match(piece)
                if feat:
                    featured.extend(_split_featured(feat.group(1)))
                elif extra := fold(piece):
                    extras.append(extra)
    tail = _FEATURING_TAIL.search(main)
    if tail:
        featured.extend(_split_featured(tail.group(1)))
        main = main[: tail.start()]
    tail = _FEATURING_TAIL.search(with_extras)
    if tail:
        with_extras = with_extras[: tail.start()]

    core = drop_leading_the(fold(main))
    full = core if with_extras == main else drop_leading_the(fold(with_extras))
    if not core:
        # "(Untitled)" or "[Intro]": the bracket is all there is, so it is the title.
        core = full
    is_version = any(word in VERSION_WORDS for extra in extras for word in extra.split())
    return TitleParts(
        core=core, extras=tuple(extras), featured=tuple(featured), full=full or core, is_version=is_version
    )


@dataclass(frozen=True)
class ArtistParts:
    """An artist credit: the folded primary artist and any folded featured artists."""

    primary: str
    featured: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.primary, *self.featured) if self.primary else self.featured


def parse_artist(artist: object, max_chars: int = MAX_QUERY_CHARS) -> ArtistParts:
    """ "Beyoncé feat. Jay-Z" -> primary "beyonce", featured ("jay z",)."""
    text = strip_invisible(artist, max_chars)
    pieces = [piece for piece in _ARTIST_CREDIT_SPLIT.split(text) if piece and piece.strip()]
    if not pieces:
        return ArtistParts("")
    primary = drop_leading_the(fold(pieces[0]))
    featured = tuple(name for piece in pieces[1:] for name in _split_featured(piece))
    if not primary and featured:
        primary, featured = featured[0], featured[1:]
    return ArtistParts(primary, featured)


def dash_parts(text: str) -> list[str]:
    """ "OutKast - Hey Ya" -> ["OutKast", "Hey Ya"]; a dash needs spaces around it."""
    return _DASH.split(text)


def primary_artist_display(artist: object) -> str:
    """The raw spelling of the primary artist ("Beyoncé feat. Jay-Z" -> "Beyoncé")."""
    text = strip_invisible(artist, MAX_CATALOG_CHARS).strip()
    first = _ARTIST_CREDIT_SPLIT.split(text, maxsplit=1)[0].strip()
    return first or text


def song_key(title: object, artist: object) -> str:
    """The key under which versions of one song collapse.

    Same folded core title and same primary artist: "Hey Ya! (Radio Mix)" and
    "Hey Ya!" by OutKast share a key; a cover by another artist does not.
    """
    return f"{parse_title(title, MAX_CATALOG_CHARS).core}\x1f{parse_artist(artist, MAX_CATALOG_CHARS).primary}"


# -- text shown to people -----------------------------------------------------------------
_CONTROL_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}
# Zero-width joiners keep emoji sequences (👩‍🎤) whole; other format characters go.
_KEEP_FORMAT = {"\u200d", "\ufe0f"}


def without_lone_surrogates(text: str) -> str:
    """``text`` with every lone surrogate as U+FFFD (a terminal's bad UTF-8 arrives as lone
    surrogates, JSON may carry them too): such a string cannot be encoded, logged or stored.
    A surrogate pair written as two code points becomes the character it stands for."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


_SURROGATE = re.compile("[\ud800-\udfff]")


def one_line(text: object) -> str:
    """Untrusted text as one line to show or log: control/format characters become spaces
    (emoji joiners stay), runs of spaces collapse, lone surrogates become U+FFFD."""
    text = str(text)
    if text.isprintable():  # the usual title: no control, format or odd space characters
        return " ".join(text.split())
    text = without_lone_surrogates(text)
    out = []
    for char in text:
        if char in _KEEP_FORMAT or unicodedata.category(char) not in _CONTROL_CATEGORIES:
            out.append(char)
        else:
            out.append(" ")
    return re.sub(r"\s+", " ", "".join(out)).strip()


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, with an ellipsis when cut."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


# A song label cut to a limit gives the title up first: the artist keeps this many characters.
LABEL_ARTIST_CHARS = 40


def song_label(title: object, artist: object, limit: int | None = None) -> str:
    """ "Title — Artist" on one line (runs of whitespace read as one space), the one way a song
    is named in lists, choices and messages. With ``limit``, at most that many characters:
    the title is shortened first, the artist keeps up to LABEL_ARTIST_CHARS.

    Not escaped or cleaned for display: front ends do that where they show it.
    """
    title, artist = " ".join(str(title).split()), " ".join(str(artist).split())
    label = f"{title} — {artist}"
    if limit is None or len(label) <= limit:
        return label
    artist = shorten(artist, min(len(artist), LABEL_ARTIST_CHARS))
    title_room = limit - len(artist) - len(" — ")
    if title_room < 1:  # too small a limit for both: the label's start
        return shorten(label, limit)
    return f"{shorten(title, title_room)} — {artist}"
