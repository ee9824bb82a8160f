"""The operations settings in node and broker configs: optional, validated, overridable."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldgate.broker.config import load_broker_config
from fieldgate.core.config import ConfigError
from fieldgate.node.config import load_node_config
from fieldgate.ops.endpoints import MaintenanceConfig, MetricsConfig

NODE = """
[node]
id = "kcso"
agency_name = "King County Sheriff's Office"
database = "kcso.sqlite"
insecure = true

[node.contact]
unit = "Records Unit"
phone = "206-555-0100"
"""

BROKER = """
[broker]
insecure = true

[[nodes]]
id = "kcso"
agency_name = "King County Sheriff's Office"
address = "127.0.0.1:50061"
"""

OPS = """
[{table}.metrics]
listen = "0.0.0.0:9101"

[{table}.maintenance]
listen = "0.0.0.0:9102"
reflection = true
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_operations_ports_are_off_unless_configured(tmp_path: Path) -> None:
    node = load_node_config(write(tmp_path, NODE), {})
    assert (node.metrics, node.maintenance, node.log_format) == (None, None, "text")
    broker = load_broker_config(write(tmp_path, BROKER), {})
    assert (broker.metrics, broker.maintenance, broker.log_format) == (None, None, "text")


def test_operations_tables_are_read(tmp_path: Path) -> None:
    node = load_node_config(write(tmp_path, NODE + OPS.format(table="node")), {})
    assert node.metrics == MetricsConfig("0.0.0.0:9101")
    assert node.maintenance == MaintenanceConfig("0.0.0.0:9102", reflection=True)
    broker = load_broker_config(
        write(tmp_path, BROKER.replace("[[nodes]]", OPS.format(table="broker") + "\n[[nodes]]")), {}
    )
    assert broker.metrics == MetricsConfig("0.0.0.0:9101")
    assert broker.maintenance == MaintenanceConfig("0.0.0.0:9102", reflection=True)


def test_environment_overrides_reach_the_operations_tables(tmp_path: Path) -> None:
    env = {
        "FIELDGATE_NODE__METRICS__LISTEN": "127.0.0.1:0",
        "FIELDGATE_NODE__MAINTENANCE__LISTEN": "127.0.0.1:7000",
        "FIELDGATE_NODE__LOG_FORMAT": "json",
    }
    node = load_node_config(write(tmp_path, NODE), env)
    assert node.metrics == MetricsConfig("127.0.0.1:0")
    assert node.maintenance == MaintenanceConfig("127.0.0.1:7000")
    assert node.log_format == "json"


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('[node.metrics]\nlisten = "9101"\n', "node.metrics.listen"),
        ("[node.metrics]\n", "node.metrics.listen"),
        ('[node.metrics]\nlisten = "0.0.0.0:9101"\nport = 1\n', "node.metrics.port"),
        (
            '[node.maintenance]\nlisten = "0.0.0.0:9102"\nreflection = "maybe"\n',
            "node.maintenance.reflection",
        ),
        (
            '[node.maintenance]\nlisten = "0.0.0.0:9102"\nrefelction = true\n',
            "node.maintenance.refelction",
        ),
    ],
)
def test_bad_operations_settings_name_the_key(tmp_path: Path, extra: str, key: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_node_config(write(tmp_path, NODE + extra), {})
    assert error.value.key == key


def test_a_bad_log_format_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_node_config(write(tmp_path, NODE), {"FIELDGATE_NODE__LOG_FORMAT": "xml"})
    assert error.value.key == "node.log_format"
    assert "text, json" in str(error.value)
    with pytest.raises(ConfigError) as error:
        load_broker_config(write(tmp_path, BROKER), {"FIELDGATE_BROKER__LOG_FORMAT": "yaml"})
    assert error.value.key == "broker.log_format"
