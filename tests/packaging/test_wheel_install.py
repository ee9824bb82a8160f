"""The built wheel works on its own: installed outside the source tree, from any directory.

The wheel is built (``pip wheel --no-deps``) from a copy of the files the
distribution is made of, so the build writes nothing into the checkout. It is
installed with pip into a fresh virtual environment under ``tmp_path``, and
``fieldgate demo``, ``fieldgate contract test`` and ``fieldgate sample`` run
there from a directory outside the tree.

Dependencies: instead of downloading them again (slow, and impossible offline)
the new environment sees the test environment's installed dependencies through
a directory of symlinks, one per top-level entry of its site-packages, with
every ``fieldgate`` entry, every ``.pth`` file and the editable-install finder
left out. Only the entries themselves are linked, and ``.pth`` files in a
directory reached through a ``.pth`` line are never executed, so nothing can put
the source tree (or the editable install's finder) on the new environment's
path; the test asserts it: ``fieldgate`` is imported from the new environment,
no ``sys.path`` entry lies in the source tree, and no top-level ``node``,
``broker`` or ``rego`` is importable.

The build uses the test environment's setuptools (``--no-build-isolation``) for
the same reason, and fails on any setuptools deprecation warning.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2]
DISTRIBUTION = ("pyproject.toml", "README.md", "fieldgate", "node", "broker", "rego")
"""What the wheel is built from (fieldgate/node, /broker and /rego link to the rest)."""

pytestmark = pytest.mark.timeout(300)


def _run(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def _clean_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
    }
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONSAFEPATH"] = "1"  # never put the working directory on sys.path
    return env


def _build_wheel(tmp: Path, env: dict[str, str]) -> Path:
    source = tmp / "src"
    source.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in DISTRIBUTION:
        path = SOURCE / name
        if path.is_dir():
            shutil.copytree(path, source / name, symlinks=True, ignore=skip)
        else:
            shutil.copy2(path, source / name)
    out = tmp / "dist"
    done = _run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(source)],
        tmp, env,
    )  # fmt: skip
    log = done.stdout + done.stderr
    assert "SetuptoolsDeprecationWarning" not in log, log
    (wheel,) = out.glob("fieldgate-*.whl")
    return wheel


def _dependency_links(tmp: Path) -> Path:
    """Links to the test environment's installed dependencies, fieldgate itself left out."""
    links = tmp / "deps"
    links.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        name = entry.name
        if name.endswith(".pth") or "fieldgate" in name.lower() or name.startswith("__editable"):
            continue
        (links / name).symlink_to(entry)
    return links


def _make_venv(tmp: Path, wheel: Path, env: dict[str, str]) -> Path:
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp, env)
    python = venv / "bin" / "python"
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", str(wheel)],
        tmp, env,
    )  # fmt: skip
    site = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp, env
    ).stdout.strip()
    (Path(site) / "test-dependencies.pth").write_text(f"{_dependency_links(tmp)}\n")
    return venv


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built once for this module."""
    return _build_wheel(tmp_path_factory.mktemp("wheel"), _clean_env())


def test_the_wheel_holds_one_package_with_its_rego_and_catalog(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"fieldgate", "fieldgate-0.1.0.dist-info"}
    assert not tops & {"node", "broker", "rego"}
    for shipped in (
        "fieldgate/rego/lib/fieldgate/sharing.rego",
        "fieldgate/rego/contracts/sanctuary_county/contract.rego",
        "fieldgate/rego/contracts/pointer_only/contract.rego",
        "fieldgate/rego/contracts/permissive/contract.rego",
        "fieldgate/policy/catalogs/standard.toml",
        "fieldgate/node/search.py",
        "fieldgate/broker/server.py",
    ):
        assert shipped in names, f"{shipped} missing from {wheel.name}"
    assert any(n.startswith("fieldgate/rego/personas/") and n.endswith(".json") for n in names)


def test_the_installed_wheel_runs_the_demo_and_contract_tests_from_anywhere(
    wheel: Path, tmp_path: Path
) -> None:
    env = _clean_env()
    venv = _make_venv(tmp_path, wheel, env)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    python, fieldgate = str(venv / "bin" / "python"), str(venv / "bin" / "fieldgate")

    probe = _run(
        [python, "-c",
         "import fieldgate, importlib.util, json, sys; print(json.dumps({"
         "'file': fieldgate.__file__, 'path': sys.path, "
         "'others': [m for m in ('node', 'broker', 'rego') if importlib.util.find_spec(m)]}))"],
        elsewhere, env,
    )  # fmt: skip
    seen = json.loads(probe.stdout)
    assert Path(seen["file"]).resolve().is_relative_to(venv.resolve())
    in_tree = [p for p in seen["path"] if p and Path(p).resolve().is_relative_to(SOURCE)]
    assert in_tree == [], f"the source tree is on the new environment's path: {in_tree}"
    assert seen["others"] == []

    demo = _run([fieldgate, "demo", "--records", "10", "--json"], elsewhere, env)
    summary = json.loads(demo.stdout)
    detective = summary["requesters"][0]
    assert detective["requester"] == "det-4711"
    assert detective["records_disclosed"] > 0
    assert sum(a["fields_released"] for a in detective["agencies"]) > 0
    assert summary["audit"]["verified"] is True

    tests = json.loads(_run([fieldgate, "contract", "test", "--json"], elsewhere, env).stdout)
    assert tests["failed"] == 0
    assert tests["passed"] > 0
    assert all(Path(r["file"]).resolve().is_relative_to(venv.resolve()) for r in tests["results"])

    sample = elsewhere / "sample"
    _run([fieldgate, "sample", str(sample), "--records", "10"], elsewhere, env)
    configs = [sample / f"{node_id}.toml" for node_id in ("kcso", "spd", "pcso")]
    for config in configs:
        node = tomllib.loads(config.read_text(encoding="utf-8"))["node"]
        for key in ("contract", "rego_library"):
            path = Path(node[key])
            assert path.exists(), f"{config}: {key} = {path} does not exist"
            assert path.resolve().is_relative_to(venv.resolve()), f"{config}: {key} = {path}"
