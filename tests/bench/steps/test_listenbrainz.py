"""bench.steps.listenbrainz and bench/listenbrainz_dump.py: the generated dump is a listens dump
the product imports whole, and the step reports what the import cost."""

from __future__ import annotations

import json
import sys

from bench import listenbrainz_dump
from bench.figures import build_rows
from bench.steps.context import Context
from bench.steps.listenbrainz import DATASET, import_listenbrainz, import_listenbrainz_argv
from recommender.cli.main import build_parser
from recommender.dataset import Dataset
from recommender.importers.listenbrainz import import_listenbrainz as import_dump


def test_the_generated_dump_imports_whole_with_its_planted_shares(tmp_path):
    facts = listenbrainz_dump.write_dump(tmp_path / "dump", 3000, seed=5)
    assert listenbrainz_dump.is_current(tmp_path / "dump", 3000, seed=5)
    assert not listenbrainz_dump.is_current(tmp_path / "dump", 3001, seed=5)
    summary = import_dump(
        dump=tmp_path / "dump" / listenbrainz_dump.ARCHIVE, dest=tmp_path / "lb", progress=False, on_error="stop"
    )
    assert summary.rows == facts["written"]["listens"] == 3000 and summary.skipped == 0
    source = Dataset.load(summary.dest).manifest["source"]
    assert source["files"] == facts["written"]["months"] == 132  # 2015-01 .. 2025-12
    assert 0.55 < source["matched_listens"] / source["listens"] < 0.85  # 70 % of recordings matched
    assert source["merged_spellings"] > 0  # lower-cased spellings of matched recordings planted


def test_the_step_measures_the_product_command_on_a_dump_it_generates(tmp_path):
    scale = 2000 / listenbrainz_dump.FULL_SCALE_LISTENS
    figures = import_listenbrainz(Context(scale, tmp_path, 2012, 10))
    assert figures["listens"] == 2000 and figures["listens_per_second"] > 0
    assert figures["import_peak_rss_mb"] > 0 and figures["recordings"] > 0
    assert (tmp_path / "data" / "datasets" / DATASET / "manifest.json").exists()
    rows = build_rows({"import-listenbrainz": {"returncode": 0, "figures": {"status": "ok", **figures}}})
    row = next(r for r in rows if r.figure == "listens per second")
    assert row.step == "(k) import ListenBrainz dump, 2,000 listens" and row.ours == figures["listens_per_second"]


def test_the_step_runs_a_command_the_product_parser_takes(tmp_path):
    argv = import_listenbrainz_argv(tmp_path / "dump.tar.zst")
    assert argv[:3] == [sys.executable, "-m", "recommender"]
    parsed = build_parser().parse_args(argv[3:])
    assert str(parsed.dump) == str(tmp_path / "dump.tar.zst") and (parsed.name, parsed.replace) == (DATASET, True)


def test_saved_runs_without_the_step_have_no_listenbrainz_rows():
    assert not [row for row in build_rows({}) if row.step.startswith("(k)")]
    assert json.dumps([r.as_dict() for r in build_rows({})])  # still a table
