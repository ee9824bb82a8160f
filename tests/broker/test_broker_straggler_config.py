"""Straggler settings in the broker config: validated at start-up, errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldgate.broker.config import BrokerConfig, load_broker_config
from fieldgate.core.config import ConfigError

BROKER = """
[broker]
insecure = true
default_deadline_seconds = 2.0
{broker}

[[nodes]]
id = "kcso"
agency_name = "King County"
address = "127.0.0.1:50061"
{node}
"""


def load(
    tmp_path: Path, broker: str = "", node: str = "", env: dict[str, str] | None = None
) -> BrokerConfig:
    path = tmp_path / "broker.toml"
    path.write_text(BROKER.format(broker=broker, node=node))
    return load_broker_config(path, env=env or {})


def test_straggler_settings_are_read(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "node_deadline_ms = 1500",
        'replicas = ["127.0.0.1:50071", "10.0.0.2:50061"]\nhedge_after_ms = 200',
    )
    assert config.node_deadline_ms == 1500
    assert config.nodes[0].replicas == ("127.0.0.1:50071", "10.0.0.2:50061")
    assert config.nodes[0].hedge_after_ms == 200


def test_defaults_keep_the_old_behaviour(tmp_path: Path) -> None:
    config = load(tmp_path)
    assert config.node_deadline_ms is None
    assert config.nodes[0].replicas == ()
    with_replica = load(tmp_path, node='replicas = ["127.0.0.1:50071"]')
    assert with_replica.nodes[0].hedge_after_ms == 250


def test_the_environment_overrides_the_node_deadline(tmp_path: Path) -> None:
    config = load(tmp_path, env={"FIELDGATE_BROKER__NODE_DEADLINE_MS": "900"})
    assert config.node_deadline_ms == 900


@pytest.mark.parametrize(
    ("broker", "node", "key", "words"),
    [
        ("node_deadline_ms = 2000", "", "broker.node_deadline_ms", "below the search deadline"),
        ("node_deadline_ms = 0", "", "broker.node_deadline_ms", "≥ 1"),
        ('node_deadline_ms = "soon"', "", "broker.node_deadline_ms", "integer"),
        ("", "hedge_after_ms = 100", "nodes[0].hedge_after_ms", "needs replicas"),
        ("", 'replicas = ["nowhere"]', "nodes[0].replicas", "host:port"),
        ("", "replicas = []", "nodes[0].replicas", "non-empty list"),
        ("", 'replicas = ["127.0.0.1:50061"]', "nodes[0].replicas", "repeat"),
        (
            "node_deadline_ms = 500",
            'replicas = ["127.0.0.1:50071"]\nhedge_after_ms = 500',
            "nodes[0].hedge_after_ms",
            "below broker.node_deadline_ms",
        ),
        (
            "",
            'replicas = ["127.0.0.1:50071"]\nhedge_after_ms = 2000',
            "nodes[0].hedge_after_ms",
            "below the search deadline",
        ),
    ],
)
def test_bad_straggler_settings_name_the_key(
    tmp_path: Path, broker: str, node: str, key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, broker, node)
    assert caught.value.key == key
    assert words in str(caught.value)
