"""What Soundalike says where the bot and the console say the same thing, in plain words.

Text from data and from people (titles, artists, what was typed) is untrusted, and each front
end shows it its own way: the bot escapes it for Discord, the console prints it on one line.
So a sentence holding such text takes ``quote``, how the front end shows one piece of it
within a length; :func:`plain` is the console's. Outcomes are told apart by the app's enums.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from urllib.parse import quote, quote_plus

from recommender.app.answers import BlockOutcome, BlockResult, Lookup, Rated
from recommender.app.options import NOVELTY_NOTES
from recommender.results import Answer
from recommender.text import one_line, shorten

# How one piece of untrusted text is shown within a length.
Quote = Callable[[object, int], str]

THUMBS_UP = "👍"
THUMBS_DOWN = "👎"
# How much of a title/artist a line in an answer shows; the full text is in the links.
TITLE_IN_LIST = 90
ARTIST_IN_LIST = 60
# Words in a search link (non-Latin text grows ~9x when URL-encoded).
SEARCH_TEXT = 80
NO_MORE_SUGGESTIONS = "That was all: there are no more suggestions for this."
NO_RECORD_OF_RATED_ANSWER = "I have no record of that answer any more, so the rating was not kept."


def plain(text: object, limit: int) -> str:
    """Untrusted text on one line, at most ``limit`` characters: the console's ``quote``."""
    return shorten(one_line(text), limit)


def plain_label(text: object, limit: int) -> str:
    """Like :func:`plain`, never empty (a heading names something)."""
    return plain(text, limit) or "(untitled)"


def thumb(value: int) -> str:
    return THUMBS_UP if value > 0 else THUMBS_DOWN


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def novelty_note(novelty: str | None) -> str:
    """ " · deep cuts" after an answer whose novelty is not the default, else ""."""
    return f" · {NOVELTY_NOTES[novelty]}" if novelty in NOVELTY_NOTES else ""


def as_far_as_i_go(songs: int) -> str:
    """More asked past the last page that is offered."""
    return f"That is as far as I go ({songs} songs). Try novelty “deep cuts” or a /mix for other songs."


def song_text(title: object, artist: object, quote: Quote = plain) -> str:
    """ "Title — Artist", each shortened to what a line shows."""
    return f"{quote(title, TITLE_IN_LIST)} — {quote(artist, ARTIST_IN_LIST)}"


def search_links(title: str, artist: str) -> tuple[str, str]:
    """Spotify and YouTube search URLs for a song (no API keys), fully URL-encoded."""
    words = shorten(one_line(f"{title} {artist}"), SEARCH_TEXT)
    spotify = "https://open.spotify.com/search/" + quote(words, safe="")
    youtube = "https://www.youtube.com/results?search_query=" + quote_plus(words, safe="")
    return spotify, youtube


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def answer_heading(answer: Answer, *, for_name: str | None = None, quote: Quote = plain_label) -> str:
    """One line: "Songs like X — A", "A mix of X, Y and Z", or "Songs for N".

    A later page ("More") says which positions it shows.
    """
    if len(answer.seeds) == 1:
        seed = answer.seeds[0]
        heading = f"Songs like {quote(seed.title, 150)} — {quote(seed.artist, 80)}"
    elif answer.seeds:
        heading = "A mix of " + _and([quote(seed.title, 60) for seed in answer.seeds])
    else:
        heading = f"Songs for {quote(for_name, 80)}" if for_name else "Songs for you"
    if answer.offset and answer.suggestions:
        first = answer.offset + 1
        heading += f" ({first}–{answer.offset + len(answer.suggestions)})"
    return heading


def pick_question(lookup: Lookup, quote: Quote = plain) -> str:
    """The question above a pick list (a look-up with choices): an artist's songs, several songs
    with that title, or "did you mean" far matches (with the data's note, if any)."""
    query = quote(lookup.query, 200)
    if lookup.kind == "artist":
        return f"“{query}” is an artist: which of {quote(lookup.artist or lookup.query, 100)}'s songs do you mean?"
    if lookup.close_call:
        return f"Several songs match “{query}”. Which one did you mean?"
    head = f"No song is called “{query}”. Did you mean one of these?"
    if lookup.note:
        head += "\n" + quote(lookup.note, 600)
    return head


def rating_text(outcome: Rated, value: int, position: int, *, per_seed: bool = False) -> str:
    """What a member is told after pressing 👍 n / 👎 n.

    ``per_seed``: the answer was a /soundalike one, so a 👎 also sticks for that seed.
    """
    emoji = thumb(value)
    if outcome is Rated.NOT_FOUND:
        return NO_RECORD_OF_RATED_ANSWER
    if outcome is Rated.TAKEN_BACK:
        if value > 0:
            return f"Took back your {emoji} for suggestion {position}."
        return f"Took back your {emoji} for suggestion {position}: it may be suggested to you again."
    if value > 0:
        return (
            f"Noted: {emoji} for suggestion {position}. Thanks, this teaches the next model and your "
            f"/foryou. Press {emoji} {position} again to take it back."
        )
    where = "your answers for this song, your mixes and /foryou" if per_seed else "your mixes and /foryou"
    return (
        f"Noted: {emoji} for suggestion {position}. I will leave it out of {where}; "
        f"press {emoji} {position} again to take that back."
    )


def block_text(result: BlockResult, *, place: str, quote: Quote = plain) -> str:
    """What an admin is told after /block or /unblock; ``place`` is where blocks hold
    ("this server", "the console")."""
    outcome, lookup = result.outcome, result.lookup
    song = song_text(result.song.title, result.song.artist, quote) if result.song is not None else ""
    query = quote(lookup.query, 200) if lookup is not None else ""
    if outcome is BlockOutcome.BLOCKED:
        return f"Blocked {song}: Soundalike will not suggest it in {place} until /unblock."
    if outcome is BlockOutcome.ALREADY_BLOCKED:
        return f"{song} was already blocked in {place}."
    if outcome is BlockOutcome.UNBLOCKED:
        return f"Unblocked {song}: it may be suggested in {place} again."
    if outcome is BlockOutcome.NOT_BLOCKED:
        return f"{song} is not blocked in {place}."
    if outcome is BlockOutcome.AMBIGUOUS:
        names = [song_text(c.title, c.artist, quote) for c in lookup.choices[:5]] if lookup else []
        if lookup is not None and not lookup.close_call and lookup.kind == "song":
            return (
                f"No song is called “{query}”: pick it from the list as you type, or add the "
                "artist. Did you mean " + "; ".join(names) + "?"
            )
        return f"Several songs match “{query}”: pick one from the list as you type, or add the artist. " + "; ".join(
            names
        )
    closest = [quote(title, 120) for title in (lookup.closest[:5] if lookup else [])]
    text = f"No song matches “{query}”."
    if closest:
        text += " Closest titles: " + "; ".join(closest)
    return text


def rollback_text(before: str, now: str) -> str:
    """What a rollback says (versions are the store's "v1", "v2", ...)."""
    if before == now:  # the current version could not be served, so this one already answered
        return f"Rolled back: model {one_line(now)} is current again (it was already answering in its place)."
    return f"Rolled back: now serving model {one_line(now)} (was {one_line(before)})."


def metrics_lines(metrics: Mapping[str, object], quote: Quote = plain) -> list[str]:
    """Held-out figures of a model beside the popularity baseline, one line each."""

    def number(value: object) -> str:
        return f"{value:.4f}" if isinstance(value, float) else quote(value, 60)

    model = metrics.get("model")
    baseline = metrics.get("baseline")
    baseline = baseline if isinstance(baseline, Mapping) else {}
    if not isinstance(model, Mapping):  # flat figures
        return [f"{quote(k, 40)}: {number(v)}" for k, v in list(metrics.items())[:10] if not isinstance(v, Mapping)]
    lines = []
    for name, value in list(model.items())[:8]:
        line = f"{quote(name, 40)}: {number(value)}"
        if name in baseline:
            line += f" (popularity {number(baseline[name])})"
        lines.append(line)
    protocol = metrics.get("protocol")
    if protocol is not None:
        lines.append(f"{quote(protocol, 40)} protocol, seed {quote(metrics.get('seed', '?'), 20)}")
    return lines


# -- linked ListenBrainz accounts (/link listenbrainz, /unlink) ------------------------------
USERNAME_SHOWN = 64


def linked_text(username: str, listens: int, quote: Quote) -> str:
    """A link made: what it does, and what is kept."""
    name = quote(username, USERNAME_SHOWN)
    held = f"{listens:,} public listen{'s' if listens != 1 else ''}"
    text = f"Linked ListenBrainz account {name} ({held}). "
    if listens == 0:
        text += "It has no listens yet, so /foryou will use only your 👍 until it has some. "
    else:
        text += "/foryou now also uses your recent listens. "
    return text + (
        "I keep only the username and when you linked it; listens are read when you ask, "
        "never stored. /unlink removes the link."
    )


def unlinked_text(username: str | None, quote: Quote) -> str:
    """/unlink: what was removed, or that nothing was linked."""
    if username is None:
        return "You have no ListenBrainz account linked."
    return f"Unlinked ListenBrainz account {quote(username, USERNAME_SHOWN)}; /foryou uses only your 👍 again."
