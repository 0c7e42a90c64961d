"""Linked accounts in the log: what is kept (the username and when, nothing else), re-linking,
unlinking, /forgetme, the retrain's per-server read, and SQL that PostgreSQL also accepts."""

from __future__ import annotations

import re
from pathlib import Path

from feedback_logs import ALICE, ASKER, BOB, GUILD, OTHER_GUILD, answer, rows

from recommender.feedback import queries
from recommender.feedback.log import FeedbackLog, LinkedAccount
from recommender.feedback.offline import read_linked_accounts
from recommender.feedback.schema import LINKED_ACCOUNTS_DDL, MIGRATIONS


def stored(db_path: Path | str) -> list[tuple]:
    return rows(db_path, "SELECT * FROM linked_accounts ORDER BY user_id")


async def test_a_link_keeps_only_the_username_and_when(log: FeedbackLog, db_path: Path, clock):
    linked = await log.link_account(ALICE, "listenbrainz", "rob")
    assert linked == LinkedAccount("listenbrainz", "rob", "2024-05-01T12:00:00.000+00:00")
    assert stored(db_path) == [(ALICE, "listenbrainz", "rob", "2024-05-01T12:00:00.000+00:00")]
    assert await log.linked_account(ALICE, "listenbrainz") == linked
    assert await log.linked_account(BOB, "listenbrainz") is None


async def test_linking_again_replaces_the_name_and_time(log: FeedbackLog, db_path: Path, clock):
    await log.link_account(ALICE, "listenbrainz", "rob")
    clock.advance(hours=1)
    await log.link_account(ALICE, "listenbrainz", "robert")
    assert stored(db_path) == [(ALICE, "listenbrainz", "robert", "2024-05-01T13:00:00.000+00:00")]


async def test_unlink_removes_the_row_and_says_what_it_was(log: FeedbackLog, db_path: Path):
    await log.link_account(ALICE, "listenbrainz", "rob")
    await log.link_account(BOB, "listenbrainz", "bobby")
    removed = await log.unlink_account(ALICE, "listenbrainz")
    assert removed is not None and removed.username == "rob"
    assert await log.unlink_account(ALICE, "listenbrainz") is None
    assert [row[0] for row in stored(db_path)] == [BOB]


async def test_forgetme_removes_the_link_too(log: FeedbackLog, db_path: Path):
    await log.link_account(ALICE, "listenbrainz", "rob")
    await log.link_account(BOB, "listenbrainz", "bobby")
    counts = await log.forget_user(ALICE)
    assert counts["linked_accounts"] == 1
    assert [row[0] for row in stored(db_path)] == [BOB]


async def test_the_retrain_reads_linked_members_of_opted_in_servers_only(
    log: FeedbackLog, db_path: Path | str, tmp_path: Path
):
    await answer(log, 1, user=ALICE, guild=GUILD)
    await answer(log, 2, user=BOB, guild=OTHER_GUILD)
    await answer(log, 3, user=ASKER, guild=GUILD)  # asked there, but linked nothing
    await log.link_account(ALICE, "listenbrainz", "rob")
    await log.link_account(BOB, "listenbrainz", "bobby")
    assert read_linked_accounts(db_path, "listenbrainz", [GUILD]) == [(ALICE, "rob")]
    assert read_linked_accounts(db_path, "listenbrainz", [GUILD, OTHER_GUILD]) == [(ALICE, "rob"), (BOB, "bobby")]
    assert read_linked_accounts(db_path, "listenbrainz", []) == []
    assert read_linked_accounts(tmp_path / "none.sqlite3", "listenbrainz", [GUILD]) == []


def test_the_new_statements_are_portable_sql():
    """No SQLite-only words in the linked-accounts DDL and statements (they must run on
    PostgreSQL as written): no INSERT OR REPLACE, no WITHOUT ROWID, no AUTOINCREMENT, no
    PRAGMA, no datetime()/strftime(), only ``?`` placeholders."""
    statements = [
        *LINKED_ACCOUNTS_DDL,
        queries.UPSERT_LINK,
        queries.DELETE_LINK,
        queries.SELECT_LINK,
        queries.SELECT_LINKS,
        queries.FORGET_LINKS,
        queries.SELECT_GUILD_MEMBERS,
    ]
    sqlite_only = re.compile(r"OR REPLACE|WITHOUT ROWID|AUTOINCREMENT|PRAGMA|datetime\(|strftime\(|:\w+|\bIS \?", re.I)
    for statement in statements:
        assert not sqlite_only.search(statement), statement
    assert "ON CONFLICT (user_id, service) DO UPDATE" in queries.UPSERT_LINK
    (step,) = [migration for migration in MIGRATIONS if migration.version == 3]
    assert step.sqlite[:-1] == LINKED_ACCOUNTS_DDL
    assert step.sqlite[-1] == "PRAGMA user_version = 3"
