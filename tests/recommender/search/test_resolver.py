"""TitleResolver on a small hand-made catalog: what people type, and what they get back."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from title_catalog import CATALOG, LONG_TITLE, index_of, make_dataset

from recommender.dataset import Dataset
from recommender.search.resolver import (
    MAX_CHOICES,
    MAX_LABEL,
    TitleResolver,
    candidate_to_dict,
    resolution_to_dict,
    resolve_batch,
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Dataset:
    return make_dataset(tmp_path_factory.mktemp("resolver"), CATALOG)


@pytest.fixture(scope="module")
def resolver(dataset) -> TitleResolver:
    return TitleResolver.build(dataset)


def best(resolver, title, artist=None):
    resolution = resolver.resolve(title, artist=artist)
    assert resolution.found, f"{title!r} found nothing"
    return resolution.best.title, resolution.best.artist


# -- each kind of damage ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("Hey Ya!", ("Hey Ya!", "OutKast")),  # exact
        ("hey ya", ("Hey Ya!", "OutKast")),  # punctuation dropped
        ("HEY YA", ("Hey Ya!", "OutKast")),  # case
        ("Hey Ya!!!", ("Hey Ya!", "OutKast")),
        ("dont stop me now", ("Don't Stop Me Now", "Queen")),
        ("mr brightside", ("Mr. Brightside", "The Killers")),
        ("scientist", ("The Scientist", "Coldplay")),  # "the" dropped
        ("the wonderwall", ("Wonderwall", "Oasis")),  # "the" added
        ("teh scientist", ("The Scientist", "Coldplay")),  # "the" mistyped
        ("senorita", ("Señorita", "Justin Timberlake")),  # accents
        ("sound of silence", ("The Sound of Silence", "Simon & Garfunkel")),
        ("rock and roll star", ("Rock 'n' Roll Star", "Oasis")),  # 'n' / and / &
        ("rock & roll star", ("Rock 'n' Roll Star", "Oasis")),
        ("smells like teen spirt", ("Smells Like Teen Spirit", "Nirvana")),  # one typo
        ("hye ya", ("Hey Ya!", "OutKast")),  # transposed letters
        ("wonderwal", ("Wonderwall", "Oasis")),
        ("smels like ten spirit", ("Smells Like Teen Spirit", "Nirvana")),  # two typos
        ("bohemain rapsody", ("Bohemian Rhapsody (Remastered 2011)", "Queen")),
        ("like smells teen spirit", ("Smells Like Teen Spirit", "Nirvana")),  # swapped words
        ("me stop dont now", ("Don't Stop Me Now", "Queen")),
        ("heya", ("Hey Ya!", "OutKast")),  # a missing space
        ("Umbrella (feat. Jay-Z)", ("Umbrella", "Rihanna feat. Jay-Z")),  # feat. added
        ("Wonderwall ft. Noel Gallagher", ("Wonderwall", "Oasis")),
        ("Crazy in Love", ("Crazy in Love (feat. Jay-Z)", "Beyoncé")),  # feat. removed
        ("satisfaction", ("(I Can't Get No) Satisfaction", "The Rolling Stones")),
        ("i cant get no satisfaction", ("(I Can't Get No) Satisfaction", "The Rolling Stones")),
        ("**Hey Ya**", ("Hey Ya!", "OutKast")),  # markdown
    ],
)
def test_damaged_titles_find_the_song(resolver, typed, expected):
    assert best(resolver, typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "Hey Ya OutKast",
        "hey ya outkast",
        "OutKast - Hey Ya",
        "Hey Ya - OutKast",
        "hey ya by outkast",
        "outkast hey ya",
        "heya outkast",  # typo and artist
        "HEY YA!! OUTKAST",
    ],
)
def test_artist_inside_the_query(resolver, typed):
    resolution = resolver.resolve(typed)
    assert (resolution.best.title, resolution.best.artist) == ("Hey Ya!", "OutKast")
    assert resolution.confident


def test_artist_inside_the_query_picks_between_equal_titles(resolver):
    for typed in ("Beyonce - Halo", "halo beyonce", "Depeche Mode - Halo", "halo by depeche mode"):
        resolution = resolver.resolve(typed)
        assert resolution.confident, typed
        assert resolution.best.title == "Halo"
        assert resolution.best.artist == ("Beyoncé" if "beyonce" in typed.lower() else "Depeche Mode")


def test_artist_surname_inside_the_query(resolver):
    assert best(resolver, "senorita timberlake") == ("Señorita", "Justin Timberlake")
    assert best(resolver, "stones satisfaction") == ("(I Can't Get No) Satisfaction", "The Rolling Stones")


def test_artist_named_like_a_title_word_does_not_hijack_the_title(resolver):
    # "Roses" is an OutKast song; typing a title that merely ends with an artist's name
    # ("the beatles") still finds the title when it exists.
    assert best(resolver, "yesterday the beatles") == ("Yesterday", "The Beatles")
    assert best(resolver, "the beatles hey jude") == ("Hey Jude", "The Beatles")


def test_version_words_typed_without_brackets(resolver):
    resolution = resolver.resolve("hey ya live")
    assert resolution.best.artist == "OutKast"
    assert resolution.best.title == "Hey Ya! - Live at Wembley"


# -- popularity, versions, ambiguity --------------------------------------------------------------


def test_the_original_beats_a_cover_with_few_listeners(resolver):
    resolution = resolver.resolve("smells like teen spirit")
    assert [c.artist for c in resolution.candidates[:2]] == ["Nirvana", "Tori Amos"]
    assert resolution.confident
    assert resolution.candidates[0].score == resolution.candidates[1].score == 100.0
    assert resolution.candidates[0].listeners > resolution.candidates[1].listeners


def test_versions_collapse_to_the_most_listened(resolver, dataset):
    resolution = resolver.resolve("hey ya")
    outkast = [c for c in resolution.candidates if c.artist == "OutKast"]
    assert len(outkast) == 1
    assert outkast[0].title == "Hey Ya!" and outkast[0].listeners == 900
    assert outkast[0].listeners == dataset.listeners[outkast[0].item_index]
    assert outkast[0].item_id == dataset.item_ids[outkast[0].item_index]


def test_a_typed_version_shows_that_version(resolver):
    assert best(resolver, "Hey Ya (Radio Mix)") == ("Hey Ya! (Radio Mix)", "OutKast")
    assert best(resolver, "Hey Ya! [Live]") == ("Hey Ya! - Live at Wembley", "OutKast")


def test_two_songs_with_one_title_and_similar_popularity_are_ambiguous(resolver):
    resolution = resolver.resolve("halo")
    assert not resolution.confident
    assert {(c.title, c.artist) for c in resolution.candidates[:2]} == {("Halo", "Beyoncé"), ("Halo", "Depeche Mode")}
    assert resolution.candidates[0].artist == "Beyoncé"  # more listeners first


def test_an_exact_title_beats_a_popular_near_miss(resolver):
    # "Hallo" exists: typing it exactly means it, though "Halo" is far more played.
    assert best(resolver, "hallo") == ("Hallo", "Some Band")


# -- artist narrowing -----------------------------------------------------------------------------


def test_given_artist_narrows(resolver):
    resolution = resolver.resolve("halo", artist="Depeche Mode")
    assert resolution.confident
    assert [(c.title, c.artist) for c in resolution.candidates] == [("Halo", "Depeche Mode")]
    assert resolution.artist == "Depeche Mode"


def test_given_artist_tolerates_typos_case_and_the(resolver):
    assert best(resolver, "halo", artist="depeche mod") == ("Halo", "Depeche Mode")
    assert best(resolver, "hey ya", artist="OUTKAST") == ("Hey Ya!", "OutKast")
    assert best(resolver, "yesterday", artist="beatles") == ("Yesterday", "The Beatles")
    assert best(resolver, "halo", artist="Beyonce") == ("Halo", "Beyoncé")


def test_given_artist_matches_featured_credits(resolver):
    assert best(resolver, "umbrella", artist="Jay-Z") == ("Umbrella", "Rihanna feat. Jay-Z")
    assert best(resolver, "crazy in love", artist="jay z") == ("Crazy in Love (feat. Jay-Z)", "Beyoncé")


def test_given_artist_that_disagrees_still_finds_the_title_but_asks(resolver):
    resolution = resolver.resolve("wonderwall", artist="Beyoncé")
    assert resolution.best.title == "Wonderwall"
    assert not resolution.confident


def test_featured_artist_in_the_query_prefers_the_credited_song(resolver):
    resolution = resolver.resolve("Crazy in Love (feat. Jay-Z)")
    assert resolution.best.artist == "Beyoncé"
    assert resolution.confident


# -- autocomplete ---------------------------------------------------------------------------------


def test_complete_ranks_prefix_matches_by_popularity(resolver):
    choices = resolver.complete("hey")
    labels = [label for label, _ in choices]
    assert labels[:3] == ["Hey Ya! — OutKast", "Hey Jude — The Beatles", "Hey You — Pink Floyd"]
    assert "Hey Ya — Obadiah Parker" in labels and "Heyday — Mint Royale" in labels
    assert sum(label.startswith("Hey Ya!") for label in labels) == 1  # versions collapsed
    ids = [item_id for _, item_id in choices]
    assert ids[0] == f"SO{index_of('Hey Ya!', 'OutKast'):04d}"
    assert len(set(ids)) == len(ids)


def test_complete_forgives_a_typo_in_what_was_typed(resolver):
    assert resolver.complete("smels like")[0][0] == "Smells Like Teen Spirit — Nirvana"
    assert resolver.complete("bohemain")[0][0] == "Bohemian Rhapsody (Remastered 2011) — Queen"


def test_complete_empty_offers_the_most_listened(resolver):
    choices = resolver.complete("")
    assert choices[0][0] == "Smells Like Teen Spirit — Nirvana"
    assert len(choices) == min(MAX_CHOICES, len(resolver.versions))
    assert resolver.complete("   ") == choices


def test_complete_with_an_artist(resolver):
    labels = [label for label, _ in resolver.complete("", artist="OutKast")]
    assert labels == ["Hey Ya! — OutKast", "Ms. Jackson — OutKast", "Roses — OutKast"]
    labels = [label for label, _ in resolver.complete("h", artist="Beyonce")]
    assert labels[0] == "Halo — Beyoncé"
    assert all(label.endswith("Beyoncé") for label in labels)


def test_choices_respect_discord_limits(resolver):
    for partial in ("", "a", "very long title that keeps", LONG_TITLE, "x" * 10_000):
        choices = resolver.complete(partial, limit=100)
        assert len(choices) <= MAX_CHOICES
        assert all(len(label) <= MAX_LABEL for label, _ in choices)
    label = resolver.complete("a very long title")[0][0]
    assert len(label) <= MAX_LABEL and "…" in label and "Verbose" in label
    assert len(resolver.complete("hey", limit=2)) == 2


def test_complete_artist(resolver):
    assert resolver.complete_artist("out") == ["OutKast"]
    assert resolver.complete_artist("beatles") == ["The Beatles"]
    assert resolver.complete_artist("the beat") == ["The Beatles"]
    assert resolver.complete_artist("beyonce") == ["Beyoncé"]
    assert resolver.complete_artist("outkats")[0] == "OutKast"  # typo
    assert resolver.complete_artist("Rihanna feat") == ["Rihanna"]  # shown by primary name
    everyone = resolver.complete_artist("")
    assert everyone[0] == "OutKast"  # most listeners over all songs
    assert len(everyone) <= MAX_CHOICES and len(set(everyone)) == len(everyone)
    assert resolver.complete_artist("zzzzqqqq") == []


def test_closest_titles_for_a_no_match_message(resolver):
    assert resolver.resolve("smelly teens").candidates == []  # too far for a match...
    closest = resolver.closest_titles("smelly teens")
    assert closest and closest[0] == "Smells Like Teen Spirit — Nirvana"  # ...but the closest title
    assert len(resolver.closest_titles("hey", limit=3)) == 3
    assert resolver.closest_titles("") == []


# -- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "   ",
        "\t\n",
        "🎵🎶🔥",
        "\u200b\u200c\u200d",
        "!!!???...",
        "()",
        "-",
        None,
    ],
)
def test_input_with_no_words_is_a_clear_no_match(resolver, junk):
    resolution = resolver.resolve(junk)
    assert resolution.candidates == [] and not resolution.confident and not resolution.found
    assert resolver.complete(junk) == resolver.complete("")  # nothing typed yet
    assert resolver.closest_titles(junk) == []


@pytest.mark.parametrize(
    "odd",
    [
        "x" * 10_000,
        "hey ya " * 2_000,
        "'; DROP TABLE songs; --",
        "Robert'); DELETE FROM items WHERE 1=1; --",
        "<script>alert(1)</script>",
        "[Hey Ya](https://example.com) `code` > quote",
        "\u202eay yeH\u202c",
        "שלום עולם",
        "مرحبا بالعالم",
        "日本語のタイトル",
        "hey\x00ya\x07",
        "%s %d {0} {title}",
    ],
)
def test_odd_input_never_raises(resolver, odd):
    resolution = resolver.resolve(odd)
    assert len(resolution.query) <= 200
    assert all(0 <= c.score <= 100 for c in resolution.candidates)
    resolver.resolve("hey ya", artist=odd)
    assert len(resolver.complete(odd)) <= MAX_CHOICES
    resolver.complete_artist(odd)
    resolver.closest_titles(odd)


def test_long_pasted_text_with_the_title_first_still_finds_it(resolver):
    resolution = resolver.resolve("Hey Ya! " + "x" * 10_000)
    assert resolution.query == ("Hey Ya! " + "x" * 10_000)[:200]  # cut before any work
    assert resolution.best.title == "Hey Ya!" and not resolution.confident


def test_junk_artist_is_ignored(resolver):
    assert best(resolver, "hey ya", artist="🎵") == ("Hey Ya!", "OutKast")
    assert best(resolver, "hey ya", artist="   ") == ("Hey Ya!", "OutKast")


def test_nonsense_matches_nothing(resolver):
    for nonsense in ("qwzxv", "zzzzqqqq", "xkcd blorp fnord"):
        assert resolver.resolve(nonsense).candidates == []


def test_limit(resolver):
    assert len(resolver.resolve("smells like teen spirit", limit=1).candidates) == 1
    # Not confident: every close candidate is offered even past the limit.
    assert len(resolver.resolve("halo", limit=1).candidates) >= 2


# -- batch and dicts ---------------------------------------------------------------------------------


def test_resolve_batch(resolver):
    lines = ["hey ya\toutkast", "", "   ", "halo", "🎵", "halo\tDepeche Mode\n"]
    results = list(resolve_batch(resolver, lines))
    assert len(results) == 4  # blank lines are skipped
    json.dumps(results)  # JSON-serialisable
    first, halo, junk, depeche = results
    assert first["query"] == "hey ya" and first["artist"] == "outkast" and first["confident"]
    assert first["candidates"][0] == {
        "item_id": "SO0000",
        "title": "Hey Ya!",
        "artist": "OutKast",
        "score": 100.0,
        "listeners": 900,
    }
    assert halo["artist"] is None and not halo["confident"] and len(halo["candidates"]) >= 2
    assert junk["candidates"] == [] and not junk["confident"]
    assert depeche["artist"] == "Depeche Mode" and depeche["candidates"][0]["artist"] == "Depeche Mode"


def test_candidate_to_dict(resolver):
    candidate = resolver.resolve("wonderwall").best
    assert candidate_to_dict(candidate) == {
        "item_id": candidate.item_id,
        "title": "Wonderwall",
        "artist": "Oasis",
        "score": 100.0,
        "listeners": 850,
    }


# -- building and sharing -----------------------------------------------------------------------------


def test_build_from_plain_columns_matches_build_from_a_dataset(resolver):
    other = TitleResolver.from_columns(
        [f"SO{i:04d}" for i in range(len(CATALOG))],
        [r[0] for r in CATALOG],
        [r[1] for r in CATALOG],
        np.array([r[2] for r in CATALOG]),
    )
    for typed in ("hey ya", "halo", "smels like ten spirit", "heya outkast"):
        assert other.resolve(typed) == resolver.resolve(typed)


def test_missing_titles_and_artists_do_not_break_the_build():
    resolver = TitleResolver.from_columns(
        ["a", "b", "c"], ["Hey Ya!", None, ""], [None, "OutKast", "X"], np.array([1, 2, 3])
    )
    assert resolver.resolve("hey ya").best.item_id == "a"
    assert resolver.resolve("hey ya").best.artist == ""


def test_an_empty_catalog_resolves_nothing():
    resolver = TitleResolver.from_columns([], [], [], np.zeros(0, dtype=np.int64))
    assert resolver.resolve("hey ya").candidates == []
    assert resolver.complete("hey") == [] and resolver.complete("") == []
    assert resolver.complete_artist("") == []


def test_concurrent_readers_get_the_same_answers(resolver):
    queries = ["hey ya", "halo", "smels like ten spirit", "outkast - roses", "wonderwal", "bohemain rapsody"] * 20
    expected = [resolver.resolve(q) for q in queries]
    results: dict[int, list] = {}

    def work(worker: int) -> None:
        results[worker] = [resolver.resolve(q) for q in queries]

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results[w] == expected for w in range(4))


def test_a_one_song_catalog_still_has_typo_tolerance():
    resolver = TitleResolver.from_columns(["a"], ["Smells Like Teen Spirit"], ["Nirvana"], np.array([5]))
    assert resolver.title_index.alphabet[0] == 0  # the separator, never a real character
    assert resolver.resolve("smells like teen spirt").best.item_id == "a"
    assert resolver.resolve("spirit teen smells like").best.item_id == "a"
    assert resolver.complete("smels")[0][1] == "a"


# -- not sure: far matches, close calls, artists --------------------------------------------------


@pytest.mark.parametrize(
    "typed, offered",
    [
        ("hey yo", None),  # one slip from "hey ya" and from "hey you": several close songs
        ("smells like teen", "Smells Like Teen Spirit"),  # the start of a title
        ("hey ya outkats", "Hey Ya!"),  # a misspelt artist is not read as one
        ("yestrdya", "Yesterday"),  # two slips in a 9-letter title
        ("bohemian rhapsody queen live at wembley 1986", "Bohemian Rhapsody (Remastered 2011)"),
    ],
)
def test_far_or_partial_matches_are_offered_not_taken(resolver, typed, offered):
    resolution = resolver.resolve(typed)
    assert not resolution.confident
    if offered:
        assert offered in [c.title for c in resolution.candidates]


def test_close_calls_and_far_matches_are_told_apart(resolver):
    halo = resolver.resolve("halo")  # two songs called exactly that
    assert not halo.confident and halo.close_call
    far = resolver.resolve("smells like teen")
    assert not far.confident and not far.close_call
    sure = resolver.resolve("smells like teen spirt")
    assert sure.confident and not sure.close_call


def test_evidence_names_what_the_rule_judged(resolver):
    resolution, evidence = resolver.resolve_with_evidence("wonderwal")
    assert resolution.confident and resolution.best.title == "Wonderwall"
    # 94: "wonderwal" is also the start of "wonderwall"; one slip in a 10-letter title.
    assert (evidence.score, evidence.edits, evidence.length, evidence.artist_agreed) == (94.0, 1, 10, True)
    assert evidence.margin > 2 and evidence.rival_edits > 1
    resolution, evidence = resolver.resolve_with_evidence("hey yo")
    assert evidence.edits == 1 and evidence.rival_edits == 1 and not resolution.confident
    _, evidence = resolver.resolve_with_evidence("halo beyonce")  # the title read beside the artist
    assert evidence.edits == 0 and evidence.length == 4
    assert resolver.resolve_with_evidence("qwzxv") == (resolver.resolve("qwzxv"), None)


@pytest.mark.parametrize(
    "typed, artist, songs",
    [
        ("OutKast", "OutKast", ["Hey Ya!", "Ms. Jackson", "Roses"]),
        ("outkast", "OutKast", ["Hey Ya!", "Ms. Jackson", "Roses"]),
        ("the beatles", "The Beatles", ["Hey Jude", "Yesterday"]),
        ("beatles", "The Beatles", ["Hey Jude", "Yesterday"]),
        ("Beyonce", "Beyoncé", ["Crazy in Love (feat. Jay-Z)", "Halo"]),
        ("depeche mod", "Depeche Mode", ["Halo"]),  # one slip in the name
    ],
)
def test_an_artist_alone_offers_their_most_listened_songs(resolver, typed, artist, songs):
    resolution = resolver.resolve(typed)
    assert resolution.kind == "artist" and resolution.named_artist == artist
    assert not resolution.confident and not resolution.close_call
    assert [c.title for c in resolution.candidates] == songs  # most listened first, versions collapsed
    listeners = [c.listeners for c in resolution.candidates]
    assert listeners == sorted(listeners, reverse=True)


def test_a_title_typed_exactly_is_a_song_even_when_an_artist_has_that_name():
    resolver = TitleResolver.from_columns(
        ["a", "b", "c"], ["Heart", "Barracuda", "Alone"], ["Some Singer", "Heart", "Heart"], np.array([50, 900, 800])
    )
    resolution = resolver.resolve("heart")
    assert resolution.kind == "song" and resolution.confident and resolution.best.item_id == "a"
    resolution = resolver.resolve("barracuda heart")
    assert resolution.kind == "song" and resolution.best.item_id == "b"


def test_an_artist_with_a_title_is_a_song_and_a_given_artist_is_never_the_query(resolver):
    assert resolver.resolve("outkast roses").kind == "song"
    assert resolver.resolve("outkast roses").best.title == "Roses"
    resolution = resolver.resolve("Oasis", artist="Oasis")  # the title option holds a name
    assert resolution.kind == "song" and not resolution.confident


def test_resolution_to_dict_says_the_kind(resolver):
    assert resolution_to_dict(resolver.resolve("outkast")) == {
        "query": "outkast",
        "artist": None,
        "confident": False,
        "close_call": False,
        "kind": "artist",
        "artist_name": "OutKast",
        "candidates": [candidate_to_dict(c) for c in resolver.resolve("outkast").candidates],
    }
    halo = resolution_to_dict(resolver.resolve("halo"))
    assert halo["kind"] == "song" and halo["close_call"] and "artist_name" not in halo
