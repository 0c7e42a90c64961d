"""Test set-up shared by every test module: config files under a temporary root, and the
real Last.fm data from ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from paths import LASTFM

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def write_config(root: Path, extra: str = "", *, dataset: str = "demo") -> Path:
    """A config.toml whose data root and database live under ``root``; ``extra`` is appended."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "config.toml"
    path.write_text(
        f'[data]\nroot = "{root / "data"}"\ndefault_dataset = "{dataset}"\n'
        f'[bot]\ndatabase = "{root / "soundalike.sqlite3"}"\n' + extra,
        encoding="utf-8",
    )
    return path


def require_lastfm() -> Path:
    """The Last.fm 2k folder. Away from the team's workspace it is absent and the test skips,
    saying so; in CI it must be there, so its absence fails the test."""
    if not (LASTFM / "user_artists.dat").exists():
        reason = f"real Last.fm data not found at {LASTFM} (../shared is only present in the team's workspace and CI)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return LASTFM
