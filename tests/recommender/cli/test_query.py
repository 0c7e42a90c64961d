"""`python -m recommender resolve` (and `similar`) on the demo data: what the command line says
when it is not sure, when an artist is typed alone, and when nothing matches."""

from __future__ import annotations

import json

DEMO_NOTE = "These are demo data: they know only the 787 songs of the shipped demo catalog."


def resolve_json(demo_env, capsys, *argv: str) -> tuple[int, dict]:
    capsys.readouterr()
    status = demo_env.cli("resolve", *argv, "--json")
    return status, json.loads(capsys.readouterr().out)


def test_a_far_match_exits_0_and_is_not_confident(demo_env, capsys):
    for typed, offered in (
        ("everyone", "Everlong"),
        ("Let it go", "Let It Be"),
        ("Stay", "Stayin' Alive"),
        ("@everyone", "Everlong"),
    ):
        status, result = resolve_json(demo_env, capsys, typed)
        assert status == 0, typed
        assert result["confident"] is False and result["close_call"] is False and result["kind"] == "song"
        assert offered in [c["title"] for c in result["candidates"]]
        assert result["note"].startswith(DEMO_NOTE)


def test_a_confident_match_and_a_close_call(demo_env, capsys):
    status, result = resolve_json(demo_env, capsys, "hey ya")
    assert status == 0 and result["confident"] is True and result["kind"] == "song"
    assert result["candidates"][0]["title"] == "Hey Ya!" and "note" not in result
    status, result = resolve_json(demo_env, capsys, "Hello")  # Adele's and Lionel Richie's
    assert status == 0 and result["confident"] is False and result["close_call"] is True
    assert {c["artist"] for c in result["candidates"][:2]} == {"Adele", "Lionel Richie"} and "note" not in result


def test_an_artist_alone_is_understood_as_the_artist(demo_env, capsys):
    for typed, name in (("Adele", "Adele"), ("outkast", "OutKast"), ("the beatles", "The Beatles")):
        status, result = resolve_json(demo_env, capsys, typed)
        assert status == 0
        assert result["kind"] == "artist" and result["artist_name"] == name and result["confident"] is False
        assert result["candidates"] and all(c["artist"] == name for c in result["candidates"])
        listeners = [c["listeners"] for c in result["candidates"]]
        assert listeners == sorted(listeners, reverse=True)


def test_nothing_matching_names_the_closest_titles_and_how_to_get_more_songs(demo_env, capsys):
    status, result = resolve_json(demo_env, capsys, "qqqqzzzzxxxx")
    assert status == 1 and result["candidates"] == [] and result["confident"] is False
    assert "download-msd" in result["note"] and "import-msd" in result["note"]
    capsys.readouterr()
    assert demo_env.cli("resolve", "smelly teen spirits and more words") in (0, 1)
    text = capsys.readouterr().out
    assert DEMO_NOTE in text


def test_text_output_says_why_it_asks(demo_env, capsys):
    capsys.readouterr()
    assert demo_env.cli("resolve", "everyone") == 0
    out = capsys.readouterr().out
    assert out.startswith("No song is called 'everyone'; did you mean one of these?\n" + DEMO_NOTE)
    assert "Everlong — Foo Fighters" in out
    assert demo_env.cli("resolve", "outkast") == 0
    assert capsys.readouterr().out.startswith("'outkast' is an artist; OutKast's most listened songs:\n")


def test_similar_never_answers_for_a_far_match(demo_env, capsys):
    capsys.readouterr()
    assert demo_env.cli("similar", "everyone") == 2
    captured = capsys.readouterr()
    assert "No song matches 'everyone'. Closest titles: Everlong — Foo Fighters" in captured.err + captured.out
    assert "Because you asked for" not in captured.out
