"""The broker's configuration: one TOML file with ``[broker]`` and its nodes.

The nodes come either from the signed trust directory (``[broker.directory]``:
every node the federation's trust bundle lists, at an address made from a
template — no per-node configuration, picked up again whenever the bundle is
refreshed; see :mod:`fieldgate.broker.directory` and docs/deployment.md) or,
for small setups and tests, from hand-written ``[[nodes]]`` entries (below).

Example::

    [broker]
    listen = "127.0.0.1:50051"
    default_deadline_seconds = 3.0
    max_deadline_seconds = 10.0
    node_deadline_ms = 2000           # optional; each node call's own deadline (straggler cut-off)

    [broker.tls]                      # mutual TLS to investigators and nodes
    ca = "ca.pem"
    cert = "broker.pem"
    key = "broker.key"

    [broker.trust]                    # see fieldgate.trust.config
    bundle = "trust.json"
    revocations = "revocations.json"

    [broker.metrics]                  # optional; Prometheus text on http://host:port/metrics
    listen = "127.0.0.1:9201"

    [broker.limits]                   # optional; abuse limits (see broker.limits)
    requester_rate = 10.0             # searches/s per requester, after a burst of
    requester_burst = 200
    agency_rate = 100.0
    agency_burst = 2000
    requester_concurrency = 16
    global_concurrency = 512
    sweep_window_seconds = 3600       # distinct persons per requester in this window,
    sweep_max_distinct = 2000         # at most this many

    [broker.maintenance]              # optional; plaintext gRPC health (and reflection)
    listen = "127.0.0.1:9202"
    reflection = false

    [broker.fanout]                   # optional; connections at federation scale
    max_unary_audience = 64           # larger searches must use SearchStream (at most 64)
    channel_idle_seconds = 300        # close a node's channel unused this long
    connect_at_start = false          # true: connect to every node in the background

    # Either the signed directory (every node of the trust bundle)...
    [broker.directory]
    address = "{id}.nodes.example.org:8443"   # TLS name: the node id, as always
    [broker.directory.addresses]      # optional per-node overrides
    kcso = "10.20.0.7:8443"

    # ...or nodes by hand (not both):

    [[nodes]]
    id = "kcso"
    agency_name = "King County Sheriff's Office"
    address = "127.0.0.1:50061"
    replicas = ["127.0.0.1:50071"]    # optional; the same agency's standby nodes
    hedge_after_ms = 300              # ask the next replica if no answer by then

Overrides for ``[broker]`` keys come from ``FIELDGATE_BROKER__<KEY>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fieldgate.broker.limits import LimitsConfig, limits_config
from fieldgate.core.answer_caps import MAX_UNARY_AUDIENCE
from fieldgate.core.config import ConfigError, Section, read_toml
from fieldgate.core.tls import TLSFiles, tls_files
from fieldgate.ops.endpoints import (
    MaintenanceConfig,
    MetricsConfig,
    maintenance_config,
    metrics_config,
    read_log_format,
)
from fieldgate.ops.server_options import ServerLimitsConfig, server_limits_config
from fieldgate.trust.config import TrustConfig, trust_config

DEFAULT_HEDGE_AFTER_MS = 250
"""Hedging delay of a node with replicas whose entry names none."""

ID_PLACEHOLDER = "{id}"
"""What a directory address template replaces with each node's id."""


@dataclass(frozen=True)
class DirectoryConfig:
    """Nodes from the signed trust directory (``[broker.directory]``)."""

    address: str
    """``host:port`` template; ``{id}`` is replaced by each node's id
    (``"{id}.nodes.example.org:8443"``)."""
    addresses: Mapping[str, str] = field(default_factory=dict)
    """Node id → ``host:port``, for nodes not at the template's address."""

    def address_of(self, node_id: str) -> str:
        """The address the broker dials for ``node_id``."""
        override = self.addresses.get(node_id)
        if override is not None:
            return override
        return self.address.replace(ID_PLACEHOLDER, node_id)


@dataclass(frozen=True)
class FanoutConfig:
    """Connections and answer sizes at federation scale (``[broker.fanout]``)."""

    max_unary_audience: int = MAX_UNARY_AUDIENCE
    """Agencies a unary ``Search`` may address; above it the search is refused
    (FAILED_PRECONDITION, ``unary_audience``) and must be streamed. At most
    :data:`~fieldgate.core.answer_caps.MAX_UNARY_AUDIENCE`, which bounds the
    client's receive limit."""
    channel_idle_seconds: float = 300.0
    """A node's channel unused this long is closed (reopened on its next search)."""
    connect_at_start: bool = False
    """Connect to every node in the background once serving (256 at a time), so the
    first search does not pay every TLS handshake; start-up never waits for it."""


@dataclass(frozen=True)
class NodeEntry:
    """One agency node the broker asks."""

    node_id: str
    """The node's identifier (must match what the node calls itself)."""
    agency_name: str
    """Display name of the agency."""
    address: str
    """``host:port`` of the node's gRPC service."""
    replicas: tuple[str, ...] = ()
    """``host:port`` of the same agency's replica nodes, asked in turn when this one lags."""
    hedge_after_ms: int = DEFAULT_HEDGE_AFTER_MS
    """Milliseconds without a good answer before the next replica is asked the same search."""


@dataclass(frozen=True)
class BrokerConfig:
    """Settings of the broker."""

    listen: str
    """``host:port`` the broker listens on (port 0 picks a free one)."""
    nodes: tuple[NodeEntry, ...]
    """Nodes by hand (``[[nodes]]``), in the order results are reported; empty with
    ``directory``."""
    default_deadline_seconds: float = 3.0
    """Deadline of a search whose request names none."""
    max_deadline_seconds: float = 10.0
    """Longest deadline a request may ask for."""
    node_deadline_ms: int | None = None
    """Deadline of each call to a node (and to each replica), capped by what is left of the
    search's deadline; None gives every call the whole search deadline. Below the default
    search deadline, so one straggler cannot hold a search for all of it."""
    trust: TrustConfig | None = None
    """Trust bundle to refuse unverifiable searches early; None only when ``insecure``."""
    insecure: bool = False
    """Development only: allow unsigned searches and plaintext."""
    tls: TLSFiles | None = None
    """mTLS files, used to serve investigators and to call nodes; None only when ``insecure``."""
    search_log: Path | None = None
    """The broker's append-only log of searches (``broker.search_log``); None keeps none."""
    digest_key: Path | None = None
    """The deployment's digest key (``broker.digest_key``), kept apart from the search log;
    None: beside the search log (:func:`fieldgate.core.digests.default_digest_key_path`)."""
    metrics: MetricsConfig | None = None
    """Prometheus endpoint (``[broker.metrics]``); None serves none."""
    maintenance: MaintenanceConfig | None = None
    """Health and reflection port (``[broker.maintenance]``); None opens none."""
    log_format: str = "text"
    """``text`` or ``json`` (one object per line); ``--log-format`` overrides it."""
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    """Rate limits, concurrency caps and the sweep detector (``[broker.limits]``)."""
    server: ServerLimitsConfig = field(default_factory=ServerLimitsConfig)
    """What one connection may cost before it is trusted (``[broker.server]``)."""
    directory: DirectoryConfig | None = None
    """Nodes from the trust bundle's directory (``[broker.directory]``); None: ``nodes``."""
    fanout: FanoutConfig = field(default_factory=FanoutConfig)
    """Unary answer size and channel idling (``[broker.fanout]``)."""


def _tls(broker: Section) -> TLSFiles | None:
    if not broker.has("tls"):
        return None
    section = broker.section("tls")
    files = tls_files(section)
    section.finish()
    return files


def _node_entry(entry: Section, index: int) -> NodeEntry:
    node = NodeEntry(
        node_id=entry.string("id"),
        agency_name=entry.string("agency_name"),
        address=entry.address("address"),
    )
    if entry.has("replicas"):
        replicas = entry.string_list("replicas")
        for replica in replicas:
            host, sep, port = replica.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigError(
                    f"nodes[{index}].replicas", f"must list host:port, not {replica!r}"
                )
        if node.address in replicas or len(set(replicas)) != len(replicas):
            raise ConfigError(f"nodes[{index}].replicas", "must not repeat an address")
        hedge = entry.integer("hedge_after_ms", DEFAULT_HEDGE_AFTER_MS, minimum=1)
        node = replace(node, replicas=replicas, hedge_after_ms=hedge)
    elif entry.has("hedge_after_ms"):
        raise ConfigError(f"nodes[{index}].hedge_after_ms", "needs replicas to hedge to")
    entry.finish()
    return node


def _directory(broker: Section) -> DirectoryConfig | None:
    if not broker.has("directory"):
        return None
    section = broker.section("directory")
    template = section.address("address")
    if ID_PLACEHOLDER not in template.rpartition(":")[0]:
        raise ConfigError(
            section.key_name("address"),
            f"must name each node's host with {ID_PLACEHOLDER}, not {template!r}",
        )
    overrides: dict[str, str] = {}
    if section.has("addresses"):
        table = section.section("addresses")
        for node_id in table.names():
            overrides[node_id] = table.address(node_id)
        table.finish()
    section.finish()
    return DirectoryConfig(template, overrides)


def _fanout(broker: Section) -> FanoutConfig:
    if not broker.has("fanout"):
        return FanoutConfig()
    section = broker.section("fanout")
    config = FanoutConfig(
        max_unary_audience=section.integer("max_unary_audience", MAX_UNARY_AUDIENCE, minimum=1),
        channel_idle_seconds=section.number("channel_idle_seconds", 300.0, minimum=1.0),
        connect_at_start=section.boolean("connect_at_start", False),
    )
    if config.max_unary_audience > MAX_UNARY_AUDIENCE:
        # The client's receive limit is the sum of this many answers at their cap.
        raise ConfigError(
            section.key_name("max_unary_audience"),
            f"must be at most {MAX_UNARY_AUDIENCE} (larger searches are streamed), "
            f"not {config.max_unary_audience}",
        )
    section.finish()
    return config


def broker_config_from_document(document: Mapping[str, Any], base: Path) -> BrokerConfig:
    """Build and validate a :class:`BrokerConfig` from a parsed document.

    Raises:
        ConfigError: naming the bad key.
    """
    root = Section(document, "", base)
    broker = root.section("broker")
    nodes: list[NodeEntry] = []
    seen: set[str] = set()
    directory = _directory(broker)
    if directory is not None and root.has("nodes"):
        raise ConfigError(
            "nodes", "give [broker.directory] or [[nodes]], not both (the directory lists them)"
        )
    for entry in root.sections("nodes") if root.has("nodes") or directory is None else []:
        node = _node_entry(entry, len(nodes))
        if node.node_id in seen:
            raise ConfigError(f"nodes[{len(nodes)}].id", f"duplicate node id {node.node_id!r}")
        seen.add(node.node_id)
        nodes.append(node)
    default_deadline = broker.number("default_deadline_seconds", 3.0, minimum=0.05)
    max_deadline = broker.number("max_deadline_seconds", 10.0, minimum=0.05)
    if default_deadline > max_deadline:
        raise ConfigError(
            "broker.default_deadline_seconds", "must not exceed broker.max_deadline_seconds"
        )
    node_deadline: int | None = None
    straggler_limit = f"the search deadline (default_deadline_seconds = {default_deadline:g} s)"
    if broker.has("node_deadline_ms"):
        node_deadline = broker.integer("node_deadline_ms", minimum=1)
        if node_deadline >= default_deadline * 1000:
            raise ConfigError(
                "broker.node_deadline_ms",
                f"must be below {straggler_limit}, not {node_deadline} ms",
            )
        straggler_limit = f"broker.node_deadline_ms ({node_deadline} ms)"
    limit_ms = node_deadline if node_deadline is not None else default_deadline * 1000
    for i, node in enumerate(nodes):
        # A hedge sent after the node call's own deadline could never win.
        if node.replicas and node.hedge_after_ms >= limit_ms:
            raise ConfigError(
                f"nodes[{i}].hedge_after_ms",
                f"must be below {straggler_limit}, not {node.hedge_after_ms} ms",
            )
    config = BrokerConfig(
        listen=broker.address("listen", "127.0.0.1:0"),
        nodes=tuple(nodes),
        default_deadline_seconds=default_deadline,
        max_deadline_seconds=max_deadline,
        node_deadline_ms=node_deadline,
        trust=trust_config(broker.section("trust")) if broker.has("trust") else None,
        insecure=broker.boolean("insecure", False),
        tls=_tls(broker),
        search_log=broker.path("search_log", "broker-searches.sqlite"),
        digest_key=broker.optional_path("digest_key"),
        metrics=metrics_config(broker),
        maintenance=maintenance_config(broker),
        log_format=read_log_format(broker, "broker"),
        limits=limits_config(broker.section("limits")) if broker.has("limits") else LimitsConfig(),
        server=server_limits_config(broker.section("server", required=False)),
        directory=directory,
        fanout=_fanout(broker),
    )
    if config.tls is None and not config.insecure:
        raise ConfigError(
            "broker.tls",
            "is required: investigators and nodes talk to the broker over mutual TLS "
            "(set broker.insecure = true only for development)",
        )
    if config.trust is None and not config.insecure:
        raise ConfigError(
            "broker.trust",
            "is required: the broker refuses unverifiable searches early "
            "(set broker.insecure = true only for development)",
        )
    if config.directory is not None and config.trust is None:
        raise ConfigError("broker.directory", "needs broker.trust: the directory is its bundle")
    broker.finish()
    root.finish()
    return config


def load_broker_config(path: Path, env: Mapping[str, str]) -> BrokerConfig:
    """Read the broker's config file with ``FIELDGATE_BROKER__*`` overrides from ``env``."""
    return broker_config_from_document(
        read_toml(path, env=env, table="broker"), path.resolve().parent
    )
