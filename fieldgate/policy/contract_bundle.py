"""Signed contract bundles: the format, its verification, and hot reload on a node.

A bundle is a ``.tar.gz`` holding::

    .manifest                 JSON: format, revision, package, contract, files {name: sha256},
                              and optionally catalog {sha256, classes} and catalog_acknowledged
    .signatures.json          {"signatures": [JWS]}: EdDSA over the manifest's SHA-256
    contract/*.rego           the contract, and its own *_test.rego files
    contract/data.json        optional: loaded as data (``data.catalog`` stays the node's)
    lib/**.rego               the shared library it imports (tests included)

The JWS (``typ`` ``fieldgate-bundle+jwt``) carries ``manifest_sha256`` and the
revision; the manifest names the SHA-256 of every other file. A node loads a
bundle only when a signature verifies against one of its ``bundle_keys``, every
file's hash matches, no file is missing or extra, every module compiles and
every one of the bundle's own ``test_`` rules passes, and — when the manifest
names the catalog the contract was reviewed with — the node's own catalog
releases no field through this contract that the reviewed catalog did not
hold in that class, unless the manifest's ``catalog_acknowledged`` lists it
(:mod:`fieldgate.policy.catalog_review`). :class:`BundleWatcher`
re-checks the file on each search and keeps the last good bundle active when a
new one is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
import tarfile
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fieldgate.policy.catalog_review import classes_version, released_changes
from fieldgate.policy.contract_bundle_state import (
    BundleStateError,
    HighWater,
    load_high_water,
    save_high_water,
)
from fieldgate.policy.decision_cache import DEFAULT_DECISION_CACHE_SIZE
from fieldgate.policy.engine import (
    EVALUATION_TIMEOUT_SECONDS,
    ContractEngine,
    MissingContract,
    RegorusContract,
    contract_package,
)
from fieldgate.policy.errors import ContractError
from fieldgate.policy.rego_tests import discover, run_suite

log = logging.getLogger("fieldgate.node")

BUNDLE_TYPE = "fieldgate-bundle+jwt"
MANIFEST = ".manifest"
SIGNATURES = ".signatures.json"
FORMAT = 1
MAX_BUNDLE_BYTES = 16 * 1024 * 1024
"""Largest bundle (uncompressed content) a node reads."""

REJECT_REASONS = ("unreadable", "signature", "hash", "compile", "tests", "rollback", "catalog")
"""Why a bundle is refused (the ``reason`` label of ``fieldgate_node_bundle_rejected_total``)."""

_MEMBER = re.compile(r"^(?:contract/[\w.-]+\.(?:rego|json)|lib/(?:[\w.-]+/)*[\w.-]+\.rego)$")


class BundleError(ContractError):
    """A bundle that must not be activated, and why (one of :data:`REJECT_REASONS`)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Bundle:
    """A verified bundle's content."""

    revision: str
    package: str
    contract: str
    """The contract module's name inside the bundle, e.g. ``contract/contract.rego``."""
    files: Mapping[str, bytes]
    signed_at: int = 0
    """When the bundle was signed (the signature's ``iat``, seconds since the epoch)."""
    reviewed_catalog: Mapping[str, str] | None = None
    """Field → class of the catalog the contract was reviewed with; None when not named."""
    catalog_acknowledged: frozenset[str] = frozenset()
    """Fields the signer acknowledges a catalog change releases through this contract."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack_bundle(
    files: Mapping[str, bytes],
    *,
    revision: str,
    key: Ed25519PrivateKey,
    now: dt.datetime | None = None,
    catalog: Mapping[str, str] | None = None,
    catalog_acknowledged: Sequence[str] = (),
) -> bytes:
    """Sign and pack ``files`` (bundle-relative names) into a bundle's bytes.

    Args:
        catalog: field → class of the catalog the contract was reviewed with,
            recorded in the manifest; a node whose catalog releases more through
            the contract refuses the bundle. None records none (no check).
        catalog_acknowledged: fields a catalog change releases that the signer
            has reviewed and accepts (``fieldgate contract bundle --acknowledge``).

    Raises:
        BundleError: a name is not allowed, or there is not exactly one contract module.
    """
    for name in files:
        if not _MEMBER.match(name) or ".." in name.split("/"):
            raise BundleError("unreadable", f"{name!r} cannot go in a bundle")
    contracts = [
        n
        for n in files
        if n.startswith("contract/") and n.endswith(".rego") and not n.endswith("_test.rego")
    ]
    if len(contracts) != 1:
        raise BundleError("compile", f"a bundle holds one contract module, not {len(contracts)}")
    package = contract_package(files[contracts[0]].decode("utf-8", "replace")) or ""
    created = now or dt.datetime.now(dt.UTC)
    manifest = json.dumps(
        {
            "format": FORMAT,
            "revision": revision,
            "package": package,
            "contract": contracts[0],
            "created": created.isoformat(),
            "files": {name: _sha256(files[name]) for name in sorted(files)},
            **(
                {
                    "catalog": {"sha256": classes_version(catalog), "classes": dict(catalog)},
                    "catalog_acknowledged": sorted(set(catalog_acknowledged)),
                }
                if catalog is not None
                else {}
            ),
        },
        indent=2,
        sort_keys=True,
    ).encode()
    token = jwt.encode(
        {
            "manifest_sha256": _sha256(manifest),
            "revision": revision,
            "iat": int(created.timestamp()),
        },
        key,
        algorithm="EdDSA",
        headers={"typ": BUNDLE_TYPE},
    )
    signatures = json.dumps({"signatures": [token]}, indent=2).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in [(MANIFEST, manifest), (SIGNATURES, signatures), *sorted(files.items())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(created.timestamp())
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _read_members(data: bytes) -> dict[str, bytes]:
    members: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for info in tar:
                if not info.isfile():
                    raise BundleError("unreadable", f"{info.name!r} is not a regular file")
                name = info.name.removeprefix("./")
                if name in members:
                    raise BundleError("unreadable", f"{name!r} appears twice")
                total += info.size
                if total > MAX_BUNDLE_BYTES:
                    raise BundleError("unreadable", "larger than a bundle may be")
                handle = tar.extractfile(info)
                assert handle is not None  # a regular file
                members[name] = handle.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BundleError("unreadable", f"not a bundle (tar.gz): {exc}") from None
    return members


def _verify_signature(signatures: bytes, keys: Sequence[Ed25519PublicKey]) -> dict[str, Any]:
    try:
        tokens = json.loads(signatures)["signatures"]
        if not isinstance(tokens, list):
            raise TypeError("signatures is not a list")
    except (ValueError, TypeError, KeyError) as exc:
        raise BundleError("signature", f"unreadable {SIGNATURES}: {exc}") from None
    for token in tokens:
        if not isinstance(token, str):
            continue
        try:
            if jwt.get_unverified_header(token).get("typ") != BUNDLE_TYPE:
                continue
        except jwt.PyJWTError:
            continue
        for key in keys:
            try:
                claims: dict[str, Any] = jwt.decode(
                    token, key, algorithms=["EdDSA"], options={"require": ["manifest_sha256"]}
                )
            except jwt.PyJWTError:
                continue
            return claims
    raise BundleError("signature", "no signature verifies against a trusted bundle key")


def verify_bundle(data: bytes, keys: Sequence[Ed25519PublicKey]) -> Bundle:
    """Check a bundle's signature and hashes and return its content.

    Raises:
        BundleError: the bundle is unreadable, unsigned by a trusted key, or altered.
    """
    members = _read_members(data)
    if MANIFEST not in members or SIGNATURES not in members:
        raise BundleError("unreadable", f"no {MANIFEST} or {SIGNATURES}")
    claims = _verify_signature(members.pop(SIGNATURES), keys)
    manifest_bytes = members.pop(MANIFEST)
    if claims["manifest_sha256"] != _sha256(manifest_bytes):
        raise BundleError("hash", "the manifest is not the one signed")
    manifest = json.loads(manifest_bytes)
    listed = manifest.get("files")
    if not isinstance(listed, dict) or manifest.get("format") != FORMAT:
        raise BundleError("unreadable", "manifest has no files or an unknown format")
    if set(listed) != set(members):
        extra = sorted(set(members) - set(listed))
        missing = sorted(set(listed) - set(members))
        raise BundleError(
            "hash", f"files differ from the manifest: extra {extra}, missing {missing}"
        )
    for name, data_bytes in members.items():
        if not _MEMBER.match(name) or ".." in name.split("/"):
            raise BundleError("unreadable", f"{name!r} cannot be in a bundle")
        if listed[name] != _sha256(data_bytes):
            raise BundleError("hash", f"{name}: SHA-256 does not match the manifest")
    contract = manifest.get("contract")
    if contract not in members:
        raise BundleError("unreadable", "the manifest names no contract in the bundle")
    signed_at = claims.get("iat", 0)
    reviewed, acknowledged = _manifest_catalog(manifest)
    return Bundle(
        str(manifest["revision"]),
        str(manifest.get("package", "")),
        contract,
        members,
        signed_at if isinstance(signed_at, int) else 0,
        reviewed,
        acknowledged,
    )


def _manifest_catalog(manifest: Mapping[str, Any]) -> tuple[dict[str, str] | None, frozenset[str]]:
    """The manifest's reviewed catalog and acknowledged fields (a wrong shape is unreadable)."""
    acknowledged = manifest.get("catalog_acknowledged", [])
    if not isinstance(acknowledged, list) or not all(isinstance(a, str) for a in acknowledged):
        raise BundleError("unreadable", "manifest catalog_acknowledged is not a list of fields")
    if "catalog" not in manifest:
        return None, frozenset(acknowledged)
    catalog = manifest["catalog"]
    classes = catalog.get("classes") if isinstance(catalog, dict) else None
    if not isinstance(classes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in classes.items()
    ):
        raise BundleError("unreadable", "manifest catalog has no classes {field: class}")
    if catalog.get("sha256") != classes_version(classes):
        raise BundleError("hash", "manifest catalog's sha256 does not match its classes")
    return dict(classes), frozenset(acknowledged)


def refuse_unreviewed_catalog(
    bundle: Bundle, engine: ContractEngine, catalog_classes: Mapping[str, str]
) -> None:
    """Refuse a bundle whose contract the node's catalog makes release unreviewed fields.

    Raises:
        BundleError: with reason ``catalog``, naming each field, its class
            change and how to acknowledge it.
    """
    if bundle.reviewed_catalog is None:
        return
    released = released_changes(engine, bundle.reviewed_catalog, catalog_classes)
    unreviewed = {n: c for n, c in released.items() if n not in bundle.catalog_acknowledged}
    if not unreviewed:
        return
    listed = ", ".join(
        f"{name} ({old or 'new'} -> {new})" for name, (old, new) in sorted(unreviewed.items())
    )
    raise BundleError(
        "catalog",
        f"the node's catalog releases through this contract fields the bundle was not "
        f"reviewed with: {listed}; review the change (fieldgate contract diff --old-catalog "
        f"--new-catalog) and rebuild the bundle with the new catalog or acknowledge them "
        f"(fieldgate contract bundle --acknowledge FIELD)",
    )


def refuse_rollback(bundle: Bundle, not_signed_before: int) -> None:
    """Refuse a bundle signed before the newest one already activated (a rollback).

    Raises:
        BundleError: with reason ``rollback``.
    """
    if bundle.signed_at < not_signed_before:
        raise BundleError(
            "rollback",
            f"signed at {bundle.signed_at}, before the bundle already activated "
            f"({not_signed_before}): an older bundle cannot replace a newer one",
        )


def load_bundle(
    data: bytes,
    keys: Sequence[Ed25519PublicKey],
    catalog_classes: Mapping[str, str],
    *,
    timeout: float = EVALUATION_TIMEOUT_SECONDS,
    not_signed_before: int = 0,
) -> RegorusContract:
    """Verify, compile and test a bundle; return its engine, reporting the bundle's revision.

    Args:
        not_signed_before: refuse a bundle signed before this time (seconds since
            the epoch): an older, validly signed bundle put back in place of a
            newer one is a rollback, not an update.

    Raises:
        BundleError: the bundle must not be activated (:data:`REJECT_REASONS`).
    """
    bundle = verify_bundle(data, keys)
    refuse_rollback(bundle, not_signed_before)
    return activate_bundle(bundle, catalog_classes, timeout=timeout)


def activate_bundle(
    bundle: Bundle,
    catalog_classes: Mapping[str, str],
    *,
    timeout: float = EVALUATION_TIMEOUT_SECONDS,
) -> RegorusContract:
    """Compile and test an already verified bundle; return its engine.

    Raises:
        BundleError: it does not compile or its own tests fail.
    """
    with tempfile.TemporaryDirectory(prefix="fieldgate-bundle-") as tmp:
        root = Path(tmp)
        for name, content in bundle.files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        lib = root / "lib"
        extra: dict[str, Any] = {}
        if "contract/data.json" in bundle.files:
            try:
                extra = dict(json.loads(bundle.files["contract/data.json"]))
            except (ValueError, TypeError) as exc:
                raise BundleError("compile", f"contract/data.json: {exc}") from None
        try:
            engine = RegorusContract(
                root / bundle.contract,
                lib if lib.is_dir() else None,
                catalog_classes,
                timeout=timeout,
                version=bundle.revision,
                data=extra,
                cache_size=DEFAULT_DECISION_CACHE_SIZE,
            )
        except ContractError as exc:
            raise BundleError("compile", str(exc).replace(f"{root}/", "")) from None
        try:
            _run_tests(root, lib)
            refuse_unreviewed_catalog(bundle, engine, catalog_classes)
        except BundleError:
            engine.close()
            raise
    return engine


def _run_tests(root: Path, lib: Path) -> None:
    failures: list[str] = []
    for suite in discover(root, lib=lib if lib.is_dir() else None):
        for result in run_suite(suite).results:
            if result.outcome in ("passed", "skipped"):
                continue
            where = result.file.replace(f"{root}/", "")
            text = f"{where}:{result.line} {result.name}: {result.message.replace(f'{root}/', '')}"
            if result.name == "<load>":
                raise BundleError("compile", text)
            failures.append(text)
    if failures:
        raise BundleError("tests", f"{len(failures)} test(s) failed: " + "; ".join(failures[:5]))


class BundleWatcher:
    """The node's bundle file: loaded at start, re-checked on each search, swapped when good.

    :meth:`poll` is cheap when the file is unchanged (one ``stat``). When its
    size, mtime or inode changed, the new bundle is verified, compiled and
    tested; a good one is returned for the node to activate, a bad one is
    logged, counted through ``on_reject`` and remembered so it is not retried
    until the file changes again.
    """

    def __init__(
        self,
        path: Path,
        keys: Sequence[Ed25519PublicKey],
        catalog_classes: Mapping[str, str],
        *,
        timeout: float = EVALUATION_TIMEOUT_SECONDS,
        on_reject: Callable[[str], None] | None = None,
        state: Path | None = None,
    ) -> None:
        """Watch ``path``.

        Args:
            path: the bundle file.
            keys: public keys trusted to sign bundles.
            catalog_classes: the node's catalog (field → class), as ``data.catalog``.
            timeout: longest one evaluation may take.
            on_reject: called with the reason of every refused bundle (a metric).
            state: the file that keeps the rollback high-water mark across
                restarts (:mod:`fieldgate.policy.contract_bundle_state`); None keeps
                it in memory only.
        """
        self.path = path
        self._keys = tuple(keys)
        self._classes = dict(catalog_classes)
        self._timeout = timeout
        self._on_reject = on_reject
        self._seen: tuple[int, int, int] | None = None
        # The newest signing time activated (recorded in ``state`` across restarts):
        # older bundles are rollbacks.
        self._high_water = 0
        self._state = state
        self._state_error = ""
        self._active = False
        if state is not None:
            self._recall(state)
        self._lock = threading.Lock()
        self.last_error = ""

    def _recall(self, state: Path) -> None:
        try:
            mark = load_high_water(state)
        except BundleStateError as exc:
            self._state_error = (
                f"{exc}; every bundle is refused until it is repaired, or removed by an "
                "operator who means to allow a roll back (fieldgate node bundle-state --reset)"
            )
            return
        if mark is None:
            log.warning(
                "no bundle rollback state at %s: any validly signed bundle is accepted "
                "(the node's first start with a bundle, or an operator removed it to roll back)",
                state,
            )
            return
        self._high_water = mark.signed_at
        log.info(
            "bundle rollback state %s: no bundle signed before %s (revision %s) is accepted",
            state,
            mark.signed_at,
            mark.revision[:12],
        )

    def _record(self, bundle: Bundle) -> None:
        """Keep the new high-water mark on disk; a failure is logged, the bundle stays active."""
        if self._state is None or bundle.signed_at < self._high_water:
            return
        try:
            save_high_water(
                self._state, HighWater(bundle.signed_at, bundle.revision, str(self.path))
            )
        except BundleStateError as exc:
            log.error("%s: a restarted node could accept an older bundle", exc)

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def initial(self) -> ContractEngine:
        """Load the bundle at start: its engine, or a :class:`MissingContract` saying why not."""
        with self._lock:
            engine = self._load(self._stat())
        return engine if engine is not None else MissingContract(self.last_error)

    def poll(
        self, activate: Callable[[ContractEngine], None] | None = None
    ) -> ContractEngine | None:
        """A newly activated engine when the file changed and the new bundle is good, else None.

        ``activate`` is called with the new engine before the watcher lets go of
        its lock, so two reloads can never swap their engines in the wrong
        order (an older bundle replacing a newer one). Concurrent callers do
        not wait: while one loads, the others keep the active contract.
        """
        if not self._lock.acquire(blocking=False):
            return None
        try:
            stat = self._stat()
            if stat is None or stat == self._seen:
                return None
            engine = self._load(stat)
            if engine is not None and activate is not None:
                activate(engine)
            return engine
        finally:
            self._lock.release()

    def _load(self, stat: tuple[int, int, int] | None) -> ContractEngine | None:
        self._seen = stat
        try:
            try:
                data = self.path.read_bytes()
            except OSError as exc:
                raise BundleError("unreadable", f"cannot read: {exc.strerror}") from None
            if self._state_error:
                raise BundleError("unreadable", self._state_error)
            try:
                bundle = verify_bundle(data, self._keys)
                refuse_rollback(bundle, self._high_water)
                engine = activate_bundle(bundle, self._classes, timeout=self._timeout)
            except BundleError:
                raise
            except Exception as exc:  # anything unforeseen refuses the bundle, never the node
                raise BundleError("unreadable", f"could not be loaded: {exc}") from exc
        except BundleError as exc:
            self.last_error = f"bundle {self.path} refused ({exc.reason}): {exc}"
            if self._active:
                log.error("%s; the last good contract stays active", self.last_error)
            else:
                log.error("%s; the node has no contract and releases nothing", self.last_error)
            if self._on_reject is not None:
                self._on_reject(exc.reason)
            return None
        self._record(bundle)
        self._high_water = max(self._high_water, bundle.signed_at)
        self._active = True
        log.info("bundle %s activated: %s revision %s", self.path, engine.name, engine.version)
        return engine
