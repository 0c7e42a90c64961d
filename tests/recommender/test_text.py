"""Text rules: normalization on both sides of every match, and text made fit to show."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.text import (
    LABEL_ARTIST_CHARS,
    MAX_QUERY_CHARS,
    _fold_words,
    dash_parts,
    fold,
    one_line,
    parse_artist,
    parse_title,
    primary_artist_display,
    shorten,
    song_key,
    song_label,
    strip_invisible,
)

# -- fold ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, folded",
    [
        ("Hey Ya!", "hey ya"),
        ("HEY YA", "hey ya"),
        ("hey   ya", "hey ya"),
        ("Beyoncé", "beyonce"),
        ("Sigur Rós", "sigur ros"),
        ("Mötley Crüe", "motley crue"),
        ("Røyksopp", "royksopp"),
        ("Straße", "strasse"),
        ("Don't Stop", "dont stop"),
        ("Don’t Stop", "dont stop"),  # typographic apostrophe
        ("P.Y.T.", "pyt"),
        ("Wait...What", "wait what"),
        ("Simon & Garfunkel", "simon and garfunkel"),
        ("Simon and Garfunkel", "simon and garfunkel"),
        ("Love + Hate", "love and hate"),
        ("Rock 'n' Roll", "rock and roll"),
        ("Rock n Roll", "rock and roll"),
        ("Jay-Z", "jay z"),
        ("**Hey Ya**", "hey ya"),
        ("snake_case", "snake case"),
        ("🎵 Hey Ya 🎵", "hey ya"),
        ("!!!", ""),
    ],
)
def test_fold(typed, folded):
    assert fold(typed) == folded


@settings(max_examples=300)
@given(st.text(alphabet=string.printable, max_size=40))
def test_ascii_shortcut_folds_like_the_general_rule(text):
    general = ["and" if word == "n" else word for word in _fold_words(text)]
    assert fold(text) == " ".join(general)


# -- strip_invisible ------------------------------------------------------------------------------------


def test_strip_invisible_removes_invisible_characters():
    zero_width = "\u200bhey\u200c \u200dya\ufeff"
    bidi = "\u202ehey\u202c \u200fya\u200e\u2066\u2069"
    controls = "hey\x00\x07 ya\x1b"
    assert fold(strip_invisible(zero_width)) == "hey ya"
    assert fold(strip_invisible(bidi)) == "hey ya"
    assert fold(strip_invisible(controls)) == "hey ya"


def test_strip_invisible_cuts_before_any_work_and_accepts_anything():
    assert len(strip_invisible("x" * 10_000)) == MAX_QUERY_CHARS
    assert strip_invisible(None) == ""
    assert strip_invisible(42) == "42"
    assert strip_invisible("a\tb\nc") == "a b c"


def test_right_to_left_text_keeps_its_letters():
    assert fold(strip_invisible("\u200fשלום עולם\u200f")) == "שלום עולם"
    assert fold(strip_invisible("مرحبا")) == "مرحبا"


# -- parse_title ------------------------------------------------------------------------------------


def test_plain_title():
    parts = parse_title("Smells Like Teen Spirit")
    assert parts.core == "smells like teen spirit"
    assert parts.extras == () and parts.featured == () and not parts.is_version
    assert parts.full == parts.core


@pytest.mark.parametrize(
    "title, extra",
    [
        ("Bohemian Rhapsody (Remastered 2011)", "remastered 2011"),
        ("Hey Ya! [Radio Edit]", "radio edit"),
        ("Hey Ya! {Live}", "live"),
        ("Hey Ya! - Live at Wembley", "live at wembley"),
        ("Hey Ya! – Radio Mix", "radio mix"),
        ("Hey Ya! (Live", "live"),  # half-typed bracket
    ],
)
def test_version_extras_leave_the_core(title, extra):
    parts = parse_title(title)
    assert parts.core == "hey ya" or parts.core == "bohemian rhapsody"
    assert parts.extras == (extra,)
    assert parts.is_version


@pytest.mark.parametrize(
    "title",
    [
        "Crazy in Love (feat. Jay-Z)",
        "Crazy in Love (Feat Jay-Z)",
        "Crazy in Love [featuring Jay-Z]",
        "Crazy in Love ft. Jay-Z",
        "Crazy in Love feat. Jay-Z",
        "Crazy in Love - feat. Jay-Z",
    ],
)
def test_featured_artists_are_a_separate_signal(title):
    parts = parse_title(title)
    assert parts.core == "crazy in love"
    assert parts.featured == ("jay z",)
    assert parts.extras == ()


def test_several_featured_artists():
    assert parse_title("Song (feat. A, B & The C)").featured == ("a", "b", "c")


def test_words_that_merely_start_like_featuring_are_not_featuring():
    assert parse_title("50 ft Queenie").core == "50 ft queenie"
    assert parse_title("Left Behind").core == "left behind"
    parts = parse_title("Song (Feature Presentation)")
    assert parts.featured == () and parts.extras == ("feature presentation",)
    assert parse_title("Song (feat.Jay-Z)").featured == ("jay z",)


def test_leading_the_is_dropped_but_never_the_whole_title():
    assert parse_title("The Scientist").core == "scientist"
    assert parse_title("the scientist").core == parse_title("Scientist").core
    assert parse_title("The").core == "the"
    assert parse_title("Breathe").core == "breathe"  # not a leading word


def test_subtitle_brackets_keep_a_full_form():
    parts = parse_title("(I Can't Get No) Satisfaction")
    assert parts.core == "satisfaction"
    assert parts.full == "i cant get no satisfaction"
    assert parts.extras == ("i cant get no",)
    assert not parts.is_version


def test_a_title_that_is_only_a_bracket_keeps_it_as_the_core():
    assert parse_title("(Untitled)").core == "untitled"
    assert parse_title("[Intro]").core == "intro"


def test_hyphens_inside_words_are_not_dashed_tails():
    assert parse_title("T-Shirt").core == "t shirt"
    assert parse_title("Jay-Z").extras == ()
    assert dash_parts("OutKast - Hey Ya") == ["OutKast", "Hey Ya"]
    assert dash_parts("Jay-Z") == ["Jay-Z"]


@pytest.mark.parametrize("junk", ["", "   ", "🎵🎶", "!!!???", "\u200b\u200b", "()", "[]", " - ", "(feat. )"])
def test_titles_with_no_words_have_an_empty_core(junk):
    assert parse_title(junk).core == ""


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_parse_never_fails_and_stays_bounded(text):
    parts = parse_title(text)
    assert len(parts.core) <= MAX_QUERY_CHARS * 3  # "&" becomes " and "
    assert parts.core == parts.core.strip()
    assert "  " not in parts.core


# -- artists and song keys -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "credit, primary, featured",
    [
        ("Beyoncé feat. Jay-Z", "beyonce", ("jay z",)),
        ("Santana featuring Rob Thomas", "santana", ("rob thomas",)),
        ("Jay-Z / Linkin Park", "jay z", ("linkin park",)),
        ("The Beatles", "beatles", ()),
        ("Simon & Garfunkel", "simon and garfunkel", ()),
        ("Earth, Wind & Fire", "earth wind and fire", ()),
        ("AC/DC", "ac dc", ()),
        ("", "", ()),
    ],
)
def test_parse_artist(credit, primary, featured):
    parts = parse_artist(credit)
    assert parts.primary == primary
    assert parts.featured == featured


def test_primary_artist_display_keeps_the_spelling():
    assert primary_artist_display("Beyoncé feat. Jay-Z") == "Beyoncé"
    assert primary_artist_display("The Beatles") == "The Beatles"


def test_versions_share_a_song_key_and_covers_do_not():
    original = song_key("Hey Ya!", "OutKast")
    assert song_key("Hey Ya! (Radio Mix)", "OutKast") == original
    assert song_key("hey ya - live", "Outkast feat. Someone") == original
    assert song_key("Hey Ya", "Obadiah Parker") != original
    assert song_key("Roses", "OutKast") != original


# -- text shown to people: one_line, shorten, song_label -------------------------------------------


def test_one_line_drops_control_and_invisible_characters_but_keeps_emoji_sequences():
    assert one_line("Hey\nYa\x00!\u202e\u200b") == "Hey Ya !"
    assert one_line("👩‍🎤 star") == "👩‍🎤 star"
    assert one_line("  Hey \t  Ya  ") == "Hey Ya"
    assert one_line("lone \udc80 surrogate") == "lone \ufffd surrogate"


def test_shorten_cuts_with_an_ellipsis_only_when_needed():
    assert shorten("abcdef", 4) == "abc…"
    assert shorten("abc", 4) == "abc"
    assert shorten("ab  cdef", 4) == "ab…"  # no space left before the ellipsis
    assert shorten("abc", 0) == ""


def test_song_label_names_title_and_artist_on_one_line():
    assert song_label("Hey Ya!", "OutKast") == "Hey Ya! — OutKast"
    assert song_label("Hey\n  Ya!", " OutKast ") == "Hey Ya! — OutKast"
    assert song_label("t" * 300, "a" * 300) == "t" * 300 + " — " + "a" * 300  # no limit: whole


def test_a_long_song_label_gives_up_the_title_first():
    label = song_label("t" * 300, "a" * 300, 100)
    assert len(label) == 100 and label.count("…") == 2
    assert label.endswith(" — " + "a" * (LABEL_ARTIST_CHARS - 1) + "…")
    kept_artist = song_label("t" * 300, "OutKast", 100)
    assert len(kept_artist) == 100 and kept_artist.endswith("… — OutKast")


@settings(max_examples=300)
@given(st.text(max_size=150), st.text(max_size=150), st.integers(min_value=0, max_value=120))
def test_a_song_label_never_exceeds_its_limit(title, artist, limit):
    label = song_label(title, artist, limit)
    assert len(label) <= limit
    if len(song_label(title, artist)) <= limit:
        assert label == song_label(title, artist)  # nothing cut when it fits


def test_a_candidate_is_labelled_the_one_way():
    from recommender.results import Candidate

    candidate = Candidate(0, "id", "Hey  Ya!", "OutKast", 100.0, 5)
    assert candidate.label == song_label("Hey  Ya!", "OutKast") == "Hey Ya! — OutKast"
