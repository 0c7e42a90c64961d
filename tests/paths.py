"""Where things are, for tests at any depth of tests/ (which mirrors the packages)."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
PROJECT_ROOT = TESTS.parent
# Scripts the tests run as separate processes (a writer to SIGKILL, a retrain with faults).
HELPERS = TESTS / "helpers"
SHARED = PROJECT_ROOT.parent / "shared"
LASTFM = SHARED / "datasets" / "hetrec2011-lastfm-2k"
DEMO_CATALOG = PROJECT_ROOT / "data" / "demo" / "catalog.csv"
