"""The Node.js client (clients/node) for the interoperability tests.

:func:`node_client` installs its npm dependencies once per session (``npm ci``
into ``clients/node/node_modules``, exactly the versions in package-lock.json)
and returns the directory; :func:`run_node` runs one of its scripts. Without
Node.js 20+ or a reachable npm registry the tests skip with the reason, unless
``FIELDGATE_REQUIRE_NODEJS=1`` (set by CI in .ci/run): then they fail.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

CLIENT_DIR = Path(__file__).resolve().parents[2] / "clients" / "node"
REQUIRE_NODEJS = "FIELDGATE_REQUIRE_NODEJS"
MIN_NODE_MAJOR = 20


def _unavailable(message: str) -> None:
    if os.environ.get(REQUIRE_NODEJS) == "1":
        pytest.fail(f"{message}, and {REQUIRE_NODEJS}=1 says these tests must run")
    pytest.skip(f"{message}; set {REQUIRE_NODEJS}=1 to make this a failure, as CI does")


def _installed() -> bool:
    """Whether node_modules holds exactly what package-lock.json pins (npm's own record)."""
    marker = CLIENT_DIR / "node_modules" / ".package-lock.json"
    lock = CLIENT_DIR / "package-lock.json"
    return marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime


def node_client() -> Path:
    """The client directory, its dependencies installed (or the test skipped / failed)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("Node.js (node and npm) is not installed")
        raise AssertionError("unreachable")
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    major = int(version.lstrip("v").split(".")[0] or 0) if version else 0
    if major < MIN_NODE_MAJOR:
        _unavailable(f"Node.js {version or '?'} is older than {MIN_NODE_MAJOR}")
    # One install even when test workers start together (pytest -n): they queue here.
    with (CLIENT_DIR / ".npm-ci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed():
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=CLIENT_DIR,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if done.returncode != 0:
                why = done.stderr.strip()[-400:]
                _unavailable(f"npm ci failed (registry unreachable?): {why}")
    return CLIENT_DIR


def run_node(
    script: str, *args: str, stdin: str = "", timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run ``node <script> args...`` in the client directory; the finished process."""
    node = shutil.which("node")
    assert node is not None, "node_client() makes sure Node.js is installed"
    return subprocess.run(
        [node, script, *args],
        cwd=CLIENT_DIR,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_json(script: str, *args: str, stdin: str = "") -> tuple[int, dict[str, Any]]:
    """Run a script that prints one JSON document; its exit status and the document."""
    done = run_node(script, *args, stdin=stdin)
    try:
        document = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"node {script} exited {done.returncode} without JSON:\n{done.stdout}\n{done.stderr}"
        ) from None
    return done.returncode, document
