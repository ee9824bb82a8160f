"""Each server chooses its gRPC statuses in one module: ``status.py``.

No other module of the node or the broker names a ``StatusCode`` member or
ends a call itself (``context.abort`` / ``set_code``), so a reader finds every
status a server can answer with, and why, in one table.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

import fieldgate

PACKAGE_ROOT = Path(fieldgate.__file__).resolve().parent
SERVERS = ("node", "broker")
# Modules that may name a status code although they choose none themselves.
# (Health reports SERVING / NOT_SERVING, which are not status codes.)
ALLOWED: frozenset[str] = frozenset(
    {
        # The answer hold wraps the servicer context: its abort() only waits for the
        # deadline, then passes through whatever status the servicer chose.
        "node/answer_timing.py",
    }
)


def _server_modules(server: str) -> list[Path]:
    # fieldgate/node and fieldgate/broker are links to node/ and broker/: follow them.
    return sorted(
        Path(folder) / name
        for folder, _, names in os.walk(PACKAGE_ROOT / server, followlinks=True)
        for name in names
        if name.endswith(".py")
    )


def status_choices(source: str) -> list[tuple[int, str]]:
    """Where ``source`` names a status code member or ends a call itself."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute | ast.Name)
            and (node.value.attr if isinstance(node.value, ast.Attribute) else node.value.id)
            == "StatusCode"
        ):
            found.append((node.lineno, f"StatusCode.{node.attr}"))
        elif isinstance(node, ast.Name) and node.id == "StatusCode":
            found.append((node.lineno, "StatusCode"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"abort", "set_code", "abort_with_status"}
        ):
            found.append((node.lineno, f".{node.func.attr}()"))
    return found


@pytest.mark.parametrize("server", SERVERS)
def test_only_the_status_module_chooses_a_status(server: str) -> None:
    chosen = [
        f"{server}/{path.relative_to(PACKAGE_ROOT / server)}:{line} {what}"
        for path in _server_modules(server)
        if path.name != "status.py" and f"{server}/{path.name}" not in ALLOWED
        for line, what in status_choices(path.read_text(encoding="utf-8"))
    ]
    assert chosen == []


@pytest.mark.parametrize("server", SERVERS)
def test_the_status_module_exists_and_chooses(server: str) -> None:
    path = PACKAGE_ROOT / server / "status.py"
    assert status_choices(path.read_text(encoding="utf-8")) != []


def test_the_checker_sees_inline_choices() -> None:
    """The checker itself: each way of choosing a status inline is reported."""
    source = (
        "import grpc\nfrom grpc import StatusCode\n"
        "async def f(context):\n"
        "    await context.abort(grpc.StatusCode.INTERNAL, 'x')\n"
        "    context.set_code(StatusCode.NOT_FOUND)\n"
    )
    found = {what for _, what in status_choices(source)}
    assert {"StatusCode.INTERNAL", "StatusCode.NOT_FOUND", ".abort()", ".set_code()"} <= found
