"""Generate the Python wire code for ``proto/`` into ``fieldgate/v2``.

One script makes the committed code; ``tests/test_wire_generated.py`` runs it
into a temporary directory and fails if the committed files drift.

Usage: ``python scripts/gen_proto.py [OUTPUT_ROOT]`` (default: the repository).
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[1]
PROTO_ROOT = ROOT / "proto"


def generate(out_root: Path) -> list[Path]:
    """Run protoc with the grpc and mypy-protobuf plugins; return the files written."""
    protos = sorted(PROTO_ROOT.glob("fieldgate/v2/*.proto"))
    well_known = str(resources.files("grpc_tools") / "_proto")
    target = out_root / "fieldgate" / "v2"
    target.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_root}",
        f"--grpc_python_out={out_root}",
        f"--mypy_out={out_root}",
        f"--mypy_grpc_out={out_root}",
        *(str(p.relative_to(PROTO_ROOT)) for p in protos),
    ]
    # The mypy-protobuf plugins are console scripts beside this interpreter.
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    init = target / "__init__.py"
    init.write_text('"""Generated protobuf and gRPC code for fieldgate.v2 (do not edit)."""\n')
    return sorted(p for p in target.iterdir() if p.suffix in {".py", ".pyi"})


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT
    for path in generate(out):
        print(path)
