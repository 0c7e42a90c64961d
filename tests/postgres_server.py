"""A real PostgreSQL server for tests: initdb + pg_ctl in a temporary folder, on a free port
of 127.0.0.1, stopped and removed afterwards. As root (CI), the server runs as the
``postgres`` user, which PostgreSQL refuses to run as root without.

tests/conftest.py starts one per test session (fixture ``postgres_server``, only when a test
asks for it) and stops it at the end, failures included. Each test gets a schema of its own
(:meth:`PostgresServer.fresh_url`: the URL sets ``search_path``), so tests stay independent
and a new one costs milliseconds rather than a CREATE DATABASE. Without PostgreSQL's
binaries the tests that need it skip, saying so; in CI (``CI=true``) they fail
(:func:`require_postgres`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest
from environment import IN_CI

INSTALL_HINT = "install PostgreSQL (apt-get install postgresql) or set SOUNDALIKE_PG_BIN to the folder of initdb"


def find_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: $SOUNDALIKE_PG_BIN, PATH, or Debian's /usr/lib/postgresql/N/bin."""
    if os.environ.get("SOUNDALIKE_PG_BIN"):
        return Path(os.environ["SOUNDALIKE_PG_BIN"])
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent  # /usr/local/bin/initdb may be a link into the real bin dir
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    bin_dir: Path
    folder: Path
    port: int
    user: str = "soundalike"
    database: str = "soundalike"
    _schemas: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def fresh_url(self) -> str:
        """The URL of an empty schema of its own (``search_path`` set in the URL, which
        asyncpg passes to the server as a setting): what one test's log is pointed at."""
        schema = f"test_{next(self._schemas)}"
        self.execute(f"CREATE SCHEMA {schema}")
        return f"{self.dsn}?search_path={schema}"

    def execute(self, statement: str) -> None:
        """Run one statement on the server's database (from sync code, inside a loop or not)."""
        with concurrent.futures.ThreadPoolExecutor(1) as worker:
            worker.submit(asyncio.run, self._execute(statement)).result(timeout=60)

    async def _execute(self, statement: str) -> None:
        connection = await asyncpg.connect(self.dsn, timeout=30)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    @classmethod
    def start(cls) -> PostgresServer:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise FileNotFoundError(f"PostgreSQL's initdb was not found: {INSTALL_HINT}")
        folder = Path(tempfile.mkdtemp(prefix="soundalike-pg-"))
        server = cls(bin_dir, folder, free_port())
        try:
            if os.geteuid() == 0:
                account = pwd.getpwnam("postgres")
                os.chown(folder, account.pw_uid, account.pw_gid)
            server._run(
                "initdb", "-D", str(folder / "data"), "-A", "trust", "-U", server.user, "-E", "UTF8", "--no-sync"
            )
            server._run(
                "pg_ctl",
                "-D",
                str(folder / "data"),
                "-l",
                str(folder / "server.log"),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {server.port} -h 127.0.0.1 -k {folder}",
                "start",
            )
            server._run("createdb", "-h", "127.0.0.1", "-p", str(server.port), "-U", server.user, server.database)
        except BaseException:
            server.stop()
            raise
        return server

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120, cwd=self.folder)

    def stop(self) -> None:
        """Stop the server and remove its folder. Immediate shutdown: no final checkpoint (the
        data is thrown away), so it takes a moment rather than seconds; SIGKILL if that fails."""
        pid_file = self.folder / "data" / "postmaster.pid"
        for mode in ("immediate",):
            if not pid_file.exists():
                break
            with contextlib.suppress(subprocess.SubprocessError):
                self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", mode, "-w", "-t", "30", "stop")
        if pid_file.exists():  # the first line of postmaster.pid is the server's process id
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)


def require_postgres() -> Path:
    """PostgreSQL's binaries folder. Without it the test skips, saying so; in CI it must be
    there, so its absence fails the test."""
    bin_dir = find_bin_dir()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        reason = f"PostgreSQL's initdb and pg_ctl were not found: {INSTALL_HINT}"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return bin_dir
