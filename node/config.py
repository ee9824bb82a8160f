"""A node's configuration: one TOML file with a ``[node]`` table.

Example::

    [node]
    id = "kcso"
    agency_name = "King County Sheriff's Office"
    listen = "127.0.0.1:50061"
    database = "kcso.sqlite"
    catalog = "catalog.toml"          # optional: the shipped standard catalog
    contract = "../rego/contracts/sanctuary_county/contract.rego"
    rego_library = "../rego/lib"      # optional
    max_hits = 25
    digest_key = "/run/secrets/fieldgate-digest.key"  # optional; see fieldgate.core.digests

    [node.tls]                        # mutual TLS; see fieldgate.core.tls
    ca = "ca.pem"
    cert = "kcso.pem"
    key = "kcso.key"
    allowed_clients = ["broker"]      # certificate names that may call this node

    [node.trust]                      # see fieldgate.trust.config
    bundle = "trust.json"
    revocations = "revocations.json"
    answer_key = "kcso-answer.pem"    # Ed25519: signs every answer (its public
                                      # half goes in the bundle's `nodes[].jwk`)
    enc_key = "kcso-enc.pem"          # X25519: opens the queries sealed to this node
                                      # (its public half is the bundle's `nodes[].enc`)

    [node.audit]                      # optional; see fieldgate.node.audit.config
    retention_days = 2555

    [node.policy]                     # optional; see fieldgate.policy.config
    engine = "embedded"               # or "opa", with url and timeout_seconds
    # bundle = "x.bundle.tar.gz"      # a signed bundle instead of `contract`, with
    # bundle_keys = ["policy.pub.pem"] #   its trusted keys; see fieldgate.policy.contract_bundle
    # decision_log = "decisions.jsonl" # OPA-shaped decision log; see fieldgate.policy.decision_log

    [node.contact]
    unit = "Records Unit"
    phone = "206-555-0100"

    [node.metrics]                    # optional; Prometheus text on http://host:port/metrics
    listen = "127.0.0.1:9101"         # person-blind series: the federation's Prometheus
    private_listen = "127.0.0.1:9103" # optional; per-record series: the agency's own only

    [node.limits]                     # optional; see node.limits (defaults shown)
    requester_per_minute = 600
    agency_per_minute = 6000
    window_seconds = 3600
    sweep_max_persons = 2000
    poll_max_repeats = 60

    [node.timing]                     # optional; see node.answer_timing
    answer_floor_ms = 100             # every answer leaves this long after receipt

    [node.maintenance]                # optional; plaintext gRPC health (and reflection)
    listen = "127.0.0.1:9102"
    reflection = false

    [node.sync]                       # optional; see node.sync_config

Relative paths resolve against the config file's directory. Overrides come
from ``FIELDGATE_NODE__<KEY>`` variables (see :mod:`fieldgate.core.config`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fieldgate.core.config import ConfigError, Section, read_toml
from fieldgate.core.query import HARD_MAX_HITS
from fieldgate.core.tls import TLSFiles, tls_files
from fieldgate.node.answer_timing import AnswerTimingConfig, timing_config
from fieldgate.node.audit.config import AuditConfig, audit_config
from fieldgate.node.audit_budget import AuditBudgetConfig, audit_budget_config
from fieldgate.node.limits import NodeLimitsConfig, node_limits_config
from fieldgate.node.sync_config import SyncConfig, sync_config
from fieldgate.ops.endpoints import (
    MaintenanceConfig,
    MetricsConfig,
    maintenance_config,
    metrics_config,
    read_log_format,
)
from fieldgate.ops.server_options import (
    NODE_SERVER_LIMITS,
    ServerLimitsConfig,
    server_limits_config,
)
from fieldgate.policy.catalog import default_catalog_path
from fieldgate.policy.config import PolicyConfig, policy_config
from fieldgate.trust.config import TrustConfig, trust_config


@dataclass(frozen=True)
class NodeConfig:
    """Settings of one agency node."""

    node_id: str
    """Short identifier of the agency, e.g. ``kcso``; appears in every answer."""
    agency_name: str
    """Display name of the agency."""
    listen: str
    """``host:port`` the gRPC service listens on (port 0 picks a free one)."""
    database: Path
    """The node's SQLite file."""
    catalog: Path
    """The agency's field catalog (TOML)."""
    contract: Path | None
    """The agency's Rego contract; None means no contract, so nothing is released."""
    rego_library: Path | None
    """Directory of shared Rego modules the contract imports."""
    contact_unit: str
    """Unit named in pointer answers when a record names none."""
    contact_phone: str
    """Phone number named in pointer answers when a record names none."""
    max_hits: int = 25
    """Most hits in one answer, whatever the query asks."""
    trust: TrustConfig | None = None
    """Trust bundle and revocation list; None only when ``insecure``."""
    answer_key: Path | None = None
    """Ed25519 key this node signs its answers with (``[node.trust] answer_key``)."""
    enc_key: Path | None = None
    """X25519 key that opens the queries sealed to this node (``[node.trust] enc_key``);
    without it a verifying node can open no query and answers every search as absent."""
    insecure: bool = False
    """Development only: allow no trust bundle (claims taken as stated) and plaintext."""
    tls: TLSFiles | None = None
    """mTLS files; None only when ``insecure``."""
    allowed_clients: tuple[str, ...] = ()
    """Certificate common names allowed to call (the federation's brokers)."""
    audit: AuditConfig | None = None
    """The audit log (``[node.audit]``); None: see
    :func:`fieldgate.node.audit.config.default_audit_config`."""
    metrics: MetricsConfig | None = None
    """Prometheus endpoint (``[node.metrics]``); None serves none."""
    maintenance: MaintenanceConfig | None = None
    """Health and reflection port (``[node.maintenance]``); None opens none."""
    log_format: str = "text"
    """``text`` or ``json`` (one object per line); ``--log-format`` overrides it."""
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    """Which policy engine decides (``[node.policy]``): embedded regorus or an OPA server."""
    sync: SyncConfig | None = None
    """Where ``fieldgate node sync`` reads records from (``[node.sync]``); None: nowhere."""
    server: ServerLimitsConfig = NODE_SERVER_LIMITS
    """What one connection may cost before it is trusted (``[node.server]``)."""
    audit_budget: AuditBudgetConfig = field(default_factory=AuditBudgetConfig)
    """Audit bytes one requester and one agency may cause (``[node.audit_budget]``)."""
    timing: AnswerTimingConfig = field(default_factory=AnswerTimingConfig)
    """When answers leave (``[node.timing]``): a fixed time after receipt."""
    limits: NodeLimitsConfig = field(default_factory=NodeLimitsConfig)
    """The node's own abuse limits (``[node.limits]``), kept beside the store."""
    digest_key: Path | None = None
    """The deployment's digest key (``node.digest_key``), kept apart from the logs;
    None: beside the database (:func:`fieldgate.core.digests.default_digest_key_path`)."""


def _trust_settings(node: Section) -> dict[str, Any]:
    if not node.has("trust"):
        return {"trust": None}
    section = node.section("trust")
    # The answer key is the node's own; the rest of the table is shared with brokers.
    answer_key = section.optional_path("answer_key")
    enc_key = section.optional_path("enc_key")
    return {"trust": trust_config(section), "answer_key": answer_key, "enc_key": enc_key}


def _tls_settings(node: Section) -> dict[str, Any]:
    if not node.has("tls"):
        return {}
    section = node.section("tls")
    files = tls_files(section)
    allowed = section.string_list("allowed_clients")
    section.finish()
    return {"tls": files, "allowed_clients": allowed}


def node_config_from_document(document: Mapping[str, Any], base: Path) -> NodeConfig:
    """Build and validate a :class:`NodeConfig` from a parsed document.

    Raises:
        fieldgate.core.config.ConfigError: naming the bad key.
    """
    root = Section(document, "", base)
    node = root.section("node")
    contact = node.section("contact")
    config = NodeConfig(
        node_id=node.string("id"),
        agency_name=node.string("agency_name"),
        listen=node.address("listen", "127.0.0.1:0"),
        database=node.path("database"),
        catalog=node.path("catalog", str(default_catalog_path())),
        contract=node.optional_path("contract"),
        rego_library=node.optional_path("rego_library"),
        contact_unit=contact.string("unit"),
        contact_phone=contact.string("phone"),
        max_hits=min(node.integer("max_hits", 25, minimum=1), HARD_MAX_HITS),
        **_trust_settings(node),
        insecure=node.boolean("insecure", False),
        audit=audit_config(node.section("audit", required=False), node.path("database")),
        metrics=metrics_config(node, private=True),
        maintenance=maintenance_config(node),
        log_format=read_log_format(node, "node"),
        policy=policy_config(node.section("policy", required=False)),
        sync=sync_config(node),
        server=server_limits_config(node.section("server", required=False), NODE_SERVER_LIMITS),
        audit_budget=audit_budget_config(node.section("audit_budget", required=False)),
        timing=timing_config(node),
        digest_key=node.optional_path("digest_key"),
        limits=node_limits_config(node),
        **_tls_settings(node),
    )
    if config.contract is not None and config.policy.bundle is not None:
        raise ConfigError(
            "node.policy.bundle", "and node.contract are alternatives: set one of them"
        )
    if config.tls is None and not config.insecure:
        raise ConfigError(
            "node.tls",
            "is required: brokers reach nodes over mutual TLS "
            "(set node.insecure = true only for development)",
        )
    if config.trust is None and not config.insecure:
        raise ConfigError(
            "node.trust",
            "is required: a node verifies every requester against its trust bundle "
            "(set node.insecure = true only for development)",
        )
    contact.finish()
    node.finish()
    root.finish()
    return config


def load_node_config(path: Path, env: Mapping[str, str]) -> NodeConfig:
    """Read a node's config file with ``FIELDGATE_NODE__*`` overrides from ``env``."""
    document = read_toml(path, env=env, table="node")
    return node_config_from_document(document, path.resolve().parent)
