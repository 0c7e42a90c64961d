"""The [listenbrainz] section: validated at start with the key named, overridable from the environment."""

from __future__ import annotations

import pytest

from recommender.config import ListenBrainzConfig, load_config
from recommender.errors import ConfigError


def write(tmp_path, body: str):
    path = tmp_path / "config.toml"
    path.write_text("[listenbrainz]\n" + body + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ('api_url = "api.listenbrainz.org"', "must start with https://"),
        ('api_url = "ftp://example.org"', "must start with https://"),
        ('api_url = "https://"', "names no host"),
        ('api_url = "https://example.org/?x=1"', "query or a fragment"),
        ("listens = 0", "[listenbrainz] listens: 0 is below 1"),
        ("listens = 1001", "[listenbrainz] listens: 1001 is above 1,000"),
        ("attempts = 0", "[listenbrainz] attempts"),
        ("attempts = 11", "[listenbrainz] attempts"),
        ("cache_seconds = nan", "[listenbrainz] cache_seconds: must be a finite number"),
        ("timeout_seconds = 0", "[listenbrainz] timeout_seconds"),
        ("timeout_seconds = 20.0\ntotal_seconds = 10.0", "timeout_seconds 20 is above total_seconds 10"),
        ("train_from_linked = [0]", "[listenbrainz] train_from_linked"),
        ('train_from_linked = "all"', "expected a list of int"),
        ("unknown_key = 1", "unknown key [listenbrainz] unknown_key"),
    ],
)
def test_bad_values_are_refused_naming_the_key(tmp_path, line, named):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, line), environ={})
    assert named in str(caught.value)


def test_defaults_and_environment_overrides(tmp_path):
    config = load_config(write(tmp_path, ""), environ={})
    assert config.listenbrainz == ListenBrainzConfig()
    assert config.listenbrainz.api_url == "https://api.listenbrainz.org"
    environ = {
        "SOUNDALIKE_LISTENBRAINZ__API_URL": "http://127.0.0.1:8099",
        "SOUNDALIKE_LISTENBRAINZ__TRAIN_FROM_LINKED": "[123456789012345678]",
    }
    config = load_config(write(tmp_path, "listens = 1000"), environ=environ)
    assert config.listenbrainz.api_url == "http://127.0.0.1:8099"
    assert config.listenbrainz.train_from_linked == [123456789012345678]
    assert config.listenbrainz.listens == 1000
