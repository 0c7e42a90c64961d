"""What the bot and the console both say: one sentence each, plain here, quoted by each front end."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlparse

from recommender.app import wording
from recommender.app.answers import BlockOutcome, BlockResult, Lookup, Rated
from recommender.results import Answer, Candidate, Suggestion


def song(title: str, artist: str = "x") -> Suggestion:
    return Suggestion(0, "id", title, artist, 0.5, "because")


def test_search_links_are_url_encoded_searches_without_keys():
    spotify, youtube = wording.search_links("Crazy (Remix) & [Live]?", "Beyoncé feat. Jay-Z")
    assert spotify.startswith("https://open.spotify.com/search/")
    assert unquote(spotify.rsplit("/", 1)[1]) == "Crazy (Remix) & [Live]? Beyoncé feat. Jay-Z"
    assert not set("()[] ") & set(spotify)  # nothing that could end a markdown link early
    query = parse_qs(urlparse(youtube).query)
    assert urlparse(youtube).netloc == "www.youtube.com" and query == {
        "search_query": ["Crazy (Remix) & [Live]? Beyoncé feat. Jay-Z"]
    }


def test_headings_say_what_was_asked_and_which_page():
    seed = Candidate(0, "seed", "Hey Ya!", "OutKast", 100.0, 10)
    assert wording.answer_heading(Answer([seed], [song("Ms. Jackson")], "v3", "demo")) == "Songs like Hey Ya! — OutKast"
    seeds = [Candidate(i, f"s{i}", t, "x", 100.0, 1) for i, t in enumerate(["Hey Ya!", "Hello", "Hey Jude"])]
    mix = Answer(seeds, [song("Come Together")] * 5, "v3", "demo", offset=5)
    assert wording.answer_heading(mix) == "A mix of Hey Ya!, Hello and Hey Jude (6–10)"
    mine = Answer([], [song("Roses")], "v3", "demo")
    assert wording.answer_heading(mine, for_name="dj\n@everyone") == "Songs for dj @everyone"
    assert wording.answer_heading(mine) == "Songs for you"
    untitled = Answer([Candidate(0, "s", "\u200b", "A", 100.0, 1)], [], "v3", "demo")
    assert wording.answer_heading(untitled) == "Songs like (untitled) — A"
    # A front end's quote is applied to every untrusted piece.
    assert (
        wording.answer_heading(mix, quote=lambda text, limit: f"<{text}>")
        == "A mix of <Hey Ya!>, <Hello> and <Hey Jude> (6–10)"
    )


def test_novelty_is_named_after_an_answer_only_when_it_is_not_the_default():
    assert (wording.novelty_note("deep"), wording.novelty_note("popular")) == (" · deep cuts", " · popular picks")
    assert wording.novelty_note("balanced") == "" and wording.novelty_note(None) == ""


def test_ratings_are_told_apart_by_the_apps_enum():
    assert wording.rating_text(Rated.NOT_FOUND, 1, 2) == wording.NO_RECORD_OF_RATED_ANSWER
    assert wording.rating_text(Rated.TAKEN_BACK, 1, 2) == "Took back your 👍 for suggestion 2."
    assert wording.rating_text(Rated.TAKEN_BACK, -1, 2).endswith("it may be suggested to you again.")
    assert "your answers for this song, your mixes and /foryou" in wording.rating_text(
        Rated.RECORDED, -1, 3, per_seed=True
    )
    assert "out of your mixes and /foryou;" in wording.rating_text(Rated.RECORDED, -1, 3)
    assert wording.rating_text(Rated.RECORDED, 1, 3).startswith("Noted: 👍 for suggestion 3. Thanks")


def test_block_sentences_say_where_the_block_holds():
    seed = Candidate(0, "s", "Hey Ya!", "OutKast", 100.0, 1)
    blocked = BlockResult(BlockOutcome.BLOCKED, song=seed)
    assert wording.block_text(blocked, place="the console") == (
        "Blocked Hey Ya! — OutKast: Soundalike will not suggest it in the console until /unblock."
    )
    assert wording.block_text(BlockResult(BlockOutcome.NOT_BLOCKED, song=seed), place="this server") == (
        "Hey Ya! — OutKast is not blocked in this server."
    )
    typed = BlockResult(BlockOutcome.NOT_FOUND, lookup=Lookup(query="**x** @everyone", closest=["<@1> y"]))
    assert wording.block_text(typed, place="x") == "No song matches “**x** @everyone”. Closest titles: <@1> y"
    far = Lookup(query="Hey Yaa", choices=[seed])
    assert wording.block_text(BlockResult(BlockOutcome.AMBIGUOUS, lookup=far), place="x").endswith(
        "Did you mean Hey Ya! — OutKast?"
    )


def test_pick_questions_for_an_artist_a_close_call_and_far_matches():
    assert wording.pick_question(Lookup(query="adele", kind="artist", artist="Adele")) == (
        "“adele” is an artist: which of Adele's songs do you mean?"
    )
    assert wording.pick_question(Lookup(query="Hello", close_call=True)) == (
        "Several songs match “Hello”. Which one did you mean?"
    )
    assert wording.pick_question(Lookup(query="everyone", note="Demo\ndata.")) == (
        "No song is called “everyone”. Did you mean one of these?\nDemo data."
    )


def test_metrics_lines_beside_the_baseline_or_flat():
    metrics = {"model": {"ndcg@10": 0.31, "recall@10": 0.5}, "baseline": {"ndcg@10": 0.1}, "protocol": "holdout"}
    assert wording.metrics_lines(metrics) == [
        "ndcg@10: 0.3100 (popularity 0.1000)",
        "recall@10: 0.5000",
        "holdout protocol, seed ?",
    ]
    assert wording.metrics_lines({"ndcg": 0.5, "odd": {"x": 1}}) == ["ndcg: 0.5000"]
