"""The one-way layer rule of the ``fieldgate`` package, checked on every module's imports.

Layers, lowest first; a module may import its own layer's package and any
layer below it, never above. Packages that share a layer are siblings and must
not import each other (the node, the broker and the client stand alone)::

    fieldgate.v2                      wire code (generated from proto/)
    fieldgate.core                    errors, vocabulary, names, query, claims, config, tls, logs
    fieldgate.trust                   keys, tokens, trust bundle, verification
    fieldgate.ops                     metrics, health, maintenance endpoints
    fieldgate.matching                person matching and candidate keys
    fieldgate.policy                  the decision path: catalog, records, engines, verdicts
    fieldgate.node | .broker | .client
    fieldgate.authoring | .devkit     contract tools; local federation, demo, sample data
    fieldgate.cli                     the ``fieldgate`` command

Imports inside ``if TYPE_CHECKING:`` count too: a type-only loop is still a loop
a reader has to untangle.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

import fieldgate

PACKAGE_ROOT = Path(fieldgate.__file__).resolve().parent
LAYERS: tuple[tuple[str, ...], ...] = (
    ("fieldgate.v2",),
    ("fieldgate.core",),
    ("fieldgate.trust",),
    ("fieldgate.ops",),
    ("fieldgate.matching",),
    ("fieldgate.policy",),
    ("fieldgate.node", "fieldgate.broker", "fieldgate.client"),
    ("fieldgate.authoring", "fieldgate.devkit", "fieldgate.witness"),
    ("fieldgate.cli",),
)
FORBIDDEN_TOP_LEVEL = ("node", "broker", "rego")


def _modules() -> Iterator[tuple[str, Path]]:
    # node/ and broker/ are linked into the package: walk through the links.
    paths = [
        Path(folder) / name
        for folder, _, names in os.walk(PACKAGE_ROOT, followlinks=True)
        for name in names
        if name.endswith(".py")
    ]
    for path in sorted(paths):
        relative = path.relative_to(PACKAGE_ROOT)
        if relative.parts[0] == "v1":
            continue
        parts = ("fieldgate", *relative.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _imports(path: Path, module: str) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            # ``from fieldgate import cli`` names a package, not an attribute.
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def layer_of(module: str) -> int | None:
    """The index of the layer ``module`` belongs to, or None outside the layered packages."""
    for index, packages in enumerate(LAYERS):
        for package in packages:
            if module == package or module.startswith(package + "."):
                return index
    return None


def package_of(module: str) -> str | None:
    """The layered package ``module`` belongs to (e.g. ``fieldgate.node``)."""
    for packages in LAYERS:
        for package in packages:
            if module == package or module.startswith(package + "."):
                return package
    return None


def violations() -> list[str]:
    """Every import that breaks the layer rule, as ``module:line -> target (why)``."""
    found = []
    for module, path in _modules():
        own_layer, own_package = layer_of(module), package_of(module)
        for line, target in _imports(path, module):
            if target.split(".")[0] in FORBIDDEN_TOP_LEVEL:
                found.append(f"{module}:{line} -> {target} (no top-level {target.split('.')[0]})")
                continue
            target_layer, target_package = layer_of(target), package_of(target)
            if target_layer is None or own_layer is None:
                continue
            if target_layer > own_layer:
                found.append(f"{module}:{line} -> {target} (imports a higher layer)")
            elif target_layer == own_layer and target_package != own_package:
                found.append(f"{module}:{line} -> {target} (imports a sibling package)")
    return found


def test_every_package_module_is_in_a_layer() -> None:
    """A new top-level package must be placed in the rule before it can be used."""
    stray = [
        module for module, _ in _modules() if module != "fieldgate" and layer_of(module) is None
    ]
    assert stray == []


def test_imports_only_go_down_the_layers() -> None:
    assert violations() == []


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: a core module importing the node is reported."""
    path = tmp_path / "bad.py"
    path.write_text("from fieldgate.node.store import RecordStore\nimport node.store\n")
    targets = [target for _, target in _imports(path, "fieldgate.core.bad")]
    assert "fieldgate.node.store" in targets
    assert layer_of("fieldgate.node.store") is not None
    assert layer_of("fieldgate.node.store") > layer_of("fieldgate.core.bad")  # type: ignore[operator]
    assert "node.store" in targets
