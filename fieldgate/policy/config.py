"""``[node.policy]``: which policy engine decides, and loading it.

Example::

    [node.policy]
    engine = "opa"                    # "embedded" (default) or "opa"
    url = "http://127.0.0.1:8181"     # the OPA sidecar; required for "opa"
    timeout_seconds = 1.0             # one evaluation, in all; default 2

    [node.policy]                     # or: a signed bundle instead of node.contract
    bundle = "sanctuary.bundle.tar.gz"        # see contract_bundle; reloaded when it changes
    bundle_keys = ["policy-key.pub.pem"]      # Ed25519 public keys trusted to sign it
    decision_log = "decisions.jsonl"          # optional: OPA-shaped decision log lines

With ``engine = "embedded"`` (or no ``[node.policy]`` at all) the node runs the
contract in process (:class:`fieldgate.policy.engine.RegorusContract`). With ``"opa"`` it
asks an OPA server (:class:`fieldgate.policy.engine_opa.OpaContract`) that has the same
contract loaded. Either way, a contract that cannot be loaded leaves the node
serving and releasing nothing (:class:`fieldgate.policy.engine.MissingContract`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fieldgate.core.config import ConfigError, Section
from fieldgate.policy.decision_cache import DEFAULT_DECISION_CACHE_SIZE
from fieldgate.policy.engine import (
    EVALUATION_TIMEOUT_SECONDS,
    ContractEngine,
    MissingContract,
    RegorusContract,
)
from fieldgate.policy.engine_opa import load_opa_contract, parse_opa_url
from fieldgate.policy.errors import ContractError
from fieldgate.trust.keys import KeyFileError, load_public_key

ENGINES = ("embedded", "opa")
"""Policy engines a node can use."""


@dataclass(frozen=True)
class PolicyConfig:
    """Settings of ``[node.policy]``."""

    engine: str = "embedded"
    """``embedded`` (regorus, in process) or ``opa`` (an OPA server)."""
    url: str = ""
    """The OPA server's base URL (``opa`` only)."""
    timeout_seconds: float = EVALUATION_TIMEOUT_SECONDS
    """Longest one evaluation may take before the record is withheld."""
    bundle: Path | None = None
    """A signed contract bundle (embedded engine only), used instead of ``node.contract``."""
    bundle_keys: tuple[Path, ...] = ()
    """Public keys (PEM) trusted to sign bundles; required with ``bundle``."""
    decision_log: Path | None = None
    """Where to append decision-log lines (:mod:`fieldgate.policy.decision_log`), if anywhere."""


def policy_config(section: Section) -> PolicyConfig:
    """Read ``[node.policy]``.

    Raises:
        fieldgate.core.config.ConfigError: naming the bad key.
    """
    engine = section.string("engine", "embedded")
    if engine not in ENGINES:
        raise ConfigError("node.policy.engine", f"is {engine!r}; use one of {', '.join(ENGINES)}")
    url = section.string("url") if section.has("url") else ""
    if engine == "opa":
        if not url:
            raise ConfigError("node.policy.url", 'is required with engine = "opa"')
        try:
            parse_opa_url(url)
        except ContractError as exc:
            raise ConfigError("node.policy.url", str(exc)) from exc
    timeout = section.number("timeout_seconds", EVALUATION_TIMEOUT_SECONDS, minimum=0.001)
    bundle = section.optional_path("bundle")
    keys: tuple[Path, ...] = ()
    if bundle is not None:
        if engine != "embedded":
            raise ConfigError("node.policy.bundle", 'is for engine = "embedded" only')
        keys = section.path_list("bundle_keys")
        for key in keys:
            try:
                load_public_key(key)
            except KeyFileError as exc:
                raise ConfigError("node.policy.bundle_keys", str(exc)) from exc
    elif section.has("bundle_keys"):
        raise ConfigError("node.policy.bundle_keys", "needs node.policy.bundle")
    decision_log = section.optional_path("decision_log")
    section.finish()
    return PolicyConfig(engine, url, timeout, bundle, keys, decision_log)


def load_policy_engine(
    policy: PolicyConfig,
    contract_path: Path | None,
    library: Path | None,
    catalog_classes: Mapping[str, str],
) -> ContractEngine:
    """The node's policy engine, or a :class:`MissingContract` saying why there is none.

    Never raises: a node without a usable contract still serves and releases nothing.
    """
    if contract_path is None:
        return MissingContract("no contract configured")
    try:
        if policy.engine == "opa":
            return load_opa_contract(contract_path, policy.url, timeout=policy.timeout_seconds)
        return RegorusContract(
            contract_path,
            library,
            catalog_classes,
            timeout=policy.timeout_seconds,
            cache_size=DEFAULT_DECISION_CACHE_SIZE,
        )
    except ContractError as exc:
        return MissingContract(str(exc))
