"""Starting and stopping benchmark server processes (``bench.worker``)."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, Memory, process_memory


class WorkerError(RuntimeError):
    """A worker process failed to start."""


@dataclass
class Worker:
    """A running ``bench.worker`` process."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def memory(self) -> Memory | None:
        """The process's current memory."""
        return process_memory(self.process.pid)

    def log_tail(self, lines: int = 20) -> str:
        """The end of the worker's stderr log."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 30.0) -> None:
        """Close its stdin (the signal to stop) and wait; kill it if it does not exit."""
        if self.process.poll() is None:
            if self.process.stdin is not None and not self.process.stdin.closed:
                self.process.stdin.close()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_worker(spec: dict[str, Any], workdir: Path, name: str) -> Worker:
    """Start a worker with ``spec`` (see :mod:`bench.worker`); call :func:`wait_ready` next."""
    workdir.mkdir(parents=True, exist_ok=True)
    spec_path = workdir / f"{name}.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    log_path = workdir / f"{name}.log"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.worker", str(spec_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=REPO_ROOT,
            env=env,
        )
    return Worker(name, process, log_path)


def wait_ready(workers: Sequence[Worker], timeout: float) -> None:
    """Wait until every worker has printed its ready line (stored in ``worker.info``).

    Raises:
        WorkerError: a worker exited or did not get ready within ``timeout``;
            every worker is stopped first.
    """
    deadline = time.monotonic() + timeout
    try:
        with selectors.DefaultSelector() as selector:
            pending: dict[int, Worker] = {}
            for worker in workers:
                assert worker.process.stdout is not None
                selector.register(worker.process.stdout, selectors.EVENT_READ)
                pending[worker.process.stdout.fileno()] = worker
            while pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    names = ", ".join(w.name for w in pending.values())
                    raise WorkerError(f"workers not ready after {timeout:.0f} s: {names}")
                for key, _ in selector.select(remaining):
                    worker = pending.pop(key.fd)
                    selector.unregister(key.fileobj)
                    assert worker.process.stdout is not None
                    line = worker.process.stdout.readline()
                    if not line:
                        raise WorkerError(
                            f"worker {worker.name} exited before it was ready:\n"
                            + worker.log_tail()
                        )
                    worker.info = json.loads(line)
    except BaseException:
        for worker in workers:
            worker.stop(5)
        raise


def stop_all(workers: Sequence[Worker]) -> None:
    """Stop every worker (all are told at once, then waited for)."""
    for worker in workers:
        stdin = worker.process.stdin
        if worker.process.poll() is None and stdin is not None and not stdin.closed:
            stdin.close()
    for worker in workers:
        worker.stop()
