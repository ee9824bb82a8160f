"""The broker's per-node call series (broker/metrics.py), looked up once per node."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from fieldgate.broker.metrics import BrokerMetrics
from fieldgate.v2 import broker_pb2


def calls(registry: CollectorRegistry, node: str, status: str) -> float | None:
    return registry.get_sample_value(
        "fieldgate_broker_node_calls_total", {"node": node, "status": status}
    )


def test_node_calls_land_in_their_node_series_and_strangers_in_other() -> None:
    registry = CollectorRegistry()
    metrics = BrokerMetrics(registry, ["kcso", "spd"])
    assert calls(registry, "other", "answered") is None  # made only when first needed
    metrics.node_call("kcso", broker_pb2.NODE_STATUS_ANSWERED, 0.004)
    metrics.node_call("kcso", broker_pb2.NODE_STATUS_TIMED_OUT, 2.0)
    metrics.node_call("spd", broker_pb2.NODE_STATUS_UNREACHABLE, 0.1)
    metrics.node_call("not-configured", broker_pb2.NODE_STATUS_ANSWERED, 0.002)
    metrics.node_call("another-stranger", 999, 0.002)  # an unknown status counts as error
    assert calls(registry, "kcso", "answered") == 1
    assert calls(registry, "kcso", "deadline") == 1
    assert calls(registry, "spd", "unreachable") == 1
    assert calls(registry, "spd", "answered") == 0
    assert calls(registry, "other", "answered") == 1
    assert calls(registry, "other", "error") == 1
    assert calls(registry, "not-configured", "answered") is None
    seconds = registry.get_sample_value(
        "fieldgate_broker_node_call_seconds_count", {"node": "kcso"}
    )
    assert seconds == 2
