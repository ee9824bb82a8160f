"""``fieldgate contract bundle``: pack a contract and its library into a signed bundle.

The bundle format and its verification live in :mod:`fieldgate.policy.contract_bundle` (the node
loads what this writes). The revision is the contract's ``render`` summary
hash, so the revision an audit entry names is the summary an official read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from fieldgate.authoring.render import render_contract
from fieldgate.authoring.session import ContractSession
from fieldgate.policy.catalog import FieldCatalog
from fieldgate.policy.contract_bundle import Bundle, load_bundle, pack_bundle, verify_bundle
from fieldgate.policy.errors import ContractError


@dataclass(frozen=True)
class BuiltBundle:
    """What ``bundle build`` wrote."""

    path: Path
    revision: str
    files: tuple[str, ...]


def bundle_files(contract_dir: Path, library: Path | None) -> dict[str, bytes]:
    """The bundle's files: the contract directory's ``.rego`` and ``data.json``, and the library.

    Raises:
        ContractError: the contract directory has no contract module.
    """
    files: dict[str, bytes] = {}
    for path in sorted(contract_dir.glob("*.rego")):
        files[f"contract/{path.name}"] = path.read_bytes()
    if (contract_dir / "data.json").is_file():
        files["contract/data.json"] = (contract_dir / "data.json").read_bytes()
    if library is not None:
        for path in sorted(library.rglob("*.rego")):
            files[f"lib/{path.relative_to(library).as_posix()}"] = path.read_bytes()
    if not any(n.endswith(".rego") and not n.endswith("_test.rego") for n in files):
        raise ContractError(f"{contract_dir}: no contract module (.rego) to bundle")
    return files


def contract_module(contract_dir: Path) -> Path:
    """The contract directory's one non-test module.

    Raises:
        ContractError: there is none, or more than one.
    """
    found = [p for p in sorted(contract_dir.glob("*.rego")) if not p.name.endswith("_test.rego")]
    if len(found) != 1:
        raise ContractError(f"{contract_dir}: a bundle holds one contract module, not {len(found)}")
    return found[0]


def build_bundle(
    contract_dir: Path,
    library: Path | None,
    key: Ed25519PrivateKey,
    out: Path,
    catalog: FieldCatalog,
    acknowledged: tuple[str, ...] = (),
) -> BuiltBundle:
    """Check, sign and write a bundle; it is written only if a node would activate it.

    The manifest records ``catalog`` as the one the contract was reviewed with,
    and ``acknowledged``: fields a later catalog may add to a class the contract
    releases without the node refusing the bundle
    (:func:`fieldgate.policy.contract_bundle.refuse_unreviewed_catalog`).

    Raises:
        ContractError: the contract does not compile, or its tests fail
            (a :class:`fieldgate.policy.contract_bundle.BundleError` names which).
    """
    module = contract_module(contract_dir)
    with ContractSession(module, library, catalog) as session:
        revision = render_contract(session).summary_hash
    files = bundle_files(contract_dir, library)
    data = pack_bundle(
        files,
        revision=revision,
        key=key,
        catalog=catalog.classes(),
        catalog_acknowledged=acknowledged,
    )
    load_bundle(data, [key.public_key()], catalog.classes()).close()
    out.write_bytes(data)
    return BuiltBundle(out, revision, tuple(sorted(files)))


def inspect_bundle(path: Path, keys: list[Ed25519PublicKey]) -> Bundle:
    """Verify a bundle's signature and hashes (no compile or tests).

    Raises:
        node.bundle.BundleError: it does not verify.
    """
    return verify_bundle(path.read_bytes(), keys)
