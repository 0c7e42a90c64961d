"""What people see: embeds and short texts built from library results.

Titles and artists come from catalogs and from people's typing, so they are untrusted:
every piece of them is cleaned (control characters out), escaped (no markdown tricks, no
mentions) and shortened to fit Discord's limits before it is put in a message. Every
builder here returns something Discord accepts, whatever the input.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote, quote_plus

import discord

from recommender.results import Answer, Candidate, Suggestion
from recommender.text import one_line, shorten

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
EMBED_FIELD_NAME = 256
EMBED_FIELD_VALUE = 1024
EMBED_FOOTER = 2048
EMBED_TOTAL = 6000
MESSAGE_CONTENT = 2000
LABEL = 100  # select option labels/descriptions/values, autocomplete choice names/values, button labels

# How much of a title/artist a line in an answer shows; the full text is in the links.
TITLE_IN_LIST = 90
ARTIST_IN_LIST = 60
REASON_IN_LIST = 180
# Words in a search link (after escaping, non-Latin text grows ~9x when URL-encoded).
SEARCH_TEXT = 80

THUMBS_UP = "👍"
THUMBS_DOWN = "👎"
COLOUR = discord.Colour(0x1DB954)


def safe(text: object, limit: int | None = None) -> str:
    """Cleaned, shortened and escaped: ready to put inside a message or embed."""
    cleaned = one_line(text)
    if limit is not None:
        cleaned = shorten(cleaned, limit)
    escaped = _escape(cleaned)
    if limit is not None and len(escaped) > limit:
        # Escaping adds characters; cut the raw text further until the escaped form fits.
        raw_limit = limit
        while len(escaped) > limit and raw_limit > 1:
            raw_limit = max(1, raw_limit - max(1, len(escaped) - limit))
            escaped = _escape(shorten(cleaned, raw_limit))
    return escaped


_MASS_MENTION = re.compile(r"@(?=everyone|here)", re.IGNORECASE)
# Every character that starts or ends Discord markup anywhere in a line: emphasis, strike,
# spoilers, code, masked links ([text](url)), and every <...> form (mentions, channels
# <#id>, slash commands </cmd:id>, timestamps <t:1:R>, custom emoji <:name:id>, <url>).
# A backslash before ASCII punctuation is markdown's escape: Discord shows the character
# and drops the backslash, so the escaped text reads exactly as typed. (discord.py's
# escape_markdown matches masked links greedily and escapes one bracket of the first only,
# which leaves "[a](b) ... [Claim Nitro](https://evil.example)" live.)
_MARKUP = re.compile(r"([\\*_~|`\[\]()<])")
# Markup that only counts at the start of a line: headings (#, ##, ###), subtext (-#),
# block quotes (>, >>>), lists (-, *, +, "1."). Text put into a message may start one.
_LINE_START = re.compile(r"^(?:([#>+-])|(\d+)(\.))")
# A bare URL becomes a link (and, in message content, a preview of that site): escaping the
# colon of "scheme://" leaves the text as typed but no longer a link.
_URL_SCHEME = re.compile(r"(?<=[A-Za-z0-9])(:)(?=//)")


def _escape(text: str) -> str:
    """No markdown and no mention of any form, whatever the text.

    Every markup character gets markdown's backslash escape (see ``_MARKUP``), as do line-start
    markers and the colon of a URL scheme. On top of that a zero-width space breaks @everyone,
    @here, <@user>, <@!user> and <@&role> alike, while "ndcg@10" stays as it is;
    allowed_mentions=none() is the other, independent guard."""
    escaped = _MARKUP.sub(r"\\\1", text)
    escaped = _LINE_START.sub(lambda m: "\\" + m[1] if m[1] else m[2] + "\\.", escaped)
    escaped = _URL_SCHEME.sub(r"\\\1", escaped)
    escaped = escaped.replace("<@", "<@\u200b")
    return _MASS_MENTION.sub("@\u200b", escaped)


def label(text: object, limit: int = LABEL) -> str:
    """Plain text for a component label or autocomplete name (Discord shows these unformatted).

    Never empty: Discord refuses empty labels.
    """
    return shorten(one_line(text), limit) or "(untitled)"


def search_links(title: str, artist: str) -> tuple[str, str]:
    """Spotify and YouTube search URLs (no API keys), fully URL-encoded."""
    words = shorten(one_line(f"{title} {artist}"), SEARCH_TEXT)
    spotify = "https://open.spotify.com/search/" + quote(words, safe="")
    youtube = "https://www.youtube.com/results?search_query=" + quote_plus(words, safe="")
    return spotify, youtube


def song_line(title: str, artist: str) -> str:
    return f"{safe(title, TITLE_IN_LIST)} — {safe(artist, ARTIST_IN_LIST)}"


def _suggestion_entry(position: int, suggestion: Suggestion, detail: int) -> str:
    """One numbered suggestion; ``detail`` 2 = with reason and links, 1 = with reason, 0 = bare."""
    head = f"**{position}. {song_line(suggestion.title, suggestion.artist)}** · {suggestion.percent}% match"
    if detail == 0:
        return head
    lines = [head, f"↳ {safe(suggestion.reason, REASON_IN_LIST)}"]
    if detail == 2:
        spotify, youtube = search_links(suggestion.title, suggestion.artist)
        lines.append(f"[Spotify]({spotify}) · [YouTube]({youtube})")
    return "\n".join(lines)


def _fit_entries(entries_at: Sequence[Sequence[str]], budget: int) -> list[str]:
    """Pick a detail level per entry so that all of them joined fit in ``budget``.

    ``entries_at[i][d]`` is entry i at detail d (increasing). Detail is lowered from the
    last entry up, so the best matches keep their links longest.
    """
    level = [len(options) - 1 for options in entries_at]

    def total() -> int:
        return sum(len(entries_at[i][level[i]]) for i in range(len(level))) + 2 * max(0, len(level) - 1)

    for index in reversed(range(len(level))):
        while total() > budget and level[index] > 0:
            level[index] -= 1
    chosen = [entries_at[i][level[i]] for i in range(len(level))]
    while chosen and total_len(chosen) > budget:
        chosen.pop()  # only possible with absurd budgets; keep what fits
    return chosen


def total_len(entries: Sequence[str]) -> int:
    return sum(map(len, entries)) + 2 * max(0, len(entries) - 1)


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def answer_heading(answer: Answer, *, for_name: str | None = None, escape: bool = False) -> str:
    """Plain one-line heading: "Songs like X — A", "A mix of X, Y and Z", or "Songs for N".

    A later page ("More") says which positions it shows. ``escape``: the titles and names in
    it are escaped for Discord (an embed title renders markdown too).
    """

    def part(text: object, limit: int) -> str:
        return _escape(label(text, limit)) if escape else label(text, limit)

    if len(answer.seeds) == 1:
        seed = answer.seeds[0]
        heading = f"Songs like {part(seed.title, 150)} — {part(seed.artist, 80)}"
    elif answer.seeds:
        heading = "A mix of " + _and([part(seed.title, 60) for seed in answer.seeds])
    else:
        heading = f"Songs for {part(for_name, 80)}" if for_name else "Songs for you"
    if answer.offset and answer.suggestions:
        first = answer.offset + 1
        heading += f" ({first}–{answer.offset + len(answer.suggestions)})"
    return heading


def novelty_note(novelty: str | None) -> str:
    """ " · deep cuts" for a footer when the knob is not at its default, else ""."""
    names = {"popular": "popular picks", "deep": "deep cuts"}
    return f" · {names[novelty]}" if novelty in names else ""


def answer_embed(
    answer: Answer,
    *,
    rated_with: str = "👍/👎 reactions or the buttons",
    for_name: str | None = None,
    novelty: str | None = None,
) -> discord.Embed:
    """An answer: heading, numbered suggestions, reasons, listen links, model version."""
    title = shorten(answer_heading(answer, for_name=for_name, escape=True), EMBED_TITLE)
    footer = shorten(
        f"model {one_line(answer.model_version)} · {one_line(answer.dataset)} data{novelty_note(novelty)}"
        f" · rate with {rated_with}",
        EMBED_FOOTER,
    )
    notes = [safe(note, 300) for note in answer.notes[:3]]
    entries = [
        [_suggestion_entry(position, suggestion, detail) for detail in (0, 1, 2)]
        for position, suggestion in enumerate(answer.suggestions, start=1 + answer.offset)
    ]
    notes_text = "\n".join(notes)
    budget = min(EMBED_DESCRIPTION, EMBED_TOTAL - len(title) - len(footer)) - len(notes_text) - 2
    body = "\n\n".join(_fit_entries(entries, budget)) if entries else "No suggestions this time."
    description = (notes_text + "\n\n" + body) if notes_text else body
    embed = discord.Embed(title=title, description=shorten(description, EMBED_DESCRIPTION), colour=COLOUR)
    embed.set_footer(text=footer)
    return embed


def answer_text(answer: Answer, *, novelty: str | None = None) -> str:
    """The same answer as plain text for the console (no markdown, no escaping needed)."""
    lines = [answer_heading(answer) + ":"]
    for note in answer.notes:
        lines.append(f"  ({one_line(note)})")
    for position, suggestion in enumerate(answer.suggestions, start=1 + answer.offset):
        lines.append(
            f"{position:>3}. {one_line(suggestion.title)} — {one_line(suggestion.artist)}  {suggestion.percent}% match"
        )
        lines.append(f"     {one_line(suggestion.reason)}")
        spotify, youtube = search_links(suggestion.title, suggestion.artist)
        lines.append(f"     {spotify}")
        lines.append(f"     {youtube}")
    if not answer.suggestions:
        lines.append("  No suggestions this time.")
    lines.append(f"(model {one_line(answer.model_version)}, {one_line(answer.dataset)} data{novelty_note(novelty)})")
    return "\n".join(lines)


def candidate_option(candidate: Candidate) -> tuple[str, str]:
    """(label, description) for a song in a select menu."""
    description = f"{candidate.listeners:,} listeners"
    return label(candidate.label), label(description)


def message_text(text: object, limit: int = MESSAGE_CONTENT) -> str:
    """Untrusted text (an error quoting someone's input) made safe for message content."""
    return safe(text, limit)


def closest_titles_text(query: str, titles: Iterable[str], note: str = "") -> str:
    """ "No song matches": the closest titles, and ``note`` (the demo's limits) after them."""
    titles = [safe(t, 120) for t in list(titles)[:5]]
    head = f"No song matches “{safe(query, 200)}”."
    if titles:
        head += " Closest titles:\n" + "\n".join(f"• {t}" for t in titles)
    if note:
        head += "\n" + safe(note, 600)
    return shorten(head, MESSAGE_CONTENT)


def pick_text(lookup, *, plain: bool = False) -> str:
    """The question above a pick list (``lookup`` is a recommender.app.answers.Lookup with choices):
    an artist's songs, several songs with that title, or "did you mean" far matches.
    ``plain`` skips Discord escaping (for the console)."""
    text = (lambda value, limit: shorten(one_line(value), limit)) if plain else safe
    query = text(lookup.query, 200)
    if lookup.kind == "artist":
        return f"“{query}” is an artist: which of {text(lookup.artist or lookup.query, 100)}'s songs do you mean?"
    if lookup.close_call:
        return f"Several songs match “{query}”. Which one did you mean?"
    head = f"No song is called “{query}”. Did you mean one of these?"
    if lookup.note:
        head += "\n" + text(lookup.note, 600)
    return shorten(head, MESSAGE_CONTENT)


def nothing_picked_text(note: str | None = None) -> str:
    """A pick list answered with "none of these"."""
    text = (
        "Nothing picked, so no songs this time. Add the artist (the artist option), or pick the song "
        "from the list that opens as you type its title."
    )
    if note:
        text += "\n" + safe(note, 600)
    return shorten(text, MESSAGE_CONTENT)


def _when(value: object) -> str:
    """A timestamp (epoch seconds or ISO text) as Discord's relative time, else as given."""
    if isinstance(value, (int, float)) and math.isfinite(value):
        return discord.utils.format_dt(dt.datetime.fromtimestamp(value, tz=dt.UTC), "R")
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return safe(value, 100)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return discord.utils.format_dt(parsed, "R")
    return "unknown"


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "?"


def metrics_text(metrics: Mapping[str, object], *, plain: bool = False) -> str:
    """Held-out figures of the model beside the popularity baseline, one per line.

    ``plain`` skips Discord escaping (for the console)."""
    text = (lambda value, limit: shorten(one_line(value), limit)) if plain else safe

    def number(value: object) -> str:
        return f"{value:.4f}" if isinstance(value, float) else text(value, 60)

    model = metrics.get("model")
    baseline = metrics.get("baseline") if isinstance(metrics.get("baseline"), Mapping) else {}
    lines = []
    if isinstance(model, Mapping):
        for name, value in list(model.items())[:8]:
            line = f"{text(name, 40)}: {number(value)}"
            if name in baseline:  # type: ignore[operator]
                line += f" (popularity {number(baseline[name])})"  # type: ignore[index]
            lines.append(line)
        protocol = metrics.get("protocol")
        if protocol is not None:
            lines.append(f"{text(protocol, 40)} protocol, seed {text(metrics.get('seed', '?'), 20)}")
    else:  # flat figures
        lines = [f"{text(k, 40)}: {number(v)}" for k, v in list(metrics.items())[:10] if not isinstance(v, Mapping)]
    return shorten("\n".join(lines) or "none", EMBED_FIELD_VALUE)


def model_embed(info: Mapping[str, object], feedback: Mapping[str, int] | None = None) -> discord.Embed:
    """/model: which model answers, when and on what it was trained, its metrics, feedback since."""
    version = safe(info.get("version", "unknown"), 100) or "unknown"
    embed = discord.Embed(title=f"Model {version}", colour=COLOUR)
    embed.add_field(name="Algorithm", value=safe(info.get("algorithm", "unknown"), 200) or "unknown")
    embed.add_field(name="Trained", value=_when(info.get("created")))
    data = safe(info.get("dataset", "unknown"), 200) or "unknown"
    training = info.get("training")
    if isinstance(training, Mapping):
        data += f": {_count(training.get('interactions'))} plays by {_count(training.get('users'))} listeners"
    learned = info.get("feedback")
    if isinstance(learned, Mapping):
        data += f", with {_count(learned.get('likes'))} 👍 from {_count(learned.get('members'))} members"
    embed.add_field(name="Data", value=shorten(data, EMBED_FIELD_VALUE), inline=False)
    metrics = info.get("metrics")
    if isinstance(metrics, Mapping) and metrics:
        embed.add_field(name="Held-out figures", value=metrics_text(metrics), inline=False)
    if feedback is not None:
        text = " · ".join(f"{safe(k, 40)} {_count(v)}" for k, v in feedback.items())
        embed.add_field(name="Feedback since", value=shorten(text or "none yet", EMBED_FIELD_VALUE), inline=False)
    versions = info.get("versions")
    if isinstance(versions, Sequence) and not isinstance(versions, str) and versions:
        shown = ", ".join(one_line(v) for v in list(versions)[-8:])
        embed.set_footer(text=shorten(f"versions on disk: {shown}", EMBED_FOOTER))
    return embed


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def stats_embed(guild_name: str, rows: Sequence[Mapping[str, object]]) -> discord.Embed:
    """/stats: per model version, queries answered and 👍/👎 rates for this server.

    ``rows`` have ``model_version``, ``queries``, ``likes`` and ``dislikes``.
    """
    embed = discord.Embed(title=f"Soundalike in {safe(guild_name, EMBED_TITLE - 20)}", colour=COLOUR)
    if not rows:
        embed.description = "No questions answered here yet. Try /soundalike."
        return embed
    for row in rows[:20]:
        queries = int(row.get("queries", 0) or 0)
        likes = int(row.get("likes", 0) or 0)
        dislikes = int(row.get("dislikes", 0) or 0)
        rated = likes + dislikes
        embed.add_field(
            name=f"model {safe(row.get('model_version', '?'), 100)}",
            value=(
                f"{queries:,} answered · {THUMBS_UP} {likes:,} ({percent(likes, rated)}) · "
                f"{THUMBS_DOWN} {dislikes:,} ({percent(dislikes, rated)})"
            ),
            inline=False,
        )
    return embed


def rating_text(outcome, value: int, position: int, *, per_seed: bool = False) -> str:
    """What a member is told after pressing 👍 n / 👎 n (``outcome`` is a recommender.app.answers.Rated).

    ``per_seed``: the answer was a /soundalike one, so a 👎 also sticks for that seed.
    """
    emoji = THUMBS_UP if value > 0 else THUMBS_DOWN
    kind = getattr(outcome, "name", str(outcome))
    if kind == "NOT_FOUND":
        return "I have no record of that answer any more, so the rating was not kept."
    if kind == "TAKEN_BACK":
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


def song_text(title: str, artist: str, *, plain: bool = False) -> str:
    """ "Title — Artist": escaped for Discord, or ``plain`` for the console."""
    if plain:
        return f"{shorten(one_line(title), TITLE_IN_LIST)} — {shorten(one_line(artist), ARTIST_IN_LIST)}"
    return song_line(title, artist)


def block_text(result, *, plain: bool = False) -> str:
    """What an admin is told after /block or /unblock (``result`` is a recommender.app.answers.BlockResult)."""
    kind = result.outcome.name
    song = song_text(result.song.title, result.song.artist, plain=plain) if result.song is not None else ""
    lookup = result.lookup
    query = (one_line(lookup.query) if plain else safe(lookup.query, 200)) if lookup is not None else ""
    if kind == "BLOCKED":
        return f"Blocked {song}: Soundalike will not suggest it in this server until /unblock."
    if kind == "ALREADY_BLOCKED":
        return f"{song} was already blocked in this server."
    if kind == "UNBLOCKED":
        return f"Unblocked {song}: it may be suggested in this server again."
    if kind == "NOT_BLOCKED":
        return f"{song} is not blocked in this server."
    if kind == "AMBIGUOUS":
        names = [song_text(c.title, c.artist, plain=plain) for c in lookup.choices[:5]] if lookup else []
        if lookup is not None and not lookup.close_call and lookup.kind == "song":
            return shorten(
                f"No song is called “{query}”: pick it from the list as you type, or add the "
                "artist. Did you mean " + "; ".join(names) + "?",
                MESSAGE_CONTENT,
            )
        return shorten(
            f"Several songs match “{query}”: pick one from the list as you type, or add the "
            "artist. " + "; ".join(names),
            MESSAGE_CONTENT,
        )
    closest = [one_line(t) if plain else safe(t, 120) for t in (lookup.closest[:5] if lookup else [])]
    text = f"No song matches “{query}”."
    if closest:
        text += " Closest titles: " + "; ".join(closest)
    return shorten(text, MESSAGE_CONTENT)


def rollback_text(before: str, now: str) -> str:
    """What /model rollback says (versions are the store's "v1", "v2", ...)."""
    if before == now:  # the current version could not be served, so this one already answered
        return f"Rolled back: model {one_line(now)} is current again (it was already answering in its place)."
    return f"Rolled back: now serving model {one_line(now)} (was {one_line(before)})."


def as_far_as_i_go(songs: int) -> str:
    """More pressed past the last page that is offered."""
    return f"That is as far as I go ({songs} songs). Try novelty “deep cuts” or a /mix for other songs."
