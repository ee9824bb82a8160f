"""``[broker.server]``, ``[node.server]``, ``[node.audit_budget]``: defaults, values, bad keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldgate.broker.config import load_broker_config
from fieldgate.core.answer_caps import MAX_UNARY_AUDIENCE
from fieldgate.core.config import ConfigError
from fieldgate.node.audit_budget import AuditBudgetConfig
from fieldgate.node.config import load_node_config
from fieldgate.ops.server_options import (
    BROKER_SERVER_LIMITS,
    NODE_SERVER_LIMITS,
    ServerLimitsConfig,
    pinned_bytes,
    server_options,
)
from tests.test_config import BROKER, NODE, write


def test_safe_defaults_without_a_section(tmp_path: Path) -> None:
    node = load_node_config(write(tmp_path, NODE), env={})
    broker = load_broker_config(write(tmp_path, BROKER, "broker.toml"), env={})
    assert node.server == NODE_SERVER_LIMITS
    assert broker.server == BROKER_SERVER_LIMITS == ServerLimitsConfig()
    assert node.audit_budget == AuditBudgetConfig()
    options = dict(server_options(ServerLimitsConfig(), max_send_bytes=1 << 20))
    assert options["grpc.max_allowed_incoming_connections"] == 4096
    assert options["grpc.server_handshake_timeout_ms"] == 5000
    assert options["grpc.max_concurrent_streams"] == 32
    assert options["grpc.http2.bdp_probe"] == 0
    assert options["grpc.http2.lookahead_bytes"] == 64 * 1024
    assert options["grpc.http2.max_frame_size"] == 16 * 1024
    assert options["grpc.so_reuseport"] == 0


def test_unfinished_calls_pin_a_bounded_number_of_bytes() -> None:
    """The documented arithmetic (docs/reliability.md): node and broker within their limits."""
    per_call = (4096 + 64) * 1024  # one 4 MiB message and its 64 KiB window
    assert pinned_bytes(NODE_SERVER_LIMITS) == (128 * per_call, 128 * per_call)  # 520 MiB
    assert 128 * per_call < 1024 * 2**20  # the node's Kubernetes limit, 1 Gi
    assert pinned_bytes(BROKER_SERVER_LIMITS) == (32 * per_call, 96 * per_call)  # 130, 390 MiB
    assert 96 * per_call < 512 * 2**20  # the broker's, 512 Mi
    assert BROKER_SERVER_LIMITS.max_concurrent_streams < BROKER_SERVER_LIMITS.max_concurrent_rpcs


def test_values_are_read(tmp_path: Path) -> None:
    text = NODE + "\n[node.server]\nmax_connections = 100\nhandshake_timeout_ms = 2000\n"
    text += "\n[node.audit_budget]\nrequester_bytes = 2048\nalert_fraction = 0.5\n"
    config = load_node_config(write(tmp_path, text), env={})
    assert config.server.max_connections == 100
    assert config.server.handshake_timeout_ms == 2000
    assert config.audit_budget.requester_bytes == 2048
    assert config.audit_budget.alert_fraction == 0.5
    broker = load_broker_config(
        write(tmp_path, BROKER + "\n[broker.server]\nmax_concurrent_streams = 8\n", "b.toml"),
        env={},
    )
    assert broker.server.max_concurrent_streams == 8


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("\n[node.server]\nmax_connections = 0\n", "node.server.max_connections"),
        ("\n[node.server]\nhandshake_timeout_ms = 10\n", "node.server.handshake_timeout_ms"),
        ("\n[node.server]\nmax_connectons = 10\n", "node.server.max_connectons"),
        ("\n[node.server]\nmax_frame_bytes = 1024\n", "node.server.max_frame_bytes"),
        ("\n[node.server]\nmax_concurrent_rpcs = 0\n", "node.server.max_concurrent_rpcs"),
        ("\n[node.audit_budget]\nalert_fraction = 2.0\n", "node.audit_budget.alert_fraction"),
        ("\n[node.audit_budget]\nrequester_bytes = 1\n", "node.audit_budget.requester_bytes"),
    ],
)
def test_bad_node_keys_are_named(tmp_path: Path, extra: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_node_config(write(tmp_path, NODE + extra), env={})
    assert caught.value.key == key


def test_a_broker_serves_more_nodes_than_a_unary_answer_may_hold(tmp_path: Path) -> None:
    # The cap moved from the broker's node count to a unary search's audience.
    nodes = "".join(
        f'\n[[nodes]]\nid = "n{i}"\nagency_name = "Agency {i}"\naddress = "127.0.0.1:{6000 + i}"\n'
        for i in range(MAX_UNARY_AUDIENCE + 1)
    )
    text = BROKER.split("[[nodes]]")[0] + nodes
    config = load_broker_config(write(tmp_path, text), env={})
    assert len(config.nodes) == MAX_UNARY_AUDIENCE + 1
    assert config.fanout.max_unary_audience == MAX_UNARY_AUDIENCE


def test_a_unary_answer_may_not_be_configured_above_the_client_limit(tmp_path: Path) -> None:
    text = BROKER + f"\n[broker.fanout]\nmax_unary_audience = {MAX_UNARY_AUDIENCE + 1}\n"
    with pytest.raises(ConfigError) as caught:
        load_broker_config(write(tmp_path, text), env={})
    assert caught.value.key == "broker.fanout.max_unary_audience"
