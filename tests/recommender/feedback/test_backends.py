"""The seam between the log and its databases: one statement in two parameter styles, and how a
PostgreSQL URL is named in messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommender.feedback import queries
from recommender.feedback.backends import (
    database_problem,
    is_postgres_url,
    location_of,
    postgres_arguments,
    shown_url,
    to_postgres,
)


def test_question_marks_become_numbered_parameters_in_order():
    assert to_postgres("SELECT a FROM t WHERE b = ? AND c = ?") == ("SELECT a FROM t WHERE b = $1 AND c = $2", None)


def test_a_name_used_twice_is_one_parameter_and_values_follow_the_names():
    statement, arguments = postgres_arguments(
        "SELECT 1 WHERE (CAST(:seed AS TEXT) IS NULL OR x = :seed) AND y = :user", {"user": 5, "seed": "s"}
    )
    assert statement == "SELECT 1 WHERE (CAST($1 AS TEXT) IS NULL OR x = $1) AND y = $2"
    assert arguments == ["s", 5]


def test_quoted_text_comments_and_casts_are_left_alone():
    sql = "SELECT '?:x' AS \"a?:b\", y::text -- what? :no\nFROM t /* :nor ? */ WHERE z = :z"
    assert to_postgres(sql) == (
        "SELECT '?:x' AS \"a?:b\", y::text -- what? :no\nFROM t /* :nor ? */ WHERE z = $1",
        ("z",),
    )


def test_mixed_styles_and_missing_values_are_refused():
    with pytest.raises(ValueError, match="mixes"):
        to_postgres("SELECT ? WHERE x = :x")
    with pytest.raises(ValueError, match="no value for parameter"):
        postgres_arguments("SELECT :a, :b", {"a": 1})
    with pytest.raises(ValueError, match="by name"):
        postgres_arguments("SELECT :a", (1,))


def test_every_statement_of_the_log_translates():
    statements = [value for name, value in vars(queries).items() if name.isupper() and isinstance(value, str)]
    assert len(statements) >= 25  # the check looked at the real statements
    for sql in statements:
        converted, _ = to_postgres(sql)
        assert "?" not in converted
        assert not any(word.startswith(":") and word[1:2].isalpha() for word in converted.split())


def test_a_url_is_shown_without_its_password():
    assert shown_url("postgresql://bot:s3cret@db:5432/log") == "postgresql://bot:***@db:5432/log"
    assert (
        shown_url("postgresql://bot:s3cret@[::1]/log?sslmode=require")
        == "postgresql://bot:***@[::1]/log?sslmode=require"
    )
    assert shown_url("postgresql://bot@db/log") == "postgresql://bot@db/log"


def test_a_location_is_a_url_as_given_or_a_path():
    assert is_postgres_url("postgres://db/log") and is_postgres_url("POSTGRESQL://db/log")
    assert not is_postgres_url("data/postgresql.sqlite3") and not is_postgres_url(Path("postgresql://x"))
    assert location_of("postgresql://db/log") == "postgresql://db/log"
    assert location_of("logs/x.sqlite3", Path("/srv/bot")) == Path("/srv/bot/logs/x.sqlite3")
    assert database_problem("data/x.sqlite3") is None
    assert database_problem("postgresql://bot@db:5432/log?host=/run/postgresql") is None
