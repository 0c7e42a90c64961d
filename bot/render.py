"""What people see: embeds and short texts built from library results.

Titles and artists come from catalogs and from people's typing, so they are untrusted:
every piece of them is cleaned (control characters out), escaped (no markdown tricks, no
mentions) and shortened to fit Discord's limits before it is put in a message. Every
builder here returns something Discord accepts, whatever the input.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence

import discord

from recommender.app import wording
from recommender.app.answers import BlockResult, Lookup
from recommender.app.wording import THUMBS_DOWN, THUMBS_UP, novelty_note, percent, search_links
from recommender.feedback.log import VersionStats
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

REASON_IN_LIST = 180

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


# Answers of a burst show the same few songs again and again: each title is escaped once.
@functools.lru_cache(maxsize=16384)
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
    return wording.plain_label(text, limit)


def song_line(title: str, artist: str) -> str:
    return wording.song_text(title, artist, safe)


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


def escaped_label(text: object, limit: int) -> str:
    """A piece of an embed title: a label, escaped (embed titles render markdown too)."""
    return _escape(label(text, limit))


def answer_embed(
    answer: Answer,
    *,
    rated_with: str = "👍/👎 reactions or the buttons",
    for_name: str | None = None,
    novelty: str | None = None,
) -> discord.Embed:
    """An answer: heading, numbered suggestions, reasons, listen links, model version."""
    title = shorten(wording.answer_heading(answer, for_name=for_name, quote=escaped_label), EMBED_TITLE)
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


def pick_text(lookup: Lookup) -> str:
    """The question above a pick list (see :func:`recommender.app.wording.pick_question`)."""
    return shorten(wording.pick_question(lookup, safe), MESSAGE_CONTENT)


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


def metrics_text(metrics: Mapping[str, object]) -> str:
    """Held-out figures of the model beside the popularity baseline, one per line."""
    return shorten("\n".join(wording.metrics_lines(metrics, safe)) or "none", EMBED_FIELD_VALUE)


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


def stats_embed(guild_name: str, versions: Sequence[VersionStats]) -> discord.Embed:
    """/stats: per model version, questions answered and 👍/👎 rates for this server."""
    embed = discord.Embed(title=f"Soundalike in {safe(guild_name, EMBED_TITLE - 20)}", colour=COLOUR)
    if not versions:
        embed.description = "No questions answered here yet. Try /soundalike."
        return embed
    for row in versions[:20]:
        rated = row.up + row.down
        embed.add_field(
            name=f"model {safe(row.model_version, 100)}",
            value=(
                f"{row.answers:,} answered · {THUMBS_UP} {row.up:,} ({percent(row.up, rated)}) · "
                f"{THUMBS_DOWN} {row.down:,} ({percent(row.down, rated)})"
            ),
            inline=False,
        )
    return embed


def block_text(result: BlockResult) -> str:
    """What an admin is told after /block or /unblock."""
    return shorten(wording.block_text(result, place="this server", quote=safe), MESSAGE_CONTENT)
