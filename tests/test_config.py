"""Node and broker configuration: TOML, environment overrides, errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldgate.broker.config import load_broker_config
from fieldgate.core.config import ConfigError
from fieldgate.node.config import load_node_config

NODE = """
[node]
id = "kcso"
agency_name = "King County Sheriff's Office"
listen = "127.0.0.1:50061"
database = "kcso.sqlite"
contract = "contract.rego"
insecure = true

[node.contact]
unit = "Records Unit"
phone = "206-555-0100"
"""

BROKER = """
[broker]
listen = "127.0.0.1:50051"
default_deadline_seconds = 2.5
insecure = true

[[nodes]]
id = "kcso"
agency_name = "King County Sheriff's Office"
address = "127.0.0.1:50061"
"""


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_node_config_resolves_paths_against_the_file(tmp_path: Path) -> None:
    config = load_node_config(write(tmp_path, NODE), env={})
    assert config.node_id == "kcso"
    assert config.database == tmp_path / "kcso.sqlite"
    assert config.contract == tmp_path / "contract.rego"
    assert config.contact_phone == "206-555-0100"
    assert config.catalog.name == "standard.toml"


def test_environment_overrides_win(tmp_path: Path) -> None:
    env = {
        "FIELDGATE_NODE__LISTEN": "127.0.0.1:7001",
        "FIELDGATE_NODE__CONTACT__PHONE": "206-555-0999",
        "FIELDGATE_NODE__MAX_HITS": "7",
        "FIELDGATE_BROKER__LISTEN": "ignored by a node",
        "UNRELATED": "x",
    }
    config = load_node_config(write(tmp_path, NODE), env=env)
    assert config.listen == "127.0.0.1:7001"
    assert config.contact_phone == "206-555-0999"
    assert config.max_hits == 7


@pytest.mark.parametrize(
    ("text", "env", "key"),
    [
        (NODE.replace('id = "kcso"\n', ""), {}, "node.id"),
        (NODE.replace("listen", "lisen"), {}, "node.lisen"),
        (NODE, {"FIELDGATE_NODE__LISTEN": "nowhere"}, "node.listen"),
        (NODE, {"FIELDGATE_NODE__MAX_HITS": "many"}, "node.max_hits"),
        (NODE.replace('phone = "206-555-0100"', "phone = 5"), {}, "node.contact.phone"),
        (NODE + "\n[extra]\n", {}, "extra"),
    ],
)
def test_bad_node_config_names_the_key(
    tmp_path: Path, text: str, env: dict[str, str], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_node_config(write(tmp_path, text), env=env)
    assert caught.value.key == key
    assert key in str(caught.value)


def test_bad_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[node\nid = 1\n")
    with pytest.raises(ConfigError, match=r"config\.toml.*line 1"):
        load_node_config(path, env={})


def test_broker_config(tmp_path: Path) -> None:
    config = load_broker_config(
        write(tmp_path, BROKER), env={"FIELDGATE_BROKER__MAX_DEADLINE_SECONDS": "4"}
    )
    assert config.default_deadline_seconds == 2.5
    assert config.max_deadline_seconds == 4.0
    assert [n.node_id for n in config.nodes] == ["kcso"]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (BROKER + BROKER.split("\n", 5)[-1].replace("[broker]", ""), "nodes[1].id"),
        (BROKER.replace("127.0.0.1:50061", "somewhere"), "nodes[0].address"),
        (BROKER.replace("2.5", "-1"), "broker.default_deadline_seconds"),
        (BROKER.replace("2.5", "60"), "broker.default_deadline_seconds"),
    ],
)
def test_bad_broker_config_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_broker_config(write(tmp_path, text), env={})
    assert caught.value.key == key


TLS = '\n[node.tls]\nca = "ca.pem"\ncert = "n.pem"\nkey = "n.key"\nallowed_clients = ["broker"]\n'
TRUST = '\n[node.trust]\nbundle = "trust.json"\nrevocations = "rev.json"\nclock_skew_seconds = 30\n'


def test_a_secure_node_needs_tls_and_a_trust_bundle(tmp_path: Path) -> None:
    bare = NODE.replace("insecure = true\n", "")
    with pytest.raises(ConfigError) as caught:
        load_node_config(write(tmp_path, bare), env={})
    assert caught.value.key == "node.tls"
    with pytest.raises(ConfigError) as caught:
        load_node_config(write(tmp_path, bare + TLS), env={})
    assert caught.value.key == "node.trust"
    config = load_node_config(write(tmp_path, bare + TLS + TRUST), env={})
    assert config.trust is not None
    assert config.trust.bundle == tmp_path / "trust.json"
    assert config.trust.clock_skew_seconds == 30
    assert config.tls is not None
    assert config.tls.cert == tmp_path / "n.pem"
    assert config.allowed_clients == ("broker",)
    assert not config.insecure
    with pytest.raises(ConfigError) as caught:
        load_node_config(write(tmp_path, bare + TLS.replace('["broker"]', "[]") + TRUST), env={})
    assert caught.value.key == "node.tls.allowed_clients"


def test_a_secure_broker_needs_tls_and_trust(tmp_path: Path) -> None:
    bare = BROKER.replace("insecure = true\n", "")
    with pytest.raises(ConfigError) as caught:
        load_broker_config(write(tmp_path, bare), env={})
    assert caught.value.key == "broker.tls"
    tls = '[broker.tls]\nca = "ca.pem"\ncert = "b.pem"\nkey = "b.key"\n'
    with_tls = bare.replace("[[nodes]]", tls + "\n[[nodes]]", 1)
    with pytest.raises(ConfigError) as caught:
        load_broker_config(write(tmp_path, with_tls), env={})
    assert caught.value.key == "broker.trust"


def test_node_policy_bundle_settings(tmp_path: Path) -> None:
    from fieldgate.trust.keys import generate_key, save_public_key

    save_public_key(generate_key().public_key(), tmp_path / "policy.pub.pem")
    bundled = NODE.replace('contract = "contract.rego"\n', "") + (
        '\n[node.policy]\nbundle = "s.bundle.tar.gz"\nbundle_keys = ["policy.pub.pem"]\n'
        'decision_log = "decisions.jsonl"\n'
    )
    config = load_node_config(write(tmp_path, bundled), env={})
    assert config.contract is None
    assert config.policy.bundle == tmp_path / "s.bundle.tar.gz"
    assert config.policy.bundle_keys == (tmp_path / "policy.pub.pem",)
    assert config.policy.decision_log == tmp_path / "decisions.jsonl"
    both = NODE + '\n[node.policy]\nbundle = "b.tar.gz"\nbundle_keys = ["policy.pub.pem"]\n'
    with pytest.raises(ConfigError, match="alternatives"):
        load_node_config(write(tmp_path, both), env={})
    no_keys = bundled.replace('bundle_keys = ["policy.pub.pem"]\n', "")
    with pytest.raises(ConfigError, match="bundle_keys"):
        load_node_config(write(tmp_path, no_keys), env={})
    bad_key = bundled.replace("policy.pub.pem", "missing.pem")
    with pytest.raises(ConfigError, match="bundle_keys"):
        load_node_config(write(tmp_path, bad_key), env={})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FIELDGATE_NODE__LISTEN", "nowhere"),
        ("FIELDGATE_NODE__MAX_HITS", "many"),
        ("FIELDGATE_NODE__MAX_HITS", "-3"),
        ("FIELDGATE_NODE__INSECURE", "perhaps"),
        ("FIELDGATE_NODE__LISTN", "127.0.0.1:1"),
    ],
)
def test_a_bad_value_from_the_environment_names_the_variable(
    tmp_path: Path, variable: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=f"set by environment variable {variable}"):
        load_node_config(write(tmp_path, NODE), env={variable: value})
