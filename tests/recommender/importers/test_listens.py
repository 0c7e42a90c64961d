"""One ListenBrainz listen: what is kept of it, which recording it counts for, and why a line
is not a listen (the reason each bad line is reported with)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from listenbrainz_dumps import listen

from recommender.importers.listen_blocks import parse_block
from recommender.importers.listens import BadListen, listen_from_json, parse_listen_line, recording_key

MBID = "5B11F4CE-A62D-471E-81FC-A69A8278C7DA"


def test_a_matched_listen_counts_for_its_recording_and_shows_musicbrainz_names():
    artists = [
        {
            "artist_mbid": "a" * 8 + "-aaaa-4aaa-8aaa-" + "a" * 12,
            "artist_credit_name": "Beyoncé",
            "join_phrase": " feat. ",
        },
        {"artist_mbid": "b" * 8 + "-bbbb-4bbb-8bbb-" + "b" * 12, "artist_credit_name": "JAY-Z", "join_phrase": ""},
    ]
    raw = listen("ana", 1700000000, "crazy in love", "beyonce", MBID, recording_name="Crazy in Love", artists=artists)
    raw["track_metadata"]["mbid_mapping"]["artist_mbids"] = [a["artist_mbid"] for a in artists]
    parsed = listen_from_json(raw)
    assert parsed.item_id == MBID.lower() and parsed.recording_mbid == MBID.lower()
    assert (parsed.title, parsed.artist) == ("Crazy in Love", "Beyoncé feat. JAY-Z")
    assert (parsed.submitted_title, parsed.submitted_artist) == ("crazy in love", "beyonce")
    assert parsed.artist_mbids == tuple(a["artist_mbid"] for a in artists)
    assert (parsed.user, parsed.listened_at) == ("ana", 1700000000)


def test_an_unmatched_listen_counts_for_its_normalised_title_and_artist():
    one = listen_from_json(listen("ana", 1, "Hey Ya!", "OutKast"))
    other = listen_from_json(listen("bo", 2, "  hey   YA ", "The Outkast feat. Nobody"))
    assert one.item_id == other.item_id == "~hey ya|outkast"
    assert one.recording_mbid == "" and (one.title, one.artist) == ("Hey Ya!", "OutKast")
    # A live or remixed version is another recording; a punctuation-only title keeps its marks.
    assert recording_key("Hey Ya! (Live)", "OutKast") != recording_key("Hey Ya!", "OutKast")
    assert recording_key("!!!", "Ab") == "!!!|ab" != recording_key("???", "Ab")


def test_the_user_and_time_fall_back_as_listenbrainz_reads_them():
    raw = listen("", 5, "T", "A")
    del raw["user_name"], raw["listened_at"]
    raw["user_id"], raw["timestamp"] = 42, 1600000000
    parsed = listen_from_json(raw)
    assert (parsed.user, parsed.listened_at) == ("user_id:42", 1600000000)


def _broken(change) -> dict:
    raw = listen("ana", 1700000000, "Title", "Artist", MBID)
    change(raw)
    return raw


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"user_name": "ana", "listened_at": 1, "track_metadata": {"track_name": "cut', "not JSON: Unterminated"),
        (b"\xff\xfe{}", "not UTF-8 (byte 1)"),
        (b"[1, 2]", "the line is a JSON list, not a listen object"),
        (json.dumps(_broken(lambda r: r.pop("user_name"))), "no user_name or user_id"),
        (json.dumps(_broken(lambda r: r.update(listened_at="yesterday"))), "listened_at is a JSON str, not a whole"),
        (json.dumps(_broken(lambda r: r.update(listened_at=True))), "listened_at is a JSON bool"),
        (json.dumps(_broken(lambda r: r.update(listened_at=-5))), "listened_at -5 is not a time after 1970"),
        (json.dumps(_broken(lambda r: r.pop("track_metadata"))), "track_metadata is missing, not an object"),
        (json.dumps(_broken(lambda r: r["track_metadata"].pop("track_name"))), "track_name is missing, not a string"),
        (json.dumps(_broken(lambda r: r["track_metadata"].update(artist_name=" "))), "artist_name is empty"),
        (json.dumps(_broken(lambda r: r["track_metadata"].update(mbid_mapping=[]))), "mbid_mapping is a JSON list"),
        (
            json.dumps(_broken(lambda r: r["track_metadata"]["mbid_mapping"].update(recording_mbid="nope"))),
            "mbid_mapping.recording_mbid 'nope' is not a MusicBrainz id",
        ),
    ],
)
def test_a_line_that_is_not_a_listen_says_why(line, reason):
    with pytest.raises(BadListen) as raised:
        parse_listen_line(line)
    assert str(raised.value).startswith(reason)


def test_a_mapping_without_a_recording_is_an_unmatched_listen():
    raw = _broken(lambda r: r["track_metadata"].update(mbid_mapping={"recording_mbid": None}))
    assert listen_from_json(raw).item_id == "~title|artist"


@hypothesis_settings(max_examples=200)
@given(st.text(max_size=40), st.text(max_size=40))
def test_any_title_and_artist_give_a_listen_or_a_reason(title, artist):
    line = json.dumps(listen("ana", 1700000000, title, artist))
    try:
        parsed = parse_listen_line(line)
    except BadListen as error:
        assert "empty" in str(error) and not (title.strip() and artist.strip())
    else:
        assert parsed.item_id.startswith("~") and parsed.item_id.count("|") >= 1
        assert parsed.item_id == "~" + recording_key(title, artist)


# -- a block parsed at once by pyarrow: the same listens, or None (then read line by line) ------

_names = st.sampled_from(
    ["Hey Ya!", "hey ya", " ", "", "\u3000", "\x1c", "Beyoncé", "a\u0000b", "😀", "The Band", "x" * 3]
)


@st.composite
def _raw_listen(draw) -> dict | str:
    kind = draw(st.sampled_from(["plain", "matched", "odd"]))
    raw = listen(draw(st.sampled_from(["ana", "bo", " "])), draw(st.integers(-1, 3)), draw(_names), draw(_names))
    if kind == "matched":
        mapping = {"recording_mbid": draw(st.sampled_from([MBID, MBID.lower(), "nope", None]))}
        if draw(st.booleans()):
            mapping["artist_mbids"] = draw(st.sampled_from([[MBID], [], ["bad"], [None]]))
        if draw(st.booleans()):
            mapping["recording_name"] = draw(_names)
        raw["track_metadata"]["mbid_mapping"] = mapping
    elif kind == "odd":
        change = draw(st.sampled_from(["user_id", "timestamp", "number title", "no metadata", "text", "two"]))
        if change == "user_id":
            raw["user_id"] = raw.pop("user_name") and 7
        elif change == "timestamp":
            raw["timestamp"] = raw.pop("listened_at")
        elif change == "number title":
            raw["track_metadata"]["track_name"] = 5
        elif change == "no metadata":
            del raw["track_metadata"]
        elif change == "text":
            return "not json"
        else:
            return json.dumps(raw) + json.dumps(raw)
    return raw


@hypothesis_settings(max_examples=300)
@given(st.lists(_raw_listen(), min_size=1, max_size=6))
def test_a_block_parsed_at_once_gives_the_listens_line_by_line_reading_gives(raws):
    block = b"".join((r if isinstance(r, str) else json.dumps(r)).encode() + b"\n" for r in raws)
    parsed = parse_block(block, len(raws))
    one_by_one = []
    for r in raws:
        try:
            one_by_one.append(parse_listen_line(r if isinstance(r, str) else json.dumps(r)))
        except BadListen:
            one_by_one.append(None)
    if parsed is None:
        return  # read line by line: the test above covers the reasons
    assert None not in one_by_one  # a bad line never passes as a block
    assert parsed.users.to_pylist() == [listen.user for listen in one_by_one]
    assert parsed.items.to_pylist() == [listen.item_id for listen in one_by_one]
    assert list(parsed.listened_at) == [listen.listened_at for listen in one_by_one]
    assert list(parsed.matched) == [bool(listen.recording_mbid) for listen in one_by_one]
    assert parsed.listens(np.arange(len(raws))) == one_by_one


def test_a_block_of_plain_listens_is_parsed_at_once():
    raws = [listen("ana", 5, "Hey Ya!", "OutKast", MBID, artist_mbids=[MBID]), listen("bo", 6, "hey ya", "Outkast")]
    parsed = parse_block(b"".join(json.dumps(r).encode() + b"\n" for r in raws), 2)
    assert parsed is not None
    assert parsed.items.to_pylist() == [MBID.lower(), "~hey ya|outkast"] and list(parsed.matched) == [True, False]
    assert parse_block(b"".join(json.dumps(r).encode() + b"\n" for r in raws) + b"\n", 3) is None  # a blank line
