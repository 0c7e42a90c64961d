"""The ``bot`` fixture of the mock-based bot tests: a real SoundalikeBot, never connected,
around the real application object and fakes (tests/bot_mocks.py)."""

from __future__ import annotations

import pytest
from bot_mocks import make_bot

from recommender.config import Config


@pytest.fixture
def bot():
    return make_bot(Config())
