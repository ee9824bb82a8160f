"""A real PostgreSQL server for tests: Debian's ``postgresql`` package, on a temp dir and free port.

The server runs as the current user, or as ``nobody`` when that is root
(``initdb`` refuses root; the process is started as that user directly, so
signals reach PostgreSQL itself), with trust authentication on 127.0.0.1 only.
Missing binaries skip the test with a reason, or fail it when
``FIELDGATE_REQUIRE_POSTGRES=1`` (set by .ci/run).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

REQUIRE_POSTGRES = "FIELDGATE_REQUIRE_POSTGRES"
"""Set to 1 by CI (.ci/run): a missing PostgreSQL fails instead of skipping."""


def postgres_bin() -> Path:
    """The directory holding initdb and postgres; skip or fail when there is none."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.insert(0, str(Path(on_path).parent))
    for directory in candidates:
        if (Path(directory) / "initdb").exists() and (Path(directory) / "postgres").exists():
            return Path(directory)
    message = "PostgreSQL is not installed (Debian package postgresql)"
    if os.environ.get(REQUIRE_POSTGRES) == "1":
        pytest.fail(f"{message}, and {REQUIRE_POSTGRES}=1 says these tests must run")
    pytest.skip(f"{message}; set {REQUIRE_POSTGRES}=1 to make this a failure, as CI does")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a throwaway server; yield its connection URL (database ``postgres``)."""
    binaries = postgres_bin()
    user: str | None = None
    workdir = Path(tempfile.mkdtemp(prefix="fieldgate-pg-"))
    if os.geteuid() == 0:
        user = "nobody"
        shutil.chown(workdir, user)
    data = workdir / "data"
    subprocess.run(
        [str(binaries / "initdb"), "-D", str(data), "-U", "postgres",
         "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True, capture_output=True, timeout=120, user=user, cwd=workdir,
    )  # fmt: skip
    port = _free_port()
    server = subprocess.Popen(
        [str(binaries / "postgres"), "-D", str(data), "-p", str(port),
         "-k", str(workdir), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, user=user, cwd=workdir,
    )  # fmt: skip
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        deadline = time.monotonic() + 60
        while True:  # ready when it accepts a connection
            try:
                psycopg.connect(url, connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    stderr = server.stderr.read().decode() if server.stderr else ""
                    raise RuntimeError(f"PostgreSQL did not start: {stderr[-2000:]}") from None
                time.sleep(0.05)
        yield url
    finally:
        server.send_signal(signal.SIGINT)  # "fast" shutdown: clients are disconnected
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stderr:
            server.stderr.close()
        shutil.rmtree(workdir, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    """A fresh database on the server; returns its URL."""
    with psycopg.connect(server_url, autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}"')
        db.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"
