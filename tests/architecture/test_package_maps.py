"""Each package's ``__init__`` docstring maps its modules, and names only modules that exist.

A newcomer reads a package's ``__init__`` to find where things live; a module
missing from the map, or a map naming a module that moved, sends them astray.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

import pytest

import fieldgate

PACKAGE_ROOT = Path(fieldgate.__file__).resolve().parent
# The layered packages (the CLI's map follows its command tree and is kept with it).
PACKAGES = (
    "fieldgate.core",
    "fieldgate.trust",
    "fieldgate.ops",
    "fieldgate.matching",
    "fieldgate.policy",
    "fieldgate.node",
    "fieldgate.node.audit",
    "fieldgate.broker",
    "fieldgate.client",
    "fieldgate.authoring",
    "fieldgate.devkit",
)
_MOD = re.compile(r":mod:`~?(fieldgate(?:\.\w+)+)`")


def _docstring(package: str) -> str:
    return importlib.import_module(package).__doc__ or ""


def _members(package: str) -> set[str]:
    """The modules and subpackages directly inside ``package`` (links followed)."""
    folder = PACKAGE_ROOT.joinpath(*package.split(".")[1:])
    found = set()
    for path in folder.iterdir():
        if path.suffix == ".py" and path.stem != "__init__":
            found.add(f"{package}.{path.stem}")
        elif path.is_dir() and (path / "__init__.py").is_file():
            found.add(f"{package}.{path.name}")
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_the_init_docstring_names_every_module(package: str) -> None:
    assert "TODO" not in _docstring(package)
    named = set(_MOD.findall(_docstring(package)))
    assert sorted(_members(package) - named) == []


@pytest.mark.parametrize("package", [*PACKAGES, "fieldgate"])
def test_every_module_the_docstring_names_exists(package: str) -> None:
    missing = [
        name for name in _MOD.findall(_docstring(package)) if importlib.util.find_spec(name) is None
    ]
    assert missing == []
