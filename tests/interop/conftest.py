"""The federation the Node.js client's tests search (one per test module)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.federation import LoopThread
from tests.helpers.interop import Interop, start_interop, stop_interop
from tests.helpers.nodejs import node_client


@pytest.fixture(scope="module")
def client_dir() -> Path:
    """clients/node with its npm dependencies installed (or the test skipped / failed)."""
    return node_client()


@pytest.fixture(scope="module")
def interop(
    client_dir: Path, loop: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Interop]:
    """The running federation, its hostile broker, and where the investigators' files go."""
    running = start_interop(loop, tmp_path_factory.mktemp("node-client"))
    yield running
    stop_interop(loop, running)
