"""The databases the feedback log runs on, behind one seam: SQLite (a file, the default) and
PostgreSQL (a server several bot processes share), chosen by ``[bot] database``.

:class:`recommender.feedback.log.FeedbackLog` and :mod:`recommender.feedback.offline` never
talk to a database driver: they run the named statements of :mod:`recommender.feedback.queries`
through a :class:`Backend`'s transactions. A backend owns what differs between databases:
connecting, per-connection settings, the schema version record and migrations, one writer at
a time, turning driver errors into :mod:`recommender.feedback.errors`, and the parameter style.

How to add to the log (each is one change that works on both databases):

- A query: a named constant in :mod:`recommender.feedback.queries`, in the portable SQL its
  docstring describes, with ``?`` or ``:name`` parameters. Run it inside ``backend.write()`` or
  ``backend.read()`` with ``fetch``/``execute``/``executemany``; :func:`to_postgres` turns the
  parameters into PostgreSQL's ``$n`` (once per statement, cached).
- A table or index: a new :class:`recommender.feedback.schema.Migration` at the end of
  ``MIGRATIONS`` (its docstring says when one set of statements serves both).

The tests (tests/recommender/feedback/) run every log test on both databases, PostgreSQL on a
real server they start, so a statement one of them rejects fails there.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import SplitResult, parse_qs, urlsplit

# A row as a backend returns it: sqlite3.Row or asyncpg.Record. Both read by column name and by
# index, unpack as a tuple, and give their column names with ``keys()``.
Row = Any
Params = Sequence[Any] | Mapping[str, Any]

POSTGRES_SCHEMES = ("postgresql", "postgres")
EXAMPLE_URL = "postgresql://soundalike@db.example.org:5432/soundalike"


class Transaction(Protocol):
    """Statements inside one transaction of a backend (see :meth:`Backend.write`)."""

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; return how many rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...


class Backend(Protocol):
    """One open log database. ``location`` names it in messages (never with a password)."""

    location: str

    def write(self, action: str) -> AbstractAsyncContextManager[Transaction]:
        """One write transaction, alone among this log's writers (in every process), committed
        durably before the ``async with`` ends; errors become LogWriteError naming ``action``."""
        ...

    def read(self) -> AbstractAsyncContextManager[Transaction]:
        """One read transaction on one committed snapshot; errors become LogReadError."""
        ...

    async def scrub(self) -> None:
        """Best effort after erasing rows (/forgetme): leave no readable copy of them behind."""
        ...


# -- where the log is ---------------------------------------------------------------------------


def is_postgres_url(value: str | Path) -> bool:
    return isinstance(value, str) and value.split("://", 1)[0].lower() in POSTGRES_SCHEMES and "://" in value


def database_problem(value: str) -> str | None:
    """Why ``[bot] database`` cannot name a log, or None: a file path, or a complete
    ``postgresql://user@host:port/database`` URL."""
    if not value.strip():
        return "is empty: give a file path (SQLite) or a postgresql:// URL"
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if not scheme:
        return None  # a file path
    if scheme.lower() not in POSTGRES_SCHEMES:
        return (
            f"{scheme}:// is not a database the log runs on: give a file path (SQLite) or a URL such as {EXAMPLE_URL}"
        )
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as error:
        return f"is not a valid PostgreSQL URL ({error}); expected a URL such as {EXAMPLE_URL}"
    hosts = parse_qs(parts.query).get("host")
    if not parts.hostname and not hosts:
        return f"names no server: expected a URL such as {EXAMPLE_URL}"
    if port == 0:
        return f"has port 0: expected a URL such as {EXAMPLE_URL}"
    if not parts.path.strip("/"):
        return f"names no database (the part after the last /): expected a URL such as {EXAMPLE_URL}"
    if "/" in parts.path.strip("/"):
        return f"has more than one database name in {parts.path!r}: expected a URL such as {EXAMPLE_URL}"
    return None


def shown_url(url: str) -> str:
    """``url`` as messages and logs show it: the password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address keeps its brackets
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port is not None else "")
    return SplitResult(parts.scheme, netloc, parts.path, parts.query, parts.fragment).geturl()


def log_names(location: str | Path) -> tuple[str | Path, ...]:
    """How messages may name the log at ``location``: the path, or the URL as given and as shown."""
    if isinstance(location, Path):
        return (location,)
    return tuple(dict.fromkeys((location, shown_url(location))))


def location_of(value: str | Path, base_dir: Path | None = None) -> str | Path:
    """The log a setting or argument names: a PostgreSQL URL as given, else a file path
    (relative ones resolved against ``base_dir`` when given)."""
    if is_postgres_url(value):
        return str(value)
    path = Path(value)
    return path if base_dir is None or path.is_absolute() else base_dir / path


# -- one statement, two parameter styles ------------------------------------------------------

# What is not a parameter: quoted strings and identifiers, comments, and PostgreSQL's :: casts.
_SQL_TOKENS = re.compile(
    r"""('(?:[^']|'')*')|("(?:[^"]|"")*")|(--[^\n]*)|(/\*.*?\*/)|(::)|(\?)|(:[A-Za-z_][A-Za-z0-9_]*)""",
    re.DOTALL,
)


@functools.lru_cache(maxsize=512)
def to_postgres(sql: str) -> tuple[str, tuple[str, ...] | None]:
    """``sql`` with ``?`` or ``:name`` parameters as PostgreSQL's ``$1, $2...``.

    Returns the statement and, for ``:name`` parameters, the name each ``$n`` takes (a name
    used twice is one ``$n``); None for ``?`` parameters, which keep their order. A statement
    mixing both styles is refused, as SQLite refuses it.
    """
    names: list[str] = []
    positional = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal positional
        if match.group(6):
            positional += 1
            return f"${positional}"
        if match.group(7):
            name = match.group(7)[1:]
            if name not in names:
                names.append(name)
            return f"${names.index(name) + 1}"
        return match.group(0)

    converted = _SQL_TOKENS.sub(replace, sql)
    if positional and names:
        raise ValueError("a statement mixes ? and :name parameters")
    return converted, (tuple(names) if names else None)


def postgres_arguments(sql: str, params: Params) -> tuple[str, list[Any]]:
    """The PostgreSQL statement for ``sql`` and its arguments in ``$n`` order."""
    converted, names = to_postgres(sql)
    if names is None:
        if isinstance(params, Mapping):
            if params:
                raise ValueError("named values given for a statement with ? parameters")
            return converted, []
        return converted, list(params)
    if not isinstance(params, Mapping):
        raise ValueError("a statement with :name parameters needs its values by name")
    missing = [name for name in names if name not in params]
    if missing:
        raise ValueError(f"no value for parameter(s) {', '.join(missing)}")
    return converted, [params[name] for name in names]
