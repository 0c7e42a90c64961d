"""The bench's tests share one tiny generated data set (scale 0.0005: a few hundred users)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import generate

TINY = 0.0005


@pytest.fixture(scope="session")
def tiny_scale() -> float:
    return TINY


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory, tiny_scale) -> Path:
    """MSD-shaped files at bench/work's layout: <root>/scale-0.0005/msd."""
    dest = tmp_path_factory.mktemp("bench") / generate.scale_dir_name(tiny_scale) / "msd"
    generate.generate(tiny_scale, dest)
    return dest
