"""The Rego shipped inside the package: library, contracts, personas, examples.

Found with :mod:`importlib.resources`, so the paths are right for a wheel
install, an editable checkout and a container image alike — never by walking
up from ``__file__``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fieldgate.policy.errors import ContractError


def rego_root() -> Path:
    """The shipped Rego root (``contracts/``, ``lib/``, ``personas/``, ``examples/``)."""
    root = resources.files("fieldgate").joinpath("rego")
    if not isinstance(root, Path) or not root.is_dir():
        # A zipped install cannot hand Rego files to the engine by path.
        raise ContractError(f"the shipped Rego is not installed as files (looked in {root})")
    return root


def rego_library() -> Path:
    """The shared Rego library every shipped contract imports (``lib/``)."""
    return rego_root() / "lib"


def shipped_contract(name: str) -> Path:
    """Path of a shipped contract, e.g. ``sanctuary_county``.

    Raises:
        ContractError: no shipped contract has that name.
    """
    path = rego_root() / "contracts" / name / "contract.rego"
    if not path.is_file():
        known = ", ".join(sorted(shipped_contract_names()))
        raise ContractError(f"no shipped contract named {name!r} (shipped: {known})")
    return path


def shipped_contract_names() -> list[str]:
    """Names of the shipped contracts (directories under ``contracts/``)."""
    return sorted(p.name for p in (rego_root() / "contracts").iterdir() if p.is_dir())


def personas_dir() -> Path:
    """The shipped example requesters (``personas/*.json``)."""
    return rego_root() / "personas"


def examples_dir() -> Path:
    """The shipped example records (``examples/*.json``)."""
    return rego_root() / "examples"


def standard_catalog_path() -> Path:
    """The standard field catalog shipped with the package."""
    path = resources.files("fieldgate.policy").joinpath("catalogs", "standard.toml")
    if not isinstance(path, Path):
        raise ContractError(f"the standard catalog is not installed as a file ({path})")
    return path
