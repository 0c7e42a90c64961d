"""The service on the demo data: what the bot, the console and the CLI all call.

The demo's listeners have planted genre and era tastes, so a working model must find
them: these tests assert on that structure, not on hard-coded song lists.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from recommender.errors import SoundalikeError, UnknownSong
from recommender.ranking import MIN_MATCH_SCORE, NOVELTY_BETA, PLAIN_DEFAULT, DefaultRanking
from recommender.service import (
    END_OF_LIST,
    MIN_LIKES_FOR_YOU,
    MixNeedsTwoSongs,
    NotEnoughHistory,
    calibrated_deep_beta,
    calibrated_default,
)


def genre_of(service, item_id: str) -> str:
    return str(service.dataset.items.at[service.dataset.item_index(item_id), "genre"])


def song_id(service, title: str, artist: str) -> str:
    items = service.dataset.items
    match = items[(items.title == title) & (items.artist == artist)]
    assert len(match) == 1, f"{title} by {artist} should be in the demo catalog once"
    return str(match.item_id.iloc[0])


def test_most_of_top5_similar_share_the_seed_genre(demo_service):
    """The issue's quality bar on the demo: over every catalog song, most of its top-5 share its genre."""
    service = demo_service
    shares = []
    for index in np.flatnonzero(service.dataset.listeners > 0):
        item_id = str(service.dataset.item_ids[index])
        answer = service.similar(item_id, count=5, per_artist_cap=0)
        genre = genre_of(service, item_id)
        shares.append(np.mean([genre_of(service, s.item_id) == genre for s in answer.suggestions]))
    # Measured 0.998 on the 2,000-listener test demo; chance is about 1/17.
    assert np.mean(shares) >= 0.85


def test_hey_ya_typed_loosely_gives_five_hip_hop_era_songs_with_reasons(demo_service):
    service = demo_service
    seed = service.seed("hey ya")
    assert (seed.title, seed.artist) == ("Hey Ya!", "OutKast")
    answer = service.similar(seed.item_id, count=5)
    assert len(answer.suggestions) == 5
    assert answer.model_version == service.model.version
    titles = [s.title for s in answer.suggestions]
    assert not any(t.startswith("Hey Ya!") for t in titles), "no version of the seed comes back"
    genres = [genre_of(service, s.item_id) for s in answer.suggestions]
    assert sum(g in {"hip hop", "pop", "r&b"} for g in genres) >= 4
    years = [int(service.dataset.items.at[s.item_index, "year"]) for s in answer.suggestions]
    assert 1990 <= np.median(years) <= 2012
    for suggestion in answer.suggestions:
        assert "listeners of Hey Ya! also played this" in suggestion.reason
        assert 0 < suggestion.percent <= 100
    scores = [s.score for s in answer.suggestions]
    assert scores == sorted(scores, reverse=True)


def test_versions_collapse_and_caps_hold(demo_service):
    service = demo_service
    seed = song_id(service, "Ms. Jackson", "OutKast")
    answer = service.similar(seed, count=10, per_artist_cap=1)
    artists = [s.artist for s in answer.suggestions]
    assert len(artists) == len(set(artists)), "at most one song per artist"
    keys = [(s.title.split(" (")[0], s.artist) for s in answer.suggestions]
    assert len(keys) == len(set(keys)), "one entry per song, whatever its versions"
    no_self = service.similar(seed, count=10, exclude_seed_artist=True)
    assert "OutKast" not in {s.artist for s in no_self.suggestions}


def test_more_pages_do_not_overlap(demo_service):
    service = demo_service
    seed = service.seed("Smells Like Teen Spirit").item_id
    first = service.similar(seed, count=5)
    second = service.similar(seed, count=5, offset=5)
    assert second.offset == 5
    assert not {s.item_id for s in first.suggestions} & {s.item_id for s in second.suggestions}
    assert len(second.suggestions) == 5


def test_exclusions_keep_songs_out(demo_service):
    service = demo_service
    seed = service.seed("Hey Ya!").item_id
    first = service.similar(seed, count=5)
    banned = first.suggestions[0].item_id
    again = service.similar(seed, count=5, exclude_ids=[banned])
    assert banned not in {s.item_id for s in again.suggestions}


def test_mix_leaves_out_its_seeds_and_names_them(demo_service):
    service = demo_service
    seeds = [song_id(service, "Hey Ya!", "OutKast"), song_id(service, "Crazy in Love", "Beyoncé")]
    answer = service.mix(seeds, count=8)
    shown = {s.item_id for s in answer.suggestions}
    assert not shown & set(seeds)
    assert [s.item_id for s in answer.seeds] == seeds
    assert all(s.reason.startswith("From ") for s in answer.suggestions)
    assert any("Crazy in Love" in s.reason for s in answer.suggestions)
    with pytest.raises(SoundalikeError, match="at most 5"):
        service.mix([str(i) for i in service.dataset.item_ids[:6]])


def test_a_mix_of_two_genres_shows_both_genres(demo_service):
    service = demo_service
    hey_ya = song_id(service, "Hey Ya!", "OutKast")
    for other in (song_id(service, "Jolene", "Dolly Parton"), song_id(service, "Bohemian Rhapsody", "Queen")):
        answer = service.mix([hey_ya, other], count=10)
        shown = {genre_of(service, s.item_id) for s in answer.suggestions}
        assert {genre_of(service, hey_ya), genre_of(service, other)} <= shown, shown
    # Over random pairs of songs of different genres (the README's figure uses 200; 1.0 there).
    items = service.dataset.items
    playable = np.flatnonzero(service.dataset.listeners > 0)
    rng = np.random.default_rng(12)
    both = []
    while len(both) < 60:
        first, second = rng.choice(playable, 2, replace=False)
        if items.genre.iat[first] == items.genre.iat[second]:
            continue
        answer = service.mix([str(service.dataset.item_ids[first]), str(service.dataset.item_ids[second])], count=10)
        shown = {genre_of(service, s.item_id) for s in answer.suggestions}
        both.append({items.genre.iat[first], items.genre.iat[second]} <= shown)
    assert np.mean(both) >= 0.9


def test_mix_reasons_count_distinct_people_and_name_only_seeds_that_explain(demo_service):
    service = demo_service
    data = service.dataset
    titles = [
        ("Hey Ya!", "OutKast"),
        ("Jolene", "Dolly Parton"),
        ("Bohemian Rhapsody", "Queen"),
        ("Smells Like Teen Spirit", "Nirvana"),
        ("So What", "Miles Davis"),
    ]
    seeds = [song_id(service, *title) for title in titles]
    for mix in (seeds[:2], seeds):
        answer = service.mix(mix, count=10)
        for suggestion in answer.suggestions:
            listeners = set(data.item_user.of(suggestion.item_index).tolist())
            named = [set(data.item_user.of(seed).tolist()) for seed in suggestion.because_of]
            people = len(listeners & set().union(*named))
            assert suggestion.shared_listeners == people <= len(listeners), suggestion.reason
            assert f"{people:,}" in suggestion.reason
    # The most-listened song overlaps with everything; it explains only what it really shares.
    popular = int(np.argmax(data.listeners))
    answer = service.mix([seeds[0], str(data.item_ids[popular])], count=10)
    naming = [data.title(popular) in s.reason for s in answer.suggestions]
    assert any(naming) and not all(naming)


def test_a_mix_of_one_song_is_an_error_in_the_library_and_the_cli(demo_env, demo_service, capsys):
    hey_ya = song_id(demo_service, "Hey Ya!", "OutKast")
    for seeds in ([hey_ya], [hey_ya, hey_ya]):
        with pytest.raises(MixNeedsTwoSongs, match="A mix needs at least two different songs"):
            demo_service.mix(seeds)
    for titles in (["Hey Ya!"], ["Hey Ya!", "hey ya"]):
        assert demo_env.cli("mix", *titles) == 2
        captured = capsys.readouterr()
        assert captured.err.startswith("error: A mix needs at least two different songs") and not captured.out


def test_more_stops_at_the_match_floor_and_says_there_is_no_more(demo_service):
    service = demo_service
    for seed, more in (
        (song_id(service, "Hey Ya!", "OutKast"), service.similar),
        ([song_id(service, "Hey Ya!", "OutKast"), song_id(service, "Jolene", "Dolly Parton")], service.mix),
    ):
        pages = []
        while not pages or pages[-1].has_more:
            assert len(pages) < 40, "a list must end"
            pages.append(more(seed, count=10, offset=10 * len(pages)))
        shown = [s for page in pages for s in page.suggestions]
        assert min(s.score for s in shown) >= MIN_MATCH_SCORE and min(s.percent for s in shown) >= 5
        assert all(page.notes == [] for page in pages[:-1]) and pages[-1].notes == [END_OF_LIST]
        after = more(seed, count=10, offset=10 * len(pages))
        assert after.suggestions == [] and not after.has_more
    liked = service.dataset.items[service.dataset.items.genre == "metal"].item_id.tolist()[:3]
    assert service.for_you(liked, count=5).has_more


def test_deep_cuts_use_the_beta_calibrated_for_the_served_model(demo_service, monkeypatch):
    service = demo_service
    novelty = service.model.manifest["novelty"]
    assert novelty["deep_beta"] in [row["beta"] for row in novelty["similar"]["grid"]]
    similar_default = calibrated_default(service.model.manifest, "similar")
    for_you_default = calibrated_default(service.model.manifest, "for_you")
    # Deep cuts move from the model's default by the calibrated beta.
    assert service._options(5, 0, "deep", None).beta == pytest.approx(
        novelty["deep_beta"] - similar_default.popularity_exponent
    )
    assert service._options(5, 0, "deep", None, for_you=True).beta == pytest.approx(
        novelty["for_you_deep_beta"] - for_you_default.popularity_exponent
    )
    hey_ya = song_id(service, "Hey Ya!", "OutKast")
    balanced = [s.item_id for s in service.similar(hey_ya, count=5).suggestions]
    deep = [s.item_id for s in service.similar(hey_ya, count=5, novelty="deep").suggestions]
    assert deep != balanced
    # Asked about songs people play (a random song of a random listener, as the calibration
    # asks), deep cuts show songs with at most half balanced's median listeners.
    listeners, plays = service.dataset.listeners, service.dataset.interactions
    rng = np.random.default_rng(5)
    shown = {"balanced": [], "deep": []}
    for user in rng.choice(plays.shape[0], 200, replace=False):
        index = rng.choice(plays.indices[plays.indptr[user] : plays.indptr[user + 1]])
        for level in shown:
            answer = service.similar(str(service.dataset.item_ids[index]), count=10, novelty=level)
            shown[level] += [listeners[s.item_index] for s in answer.suggestions]
    assert np.median(shown["deep"]) <= 0.5 * np.median(shown["balanced"])
    # /foryou too, from half of a listener's songs as their likes.
    shown = {"balanced": [], "deep": []}
    for user in rng.choice(plays.shape[0], 100, replace=False):
        songs = rng.permutation(plays.indices[plays.indptr[user] : plays.indptr[user + 1]])
        liked = [str(service.dataset.item_ids[i]) for i in songs[: max(3, songs.size // 2)]]
        for level in shown:
            answer = service.for_you(liked, count=10, novelty=level)
            shown[level] += [listeners[s.item_index] for s in answer.suggestions]
    assert np.median(shown["deep"]) <= 0.5 * np.median(shown["balanced"])
    # A model published before calibration answers with the constant.
    monkeypatch.delitem(service.model.manifest, "novelty")
    assert service._options(5, 0, "deep", None).beta == NOVELTY_BETA["deep"]
    assert service._options(5, 0, "deep", None, for_you=True).beta == NOVELTY_BETA["deep"]


def test_balanced_answers_rank_with_the_default_chosen_for_each_command(demo_service, monkeypatch):
    service = demo_service
    manifest = service.model.manifest
    chosen = manifest["novelty"]["default"]
    assert service._options(5, 0, None, None).default == DefaultRanking(**chosen["similar"])
    assert service._options(5, 0, None, None, mix=True).default == DefaultRanking(**chosen["mix"])
    assert service._options(5, 0, None, None, for_you=True).default == DefaultRanking(**chosen["for_you"])
    # A strong pull towards listeners, kept in the manifest, is what /soundalike then answers with.
    listeners = service.dataset.listeners
    seeds = [service.seed(title).item_id for title in ("Hey Ya!", "Jolene", "So What")]

    def mean_listeners() -> float:
        shown = [s.item_index for seed in seeds for s in service.similar(seed, count=10).suggestions]
        return float(np.mean(listeners[shown]))

    novelty = {**manifest["novelty"], "default": {**chosen, "similar": DefaultRanking(1.0).to_dict()}}
    monkeypatch.setitem(manifest, "novelty", novelty)
    pulled = mean_listeners()
    novelty["default"]["similar"] = PLAIN_DEFAULT.to_dict()
    assert pulled > mean_listeners()
    # A model from before the choice (or with a damaged entry) answers in the model's own order.
    monkeypatch.setitem(manifest, "novelty", {"default": {"similar": {"popularity_exponent": "x"}}})
    assert service._options(5, 0, None, None).default == PLAIN_DEFAULT
    monkeypatch.delitem(manifest, "novelty")
    assert calibrated_default(manifest, "mix") == PLAIN_DEFAULT


@pytest.mark.parametrize(
    "manifest",
    [
        {},
        {"novelty": None},
        {"novelty": {"deep_beta": "0.3"}},
        {"novelty": {"deep_beta": float("nan")}},
        {"novelty": {"deep_beta": -1}},
        {"novelty": {"deep_beta": True}},
        {"novelty": {"deep_beta": float("inf")}},
    ],
)
def test_a_missing_or_unusable_calibration_falls_back_to_the_constant(manifest):
    assert calibrated_deep_beta(manifest) is None and calibrated_deep_beta(manifest, "for_you_deep_beta") is None
    assert calibrated_deep_beta({"novelty": {"deep_beta": 0.2, "for_you_deep_beta": 0.5}}) == 0.2
    assert calibrated_deep_beta({"novelty": {"deep_beta": 0.2, "for_you_deep_beta": 0.5}}, "for_you_deep_beta") == 0.5


def test_for_you_needs_history_then_follows_it(demo_service):
    service = demo_service
    metal = service.dataset.items[service.dataset.items.genre == "metal"].item_id.tolist()[:4]
    with pytest.raises(NotEnoughHistory, match="/soundalike"):
        service.for_you(metal[: MIN_LIKES_FOR_YOU - 1])
    answer = service.for_you(metal, count=5)
    assert not {s.item_id for s in answer.suggestions} & set(metal)
    assert sum(genre_of(service, s.item_id) in {"metal", "rock", "punk"} for s in answer.suggestions) >= 4
    liked_titles = {service.dataset.title(service.dataset.item_index(i)) for i in metal}
    for suggestion in answer.suggestions:
        assert suggestion.reason.startswith("Because you liked ")
        assert any(title in suggestion.reason for title in liked_titles)


def test_novelty_knob_moves_answers_towards_deep_cuts(demo_service):
    service = demo_service
    listeners = service.dataset.listeners
    popular, deep = [], []
    for title in ["Hey Ya!", "Smells Like Teen Spirit", "Jolene", "So What", "One Love/People Get Ready"]:
        seed = service.seed(title).item_id
        popular += [listeners[s.item_index] for s in service.similar(seed, count=5, novelty="popular").suggestions]
        deep += [listeners[s.item_index] for s in service.similar(seed, count=5, novelty="deep").suggestions]
    assert np.mean(deep) < np.mean(popular)


def test_unknown_titles_are_a_clear_message(demo_service):
    with pytest.raises(UnknownSong) as caught:
        demo_service.seed("qqqqqqqqqqzzzzzzz")
    assert "No song matches" in str(caught.value)


def test_a_title_that_matches_nothing_comes_back_with_the_closest_titles(demo_service):
    nothing = demo_service.resolve("Everlastingly Blorp")
    assert not nothing.found and nothing.closest[0] == "Everlong — Foo Fighters" and len(nothing.closest) <= 5
    assert demo_service.resolve("Everlong").closest == []  # found: nothing more to look for
    with pytest.raises(UnknownSong) as caught:
        demo_service.seed("Everlastingly Blorp")
    assert caught.value.suggestions == nothing.closest


def test_a_title_typed_again_is_resolved_once_with_the_same_answer(demo_env, monkeypatch):
    from recommender.service import SoundalikeService

    service = SoundalikeService.open(demo_env.config)  # its own cache, not the shared service's
    asked: list[tuple[str, str | None]] = []
    resolve = service.resolver.resolve

    def counted(title, artist=None, **options):
        asked.append((title, artist))
        return resolve(title, artist=artist, **options)

    monkeypatch.setattr(service.resolver, "resolve", counted)
    first = service.resolve("hey ya", "outkast")
    assert service.resolve("hey ya", "outkast") == first and first.best is not None
    assert asked == [("hey ya", "outkast")]
    # Another artist or another spelling is another question.
    service.resolve("hey ya", "Eminem")
    service.resolve("Hey Ya!", "outkast")
    assert asked == [("hey ya", "outkast"), ("hey ya", "Eminem"), ("Hey Ya!", "outkast")]
    assert first == resolve("hey ya", artist="outkast", closest=5)


def test_reload_swaps_the_model_in_place(demo_env, demo_service):
    from recommender.service import SoundalikeService

    service = SoundalikeService.open(demo_env.config)
    before = service.model.version
    assert demo_env.cli("train", "--dataset", "demo", "--factors", "16", "--no-eval", "--quiet") == 0
    after = service.reload()
    assert after != before and service.model.version == after
    assert service.similar(service.seed("Hey Ya!").item_id).model_version == after
    assert service.reload(before) == before
    # Leave the shared store as it was for the other tests.
    assert demo_env.cli("rollback", "--dataset", "demo") == 0


def test_similar_cli_prints_json(demo_env, capsys):
    assert demo_env.cli("similar", "hey ya", "--json", "-n", "3") == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["seeds"][0]["title"] == "Hey Ya!"
    assert [s["position"] for s in answer["suggestions"]] == [1, 2, 3]
    assert all(s["reason"] for s in answer["suggestions"])


def test_similar_cli_unknown_title_is_one_line(demo_env, capsys):
    assert demo_env.cli("similar", "qqqqqqqqqqzzzzzzz") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No song matches") and "Traceback" not in err
