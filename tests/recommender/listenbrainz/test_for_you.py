"""/foryou's fold-in with a member's played songs beside their 👍 (SoundalikeService.for_you)."""

from __future__ import annotations

import pytest

from recommender.service import NotEnoughHistory


def song(service, title: str, artist: str) -> str:
    resolution = service.resolve(title, artist)
    assert resolution.best is not None and resolution.best.title == title
    return resolution.best.item_id


def test_played_songs_count_like_likes_and_reasons_say_which(demo_service):
    liked = song(demo_service, "Hey Ya!", "OutKast")
    played = [song(demo_service, "Hello", "Adele"), song(demo_service, "Umbrella", "Rihanna")]
    with pytest.raises(NotEnoughHistory, match="You have liked 1 suggestion so far; /foryou needs at least 3"):
        demo_service.for_you([liked], count=10)
    answer = demo_service.for_you([liked], count=10, played_ids=[*played, liked])  # a liked song played too
    shown = [s.item_id for s in answer.suggestions]
    assert len(shown) == 10 and not {liked, *played} & set(shown)
    index = {demo_service.dataset.item_index(i): i for i in (liked, *played)}
    for suggestion in answer.suggestions:
        liked_titles = [demo_service.dataset.title(i) for i in suggestion.because_of if index[i] == liked]
        played_titles = [demo_service.dataset.title(i) for i in suggestion.because_of if index[i] != liked]
        parts = [f"liked {' and '.join(liked_titles)}"] if liked_titles else []
        parts += [f"played {' and '.join(played_titles)}"] if played_titles else []
        assert suggestion.reason == "Because you " + " and ".join(parts)
    reasons = " ".join(s.reason for s in answer.suggestions)
    assert "played " in reasons and "liked Hey Ya!" in reasons  # both kinds lead somewhere


def test_not_enough_songs_says_how_many_listens_were_catalog_songs(demo_service):
    played = [song(demo_service, "Hello", "Adele")]
    with pytest.raises(NotEnoughHistory) as caught:
        demo_service.for_you([], played_ids=played)
    assert str(caught.value).startswith(
        "You have liked 0 suggestions so far, and 1 other song you played on ListenBrainz is in the catalog; "
        "/foryou needs at least 3 songs."
    )
