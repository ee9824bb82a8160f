"""Every layered package draws its error tree in ``errors.py``, and the drawing is true.

Each package's ``errors.py`` docstring holds a literal block (after ``::``) in
which every line names one error class, indented under its base::

    FieldgateError                    (fieldgate.core.errors)
    └── NodeError                     root of the node's errors
        └── AuditReadError            (audit.schema) an audit database that cannot be read

A name followed by ``(module)`` is defined in that module (relative to the
package, or absolute); a name without one is defined in the package's own
``errors.py``. The checks: every exception class defined anywhere in the
package is drawn, every drawn name exists where the drawing says, and every
drawn parent is a real base of its child.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import fieldgate
from fieldgate.core.errors import FieldgateError

PACKAGE_ROOT = Path(fieldgate.__file__).resolve().parent
# Every layered package except the wire code (generated) and the CLI (which
# defines no errors of its own: it turns the others into messages). A package
# outside this list that defines an error still needs a tree: see
# test_every_package_that_defines_an_error_has_a_tree.
PACKAGES = (
    "fieldgate.core",
    "fieldgate.trust",
    "fieldgate.ops",
    "fieldgate.matching",
    "fieldgate.policy",
    "fieldgate.node",
    "fieldgate.broker",
    "fieldgate.client",
    "fieldgate.authoring",
    "fieldgate.devkit",
)
_LINE = re.compile(r"^(?P<indent>[\s│├└─]*)(?P<name>[A-Z]\w*)(?:\s+\((?P<module>[\w.]+)\))?")


@dataclass(frozen=True)
class Drawn:
    """One line of a drawn tree."""

    name: str
    module: str
    depth: int
    parent: str | None


def _modules() -> list[str]:
    # node/ and broker/ are linked into the package: walk through the links.
    found = []
    for folder, _, names in os.walk(PACKAGE_ROOT, followlinks=True):
        for name in names:
            if not name.endswith(".py"):
                continue
            relative = (Path(folder) / name).relative_to(PACKAGE_ROOT)
            if relative.parts[0] == "v1":
                continue
            parts = ("fieldgate", *relative.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found.append(".".join(parts))
    return sorted(found)


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def defined_errors() -> dict[str, dict[tuple[str, str], type[BaseException]]]:
    """Per package, every exception class defined in it, keyed by (module, name)."""
    found: dict[str, dict[tuple[str, str], type[BaseException]]] = {}
    for module in _modules():
        if module == "fieldgate":
            continue
        for name, value in vars(importlib.import_module(module)).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module
            ):
                found.setdefault(_package(module), {})[(module, name)] = value
    return found


def parse_tree(package: str, docstring: str) -> list[Drawn]:
    """The lines of the first literal block (after ``::``) of an errors.py docstring."""
    _, marker, rest = docstring.partition("::\n")
    assert marker, f"{package}.errors: its docstring draws no tree (no '::' block)"
    drawn: list[Drawn] = []
    stack: list[tuple[int, str]] = []
    for line in rest.splitlines():
        if not line.strip():
            if drawn:
                break
            continue
        if not line.startswith(" "):
            break
        match = _LINE.match(line)
        assert match, f"{package}.errors: cannot read tree line {line!r}"
        depth = len(match["indent"])
        module = match["module"] or "errors"
        if not module.startswith("fieldgate."):
            module = f"{package}.{module}"
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parent = stack[-1][1] if stack else None
        drawn.append(Drawn(match["name"], module, depth, parent))
        stack.append((depth, match["name"]))
    assert drawn, f"{package}.errors: the tree block is empty"
    return drawn


def _tree(package: str) -> list[Drawn]:
    errors = importlib.import_module(f"{package}.errors")
    return parse_tree(package, errors.__doc__ or "")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_error_of_the_package_is_drawn_where_it_lives(package: str) -> None:
    drawn = {(line.module, line.name) for line in _tree(package)}
    missing = sorted(
        f"{module}.{name}"
        for module, name in defined_errors().get(package, {})
        if (module, name) not in drawn
    )
    assert missing == [], f"{package}.errors does not draw: {missing}"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_drawn_name_exists_under_its_drawn_parent(package: str) -> None:
    wrong = []
    for line in _tree(package):
        value = getattr(importlib.import_module(line.module), line.name, None)
        if not (inspect.isclass(value) and issubclass(value, BaseException)):
            wrong.append(f"{line.name}: no such error in {line.module}")
        elif value.__module__ != line.module:
            wrong.append(f"{line.name}: defined in {value.__module__}, drawn in {line.module}")
        elif line.parent is not None and line.parent not in {b.__name__ for b in value.__bases__}:
            wrong.append(f"{line.name}: drawn under {line.parent}, derives from {value.__bases__}")
    assert wrong == []


def test_every_package_that_defines_an_error_has_a_tree() -> None:
    assert sorted(set(defined_errors()) - set(PACKAGES)) == []


def test_every_error_derives_from_the_fieldgate_root() -> None:
    """A standard base may be added (and said why in the tree), never instead."""
    stray = [
        f"{module}.{name}"
        for errors in defined_errors().values()
        for (module, name), value in errors.items()
        if not issubclass(value, FieldgateError)
    ]
    assert stray == []


def test_the_parser_reads_depth_parent_and_module() -> None:
    """The checker itself: a misplaced class is reported with its drawn parent."""
    drawn = parse_tree(
        "fieldgate.node",
        "Doc.\n\n::\n\n    FieldgateError   (fieldgate.core.errors)\n"
        "    └── NodeError        root\n        ├── A   (audit.x)  why\n"
        "        └── B\n\nMore.\n",
    )
    assert [(d.name, d.module, d.parent) for d in drawn] == [
        ("FieldgateError", "fieldgate.core.errors", None),
        ("NodeError", "fieldgate.node.errors", "FieldgateError"),
        ("A", "fieldgate.node.audit.x", "NodeError"),
        ("B", "fieldgate.node.errors", "NodeError"),
    ]
