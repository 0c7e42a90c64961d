"""Rendering: untrusted titles are cleaned, escaped and shortened; embeds always fit Discord."""

from __future__ import annotations

import re

import discord
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import render
from recommender.feedback.log import VersionStats
from recommender.results import Answer, Candidate, Suggestion
from recommender.text import one_line


def song(title: str, artist: str, score: float = 0.5, reason: str = "because") -> Suggestion:
    return Suggestion(0, "id", title, artist, score, reason)


def answer(suggestions, seed_title="Hey Ya!", seed_artist="OutKast", notes=()) -> Answer:
    seed = Candidate(0, "seed", seed_title, seed_artist, 100.0, 10)
    return Answer([seed], list(suggestions), "v3", "demo", notes=list(notes))


def test_safe_escapes_markdown_and_every_mention_form():
    text = render.safe("**Hey** @everyone <@123> <@&45> @here")
    assert "\\*\\*Hey\\*\\*" in text
    for ping in ("@everyone", "@here", "<@123>", "<@&45>"):
        assert ping not in text
    assert render.safe("ndcg@10") == "ndcg@10"


def test_labels_are_one_short_line_and_never_empty():
    assert render.label("x" * 300) == "x" * 99 + "…"
    assert render.label("\u200b\n") == "(untitled)"


def test_answer_embed_shows_numbered_suggestions_with_percent_reason_links_and_version():
    embed = render.answer_embed(answer([song("Ms. Jackson", "OutKast", 0.5, "298 listeners also played it")]))
    assert embed.title == "Songs like Hey Ya! — OutKast"
    assert embed.description.splitlines() == [
        "**1. Ms. Jackson — OutKast** · 50% match",
        "↳ 298 listeners also played it",
        "[Spotify](https://open.spotify.com/search/Ms.%20Jackson%20OutKast) · "
        "[YouTube](https://www.youtube.com/results?search_query=Ms.+Jackson+OutKast)",
    ]
    assert embed.footer.text.startswith("model v3 · demo data")


def test_long_titles_lose_links_from_the_bottom_first_and_the_embed_fits():
    long_title = "長い曲名" * 60  # URL-encodes to ~9x its length
    suggestions = [song(long_title + str(n), "アーティスト" * 20, reason="r" * 500) for n in range(10)]
    embed = render.answer_embed(answer(suggestions, seed_title="x" * 500))
    assert len(embed) <= render.EMBED_TOTAL and len(embed.description) <= render.EMBED_DESCRIPTION
    assert len(embed.title) <= render.EMBED_TITLE
    entries = embed.description.split("\n\n")
    assert len(entries) == 10 and all(e.startswith(f"**{n}. ") for n, e in enumerate(entries, 1))
    with_links = ["[Spotify]" in e for e in entries]
    assert with_links[0] and not with_links[-1]
    assert with_links == sorted(with_links, reverse=True)


@settings(max_examples=100)
@given(
    titles=st.lists(st.text(max_size=2000), min_size=0, max_size=10),
    artist=st.text(max_size=500),
    reason=st.text(max_size=1000),
    seed=st.text(max_size=1000),
    notes=st.lists(st.text(max_size=500), max_size=3),
)
def test_any_answer_fits_discords_embed_limits(titles, artist, reason, seed, notes):
    embed = render.answer_embed(answer([song(t, artist, 0.3, reason) for t in titles], seed, artist, notes))
    assert len(embed) <= render.EMBED_TOTAL
    assert len(embed.title or "") <= render.EMBED_TITLE
    assert len(embed.description or "") <= render.EMBED_DESCRIPTION
    assert len(embed.footer.text or "") <= render.EMBED_FOOTER
    assert "@everyone" not in (embed.description or "") + (embed.title or "")
    assert embed.to_dict()  # serialisable


def test_candidate_options_fit_select_limits():
    candidate = Candidate(0, "id", "t" * 150, "a" * 150, 90.0, 1_234_567)
    name, description = render.candidate_option(candidate)
    assert len(name) == render.LABEL and description == "1,234,567 listeners"
    discord.SelectOption(label=name, value="id", description=description)  # accepted by discord.py


def test_closest_titles_text_is_escaped_and_short():
    text = render.closest_titles_text("@everyone" * 500, ["**A**", "B"] * 10)
    assert text.startswith("No song matches “@\u200beveryone") and len(text) <= render.MESSAGE_CONTENT
    assert text.count("• ") == 5 and "\\*\\*A\\*\\*" in text


def test_model_embed_says_what_when_on_what_and_how_well():
    embed = render.model_embed(
        {
            "version": "v2",
            "algorithm": "als",
            "created": "2026-01-02T03:04:05+00:00",
            "dataset": "demo",
            "training": {"interactions": 52977, "users": 2000},
            "feedback": {"likes": 12, "members": 3},
            "metrics": {"protocol": "holdout", "seed": 1, "model": {"ndcg@10": 0.312345}, "baseline": {"ndcg@10": 0.1}},
            "versions": ["v1", "v2"],
        },
        {"answers": 3, "👍": 2},
    )
    fields = {f.name: f.value for f in embed.fields}
    assert embed.title == "Model v2" and fields["Algorithm"] == "als"
    assert fields["Trained"] == "<t:1767323045:R>"
    assert fields["Data"] == "demo: 52,977 plays by 2,000 listeners, with 12 👍 from 3 members"
    assert fields["Held-out figures"] == "ndcg@10: 0.3123 (popularity 0.1000)\nholdout protocol, seed 1"
    assert fields["Feedback since"] == "answers 3 · 👍 2"
    assert embed.footer.text == "versions on disk: v1, v2"


def test_model_embed_survives_an_odd_manifest():
    embed = render.model_embed(
        {"metrics": {"ndcg": 0.5, "odd": {"x": 1}}, "created": "yesterday", "training": "n/a", "versions": "v1"}
    )
    fields = {f.name: f.value for f in embed.fields}
    assert embed.title == "Model unknown" and fields["Trained"] == "yesterday"
    assert fields["Held-out figures"] == "ndcg: 0.5000"


def test_empty_stats():
    assert render.stats_embed("Server", []).description.startswith("No questions answered here yet")


# -- headings, blocks, the /stats chart ------------------------------------------------------


def test_embed_headings_say_what_was_asked_and_which_page_and_footers_the_novelty():
    one = answer([song("Ms. Jackson", "OutKast")])
    assert render.answer_embed(one).title == "Songs like Hey Ya! — OutKast"
    seeds = [Candidate(i, f"s{i}", t, "x", 100.0, 1) for i, t in enumerate(["Hey Ya!", "Hello", "Hey Jude"])]
    mix = Answer(seeds, [song("Come Together", "The Beatles")] * 5, "v3", "demo", offset=5)
    assert render.answer_embed(mix).title == "A mix of Hey Ya!, Hello and Hey Jude (6–10)"
    mine = Answer([], [song("Roses", "OutKast")], "v3", "demo")
    assert render.answer_embed(mine, for_name="dj\n@everyone").title == "Songs for dj @\u200beveryone"
    assert render.answer_embed(mine, for_name="dj", novelty="deep").footer.text.startswith(
        "model v3 · demo data · deep cuts · rate with"
    )
    assert render.answer_embed(mine, novelty="popular").footer.text.startswith("model v3 · demo data · popular picks ·")
    assert "balanced" not in render.answer_embed(mine, novelty="balanced").footer.text


def test_block_texts_escape_what_was_typed():
    from recommender.app.answers import BlockOutcome, BlockResult, Lookup

    typed = BlockResult(BlockOutcome.NOT_FOUND, lookup=Lookup(query="**x** @everyone", closest=["<@1> y"]))
    text = render.block_text(typed)
    assert "@everyone" not in text and "<@1>" not in text and text.startswith("No song matches “\\*\\*x\\*\\*")
    seed = Candidate(0, "s", "Hey_Ya", "Out*Kast", 100.0, 1)
    assert render.block_text(BlockResult(BlockOutcome.BLOCKED, song=seed)).startswith("Blocked Hey\\_Ya — Out\\*Kast:")


def test_stats_chart_is_a_png_whatever_the_titles():
    from bot.charts import RatingDay, has_data, stats_png

    assert not has_data([RatingDay("2026-01-01", "v1", 0, 0)], [("x", 0)])
    days = [RatingDay("2026-01-01", "v1", 3, 1), RatingDay("2026-01-03", "v2", 0, 2), RatingDay("bad", "v2", 1, 0)]
    songs = [("$100 Bill $ — Money $$", 5), ("\x00\n" * 50 + "🎸" * 300, 2), ("日本語の歌 — 歌手", 1), ("$", 1)]
    png = stats_png(days, songs, title="Soundalike in $erver")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000
    assert stats_png([], [("Hey Ya! — OutKast", 1)]).startswith(b"\x89PNG")  # no ratings yet: one panel says so


# -- a hostile catalog: escaped text renders as plain text ---------------------------------------

# Characters that open or close Discord markup anywhere in a line.
MARKUP = set("[]()*_|~`<")
# Markdown's escape as Discord applies it: a backslash before any character that is not a
# letter, a digit or white space shows that character and drops the backslash.
DISCORD_ESCAPE = re.compile(r"\\([^0-9A-Za-z\s])")


def live_markup(text: str) -> list[str]:
    """The markup characters in ``text`` that no backslash escapes (what Discord would act on)."""
    live, index = [], 0
    while index < len(text):
        if text[index] == "\\" and index + 1 < len(text) and DISCORD_ESCAPE.match(text, index):
            index += 2
            continue
        if text[index] in MARKUP:
            live.append(text[index])
        index += 1
    return live


def shown(text: str) -> str:
    """What Discord shows for ``text`` once escapes are applied, without the zero-width spaces
    that break mentions (invisible)."""
    return DISCORD_ESCAPE.sub(r"\1", text).replace("\u200b", "")


def starts_a_block(text: str) -> bool:
    """Whether Discord would read the start of this line as a heading, subtext, quote or list."""
    return bool(re.match(r"(#{1,3} |-# |>>> |> |[-*+] |\d+\. )", text))


def test_masked_links_bold_and_spoilers_stay_text():
    text = render.safe("[a](b) **x** ||y|| [Claim Nitro](https://evil.example/gift)")
    assert live_markup(text) == []
    assert shown(text) == "[a](b) **x** ||y|| [Claim Nitro](https://evil.example/gift)"
    assert "https://" not in text, "a bare URL would become a link and, in a message, a preview"


@pytest.mark.parametrize(
    "line",
    [
        "# Free Nitro",
        "## x",
        "-# small",
        "> quoted",
        ">>> all of it",
        "- item",
        "* item",
        "+ item",
        "1. first",
        "12. twelfth",
    ],
)
def test_line_start_markup_is_escaped(line):
    text = render.safe(line)
    assert not starts_a_block(text) and shown(text) == line
    assert not starts_a_block(render.message_text(line))


# Discord's special forms and markdown, mixed with ordinary text.
HOSTILE_PIECES = st.sampled_from(
    [
        "[",
        "]",
        "(",
        ")",
        "*",
        "**",
        "_",
        "__",
        "|",
        "||",
        "~~",
        "`",
        "```",
        "<",
        ">",
        "\\",
        "#",
        "# ",
        "-# ",
        "> ",
        ">>> ",
        "- ",
        "1. ",
        "@everyone",
        "@here",
        "<@123>",
        "<@!123>",
        "<@&45>",
        "<#678>",
        "</retrain:901>",
        "<t:1:R>",
        "<:nitro:234>",
        "<a:dance:567>",
        "[Claim Nitro](https://evil.example/gift)",
        "[x](<https://e.x>)",
        "https://evil.example",
        "http://a.b/c?d=e",
        "discord.gg/x",
        ":",
        "/",
        " ",
        "\n",
        "\\*",
        "\\\\",
    ]
)


@settings(max_examples=300)
@given(st.lists(st.one_of(HOSTILE_PIECES, st.text(max_size=5)), max_size=30))
def test_escaped_text_renders_as_plain_text(pieces):
    original = "".join(pieces)
    text = render.safe(original)
    assert live_markup(text) == [], text
    assert shown(text) == one_line(original), "the text reads exactly as it was"
    assert not starts_a_block(text)
    assert not re.search(r"[A-Za-z0-9]://", text), "no bare URL"
    assert "<@" not in text.replace("<@\u200b", ""), "a zero-width space breaks every mention form too"


@settings(max_examples=100)
@given(st.lists(st.one_of(HOSTILE_PIECES, st.text(max_size=5)), max_size=30))
def test_embed_titles_are_escaped_too(pieces):
    hostile = "".join(pieces)
    one = render.answer_embed(answer([song("x", "y")], seed_title=hostile, seed_artist=hostile))
    mix = render.answer_embed(
        Answer(
            [Candidate(i, f"s{i}", hostile, "a", 100.0, 1) for i in range(2)], [song("x", "y")], "v3", "demo", offset=5
        )
    )
    mine = render.answer_embed(Answer([], [song("x", "y")], "v3", "demo"), for_name=hostile)
    stats = render.stats_embed(hostile, [VersionStats(hostile, 1, 0, 0)])
    model = render.model_embed({"version": hostile})
    for title in (one.title, mix.title, mine.title, stats.title, model.title):
        assert live_markup(title.removesuffix(" (6–6)")) == [], title
        assert len(title) <= render.EMBED_TITLE
    assert live_markup(stats.fields[0].name) == []


def test_embed_titles_read_as_the_song_is_called():
    embed = render.answer_embed(
        answer([song("x", "y")], seed_title="[Hey](https://e.x) **Ya**", seed_artist="Out_Kast")
    )
    assert embed.title == "Songs like \\[Hey\\]\\(https\\://e.x\\) \\*\\*Ya\\*\\* — Out\\_Kast"
    assert shown(embed.title) == "Songs like [Hey](https://e.x) **Ya** — Out_Kast"
