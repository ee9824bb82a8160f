"""Run one harness under atheris: ``python -m fuzz NAME [libFuzzer flags]``.

Example: ``python -m fuzz names -max_total_time=60``. The seed corpus is
written to ``.fuzz-corpus/NAME`` first. A crash is written by libFuzzer as
``crash-*``; copy it into ``fuzz/crashes/NAME/`` so the test suite replays it.
"""

from __future__ import annotations

import sys
from pathlib import Path

NAMES = (
    "search_request",
    "names",
    "import_jsonl",
    "import_csv",
    "catalog",
    "signed_search",
    "contract_bundle",
    "node_answer",
)
"""Every harness of fuzz/harnesses.py (named here: nothing is imported before instrumenting)."""


def main() -> None:
    """Instrument the project, seed the corpus, and hand over to libFuzzer."""
    if len(sys.argv) < 2 or sys.argv[1] not in NAMES:
        sys.exit(f"usage: python -m fuzz {{{'|'.join(NAMES)}}} [libFuzzer flags]")
    try:
        import atheris
    except ImportError:
        sys.exit("atheris is not installed: pip install -e '.[fuzz]'")
    name = sys.argv.pop(1)
    with atheris.instrument_imports(include=["fieldgate", "node", "fuzz"]):
        from fuzz.harnesses import HARNESSES
        from fuzz.seeds import seeds
    corpus = Path(".fuzz-corpus") / name
    corpus.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(seeds()[name]):
        (corpus / f"seed-{i}").write_bytes(seed)
    atheris.Setup([*sys.argv, str(corpus)], HARNESSES[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
