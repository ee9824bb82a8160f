"""Replay every fuzz seed and saved crash through its harness (``make fuzz`` finds new ones)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.harnesses import HARNESSES
from fuzz.seeds import seeds

CRASHES = Path(__file__).resolve().parents[1] / "fuzz" / "crashes"
CASES = [(name, i, data) for name, items in seeds().items() for i, data in enumerate(items)] + [
    (path.parent.name, path.name, path.read_bytes())
    for path in sorted(CRASHES.glob("*/*"))
    if path.is_file()
]


def test_every_harness_has_seeds() -> None:
    assert set(seeds()) == set(HARNESSES)


@pytest.mark.parametrize(("name", "label", "data"), CASES, ids=[f"{n}-{i}" for n, i, _ in CASES])
def test_fuzz_input_is_handled(name: str, label: object, data: bytes) -> None:
    HARNESSES[name](data)


def test_every_harness_can_be_run_and_is_run_by_make_fuzz() -> None:
    from fuzz.__main__ import NAMES

    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    (line,) = [x for x in makefile.splitlines() if x.startswith("FUZZ_HARNESSES :=")]
    assert set(NAMES) == set(HARNESSES) == set(seeds())
    assert line.split(":=")[1].split() == list(NAMES)
