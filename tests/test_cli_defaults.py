"""CLI defaults that work from any directory: the shipped Rego, not ``./rego``.

Run from a temporary directory with no ``rego/`` in sight, through the real
``fieldgate`` command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fieldgate.policy.shipped import rego_root, shipped_contract

FIELDGATE = str(Path(sys.executable).parent / "fieldgate")


def run_in(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FIELDGATE, *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


def test_contract_test_without_root_tests_the_shipped_rego(tmp_path: Path) -> None:
    done = run_in(tmp_path, "contract", "test", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["failed"] == 0
    assert report["passed"] > 0
    files = {Path(r["file"]).resolve() for r in report["results"]}
    assert all(f.is_relative_to(rego_root().resolve()) for f in files)
    assert any(f.name == "contract_test.rego" for f in files)


def test_a_contract_outside_any_checkout_finds_the_shipped_library(tmp_path: Path) -> None:
    # The shipped permissive contract imports data.fieldgate.lib.sharing; a copy
    # with no lib/ above it gets the shipped library by default.
    mine = tmp_path / "mine.rego"
    mine.write_text(shipped_contract("permissive").read_text(encoding="utf-8"), encoding="utf-8")
    done = run_in(tmp_path, "contract", "check", "--contract", str(mine), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    # Without the library every rule is undefined and every field "never released";
    # with it, the permissive contract withholds only what it always withholds.
    never = {f["name"] for f in report["findings"] if f["kind"] == "never_released"}
    assert never == {"citizenship", "country_of_birth"}


def test_a_missing_root_is_named(tmp_path: Path) -> None:
    done = run_in(tmp_path, "contract", "test", "nowhere")
    assert done.returncode == 2
    assert "nowhere" in done.stderr
    assert "Traceback" not in done.stderr
