"""Reading a console line's options (console/options.py), in Discord's own syntax."""

from __future__ import annotations

import pytest

from console.options import parse_mix, parse_options
from recommender.errors import SoundalikeError


def test_options_use_discords_syntax():
    assert parse_options("Hey Ya! artist:OutKast count:3") == {"title": "Hey Ya!", "artist": "OutKast", "count": "3"}
    assert parse_options("title:Crazy artist: Gnarls Barkley") == {"title": "Crazy", "artist": "Gnarls Barkley"}
    assert parse_options("Re:Stacks") == {"title": "Re:Stacks"}
    assert parse_options("Hey Ya! novelty:deep per_artist:0 leave_out_artist:yes") == {
        "title": "Hey Ya!",
        "novelty": "deep",
        "per_artist": "0",
        "leave_out_artist": "yes",
    }


def test_titles_with_a_colon_stay_titles():
    for title in ("Re:Stacks", "The Sin:Decay", "Re: Stacks", "yourcodenameis:milo", "Sixx:A.M."):
        assert parse_options(title) == {"title": title}


def test_a_mix_line_is_its_songs_with_their_artists_and_its_options_once():
    songs, knobs = parse_mix("Hey Ya! | Hello artist:Adele | Hey Jude novelty:deep")
    assert songs == [("Hey Ya!", None), ("Hello", "Adele"), ("Hey Jude", None)] and knobs == {"novelty": "deep"}
    with pytest.raises(SoundalikeError, match="artist: goes after a song of the mix"):
        parse_mix("Hey Ya! | artist:Adele")
    with pytest.raises(SoundalikeError, match="count: is given twice"):
        parse_mix("Hey Ya! count:3 | Hey Jude count:4")
