"""One ListenBrainz listen, parsed and normalised: pure functions with no I/O.

The dump reader (:mod:`recommender.importers.listenbrainz`) calls them on each line of a
``.listens`` file; a cluster reader can call the same functions on each parsed row, so the
rules below are written once.

The listen format followed (metabrainz/listenbrainz-server):

- ``docs/users/listenbrainz-dumps.rst``: a listens dump holds ``listens/<year>/<month>.listens``
  files, each "one JSON document per line -- each of the JSON documents is one listen,
  formatted in the standard listens format";
- ``docs/users/json.rst``: a listen has ``listened_at`` (an integer, Unix time) and
  ``track_metadata`` with ``artist_name`` and ``track_name`` (required, simple strings), optional
  ``release_name`` and ``additional_info``;
- ``listenbrainz/listen.py``: ``Listen.from_json`` reads ``user_name``/``user_id`` and the time
  from ``listened_at`` or, failing that, ``timestamp``; ``Listen.from_timescale`` adds
  ``track_metadata.mbid_mapping`` when the listen was matched to MusicBrainz: ``recording_mbid``,
  ``recording_name``, ``artist_mbids`` and ``artists`` (``artist_credit_name``,
  ``join_phrase``).

What a listen becomes:

- the listener is ``user_name`` (or ``user_id:<id>`` when a line only has the id);
- the song is the **recording**: ``mbid_mapping.recording_mbid`` when the listen was matched
  (ListenBrainz's own, checked match; a client's ``additional_info.recording_mbid`` is not
  trusted for identity), else the normalised (title, artist) :func:`recording_key`, made with
  the resolver's text rules (:mod:`recommender.text`), so "Hey Ya!" by "OutKast" and "hey ya"
  by "Outkast" are one song while "Hey Ya! (Live)" stays another recording;
- a matched recording is shown with MusicBrainz's names (``recording_name`` and the artist
  credit) when the mapping carries them, else with the names the listener's player sent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

from recommender.text import MAX_CATALOG_CHARS, parse_artist, parse_title

TEXT_ITEM_PREFIX = "~"  # item ids of unmatched recordings: "~<folded title>|<folded artist>"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_SHOWN_REASON_CHARS = 80
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class BadListen(ValueError):
    """A line that is not a listen; the message says what is wrong with it."""


@dataclass(frozen=True, slots=True)
class Listen:
    """What the importer keeps of one listen."""

    user: str
    listened_at: int
    submitted_title: str  # track_metadata.track_name
    submitted_artist: str  # track_metadata.artist_name
    recording_mbid: str = ""  # "" when the listen was not matched
    artist_mbids: tuple[str, ...] = ()
    recording_name: str = ""  # mbid_mapping.recording_name, "" when not given
    artists: object = None  # mbid_mapping.artists as parsed (read by :attr:`artist` only)

    @property
    def item_id(self) -> str:
        """The recording this listen counts for: its MBID, or its normalised text key."""
        return self.recording_mbid or text_item_id(self.submitted_title, self.submitted_artist)

    # Worked out only for the first listen of each recording (the one the catalog shows).
    @property
    def title(self) -> str:
        """As shown: MusicBrainz's recording name when matched and given, else the submitted one."""
        return self.recording_name if self.recording_name.strip() else self.submitted_title

    @property
    def artist(self) -> str:
        """As shown: MusicBrainz's artist credit when matched and given, else the submitted one."""
        return _credit(self.artists) or self.submitted_artist


def text_field(value: object, what: str, *, required: bool) -> str:
    """``value`` when it is a string (not blank, when ``required``); else BadListen says why."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise BadListen(f"{what} is {_kind(value)}, not a string")
    if required and not value.strip():
        raise BadListen(f"{what} is empty")
    return value


def _kind(value: object) -> str:
    return "missing" if value is None else f"a JSON {type(value).__name__.replace('dict', 'object')}"


def mbid_field(value: object, what: str) -> str:
    """``value`` as a lower-case MusicBrainz id; BadListen when it is not one."""
    if not isinstance(value, str) or not _UUID.fullmatch(value.lower()):
        raise BadListen(f"{what} {str(value)[:_SHOWN_REASON_CHARS]!r} is not a MusicBrainz id")
    return value.lower()


def _user(listen: dict) -> str:
    name = listen.get("user_name")
    if isinstance(name, str) and name.strip():
        return name
    user_id = listen.get("user_id")
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        return f"user_id:{user_id}"
    if isinstance(user_id, str) and user_id.strip():
        return f"user_id:{user_id}"
    raise BadListen("no user_name or user_id")


def _listened_at(listen: dict) -> int:
    value = listen.get("listened_at", listen.get("timestamp"))
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadListen(f"listened_at is {_kind(value)}, not a whole number of seconds")
    if value <= 0:
        raise BadListen(f"listened_at {value} is not a time after 1970")
    return value


def _credit(artists: object) -> str:
    """The artist credit as MusicBrainz writes it ("A feat. B"), or "" when not given."""
    if not isinstance(artists, list) or not artists:
        return ""
    parts = []
    for artist in artists:
        if not isinstance(artist, dict) or not isinstance(artist.get("artist_credit_name"), str):
            return ""
        phrase = artist.get("join_phrase")
        parts.append(artist["artist_credit_name"] + (phrase if isinstance(phrase, str) else ""))
    return "".join(parts).strip()


def listen_from_json(listen: object) -> Listen:
    """The :class:`Listen` of one parsed JSON listen (a dict, as ``json.loads`` or a Spark
    ``Row.asDict(recursive=True)`` gives it); :class:`BadListen` says why it is not one."""
    if not isinstance(listen, dict):
        raise BadListen(f"the line is {_kind(listen)}, not a listen object")
    user = _user(listen)
    listened_at = _listened_at(listen)
    metadata = listen.get("track_metadata")
    if not isinstance(metadata, dict):
        raise BadListen(f"track_metadata is {_kind(metadata)}, not an object")
    title = text_field(metadata.get("track_name"), "track_name", required=True)
    artist = text_field(metadata.get("artist_name"), "artist_name", required=True)
    mapping = metadata.get("mbid_mapping")
    if mapping is None:
        return Listen(user, listened_at, title, artist)
    if not isinstance(mapping, dict):
        raise BadListen(f"mbid_mapping is {_kind(mapping)}, not an object")
    raw_mbid = mapping.get("recording_mbid")
    if raw_mbid is None:  # a mapping without a recording: not matched
        return Listen(user, listened_at, title, artist)
    mbid = mbid_field(raw_mbid, "mbid_mapping.recording_mbid")
    raw_artists = mapping.get("artist_mbids") or []
    if not isinstance(raw_artists, list):
        raise BadListen(f"mbid_mapping.artist_mbids is {_kind(raw_artists)}, not a list")
    artist_mbids = tuple(mbid_field(value, "an artist_mbids entry") for value in raw_artists)
    name = mapping.get("recording_name")
    return Listen(
        user,
        listened_at,
        title,
        artist,
        mbid,
        artist_mbids,
        name if isinstance(name, str) else "",
        mapping.get("artists"),
    )


def parse_listen_line(line: bytes | str) -> Listen:
    """One line of a ``.listens`` file (without its newline) -> a :class:`Listen`."""
    try:
        # Decoded here: json.loads would take bytes with a UTF-16 byte-order mark as UTF-16.
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        parsed = json.loads(text)
    except UnicodeDecodeError as error:
        raise BadListen(f"not UTF-8 (byte {error.start + 1})") from None
    except json.JSONDecodeError as error:
        raise BadListen(f"not JSON: {error.msg} at character {error.pos + 1}") from None
    except RecursionError:
        raise BadListen("not JSON: nested too deeply") from None
    if _SURROGATE_ESCAPE.search(text):
        # "\ud83d\ude00" is one character, but a lone "\ud800" is no text at all: it could
        # be neither shown nor stored.
        try:
            json.dumps(parsed, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise BadListen("a string holds a lone surrogate escape (\\ud800-\\udfff), which is not text") from None
    return listen_from_json(parsed)


@lru_cache(maxsize=1 << 17)
def recording_key(title: str, artist: str) -> str:
    """The normalised (title, artist) of a recording, by the resolver's text rules.

    The title keeps its bracketed extras ("(Live)", "- Radio Edit": another recording) and
    drops featured artists; the artist is the credit's primary artist. A name made only of
    punctuation or symbols ("!!!") folds to nothing and is kept as written, case-folded.
    """
    folded_title = parse_title(title, MAX_CATALOG_CHARS).full or " ".join(title.casefold().split())
    folded_artist = parse_artist(artist, MAX_CATALOG_CHARS).primary or " ".join(artist.casefold().split())
    return f"{folded_title}|{folded_artist}"


def text_item_id(title: str, artist: str) -> str:
    """The item id of an unmatched recording."""
    return TEXT_ITEM_PREFIX + recording_key(title, artist)
