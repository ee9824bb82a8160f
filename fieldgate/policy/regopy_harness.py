"""The second Rego engine, regopy (rego-cpp), run in a child process: the one harness.

Two tools ask a second, independent engine what regorus said:
:func:`fieldgate.policy.rego_tests.cross_check_with_regopy` (contract test
rules) and :func:`fieldgate.authoring.conformance.regopy_decisions` (contract
decisions). Both run it through :func:`run_in_child`, because rego-cpp 1.5.2
can crash outright (a segmentation fault, e.g. on ``with input as {...}`` over
a rule that calls a built-in), and a crash must become a reported error, not
kill the caller.

The protocol: the parent writes ``{"job": "module:function", "payload": ...}``
to the child's stdin; the child imports the job, calls it with the payload and
writes :data:`MARKER` followed by the job's JSON result to stdout (after the
marker, so stray output of the engine cannot be mistaken for it).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fieldgate.policy.errors import ContractError

MARKER = "\n--- regopy results ---\n"
"""Separates the child's stray output from its JSON result."""

Job = Callable[[Any], Any]
"""A function run in the child: the request's payload in, a JSON-able result out."""


def run_in_child(job: Job, payload: object, *, timeout: float) -> Any:
    """Run ``job(payload)`` in a fresh Python process and return its result.

    ``job`` must be a module-level function (the child imports it by name).

    Raises:
        ContractError: the child timed out, crashed (the message names the
            signal) or exited without a result (the message quotes its stderr).
    """
    request = {"job": f"{job.__module__}:{job.__qualname__}", "payload": payload}
    env = dict(os.environ)
    # The child must import this very checkout, whatever its working directory.
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    code = "import fieldgate.policy.regopy_harness as h; h.child_main()"
    try:
        child = subprocess.run(
            [sys.executable, "-c", code],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise ContractError(f"regopy did not finish within {timeout:g} s") from None
    if child.returncode != 0 or MARKER not in child.stdout:
        if child.returncode < 0:
            why = f"was killed by {signal.Signals(-child.returncode).name}"
        else:
            why = f"exited with status {child.returncode}: {child.stderr.strip()[-500:]}"
        raise ContractError(f"regopy (rego-cpp) {why}")
    return json.loads(child.stdout.rsplit(MARKER, 1)[1])


def child_main() -> None:
    """The child process of :func:`run_in_child`: a JSON request in, the job's result out."""
    request = json.load(sys.stdin)
    module, _, name = request["job"].partition(":")
    job: Job = getattr(importlib.import_module(module), name)
    sys.stdout.write(MARKER + json.dumps(job(request["payload"])))


def new_interpreter() -> Any:
    """A regopy interpreter set up as regorus is: quiet, with strict built-in errors.

    Raises:
        ImportError: regopy is not installed (it is an optional test extra).
    """
    import regopy

    interpreter = regopy.Interpreter()
    interpreter.log_level = regopy.LogLevel.NONE  # else it prints parse errors to stdout
    interpreter.strict_built_in_errors = True  # else built-in errors come back undefined
    return interpreter


def error_tree(output: Any) -> str:
    """The error tree of a failed regopy query (it is in the children of the output node)."""
    errors = output.node()
    return "".join(errors.at(i).json() for i in range(len(errors)))
