"""The manifests say only what the code accepts: ports, arguments, config keys, paths.

Each node and broker config in a rendered overlay's ConfigMaps is loaded
through the real loaders (``load_node_config`` / ``load_broker_config``) with
the container's environment variables as overrides, so an unknown or
mistyped key fails here as it would at start-up. The container arguments are
parsed against the real ``fieldgate`` click commands; the ports in configs,
containers, probes, Services, ServiceMonitors and NetworkPolicies must agree;
the broker must list exactly the nodes the overlay runs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest

from fieldgate.broker.config import BrokerConfig, load_broker_config
from fieldgate.broker.server import SERVICE_NAME as BROKER_SERVICE
from fieldgate.cli.main import cli
from fieldgate.node.config import NodeConfig, load_node_config
from fieldgate.node.server import SERVICE_NAME as NODE_SERVICE
from fieldgate.ops.endpoints import LIVENESS_SERVICE
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from tests.helpers.k8s import (
    DOCKERFILE,
    KUSTOMIZATIONS,
    OPA_CATALOG,
    REPO,
    Container,
    Doc,
    fieldgate_containers,
    listen_port,
    named,
    of_kind,
    port_number,
    render,
)

IMAGE_REGO = Path("/opt/fieldgate/rego")
"""Where the image links the Rego its installed wheel ships (checked below)."""


@dataclass
class Loaded:
    """A fieldgate container and the config it would start with."""

    container: Container
    command: str  # "node" or "broker"
    config: NodeConfig | BrokerConfig


def parse_args(args: list[str]) -> tuple[str, dict[str, str]]:
    """Check ``args`` against the real CLI; return the command group and its options."""
    group_name, command_name, *rest = args
    group = cli.commands[group_name]
    assert isinstance(group, click.Group), group_name
    command = group.commands[command_name]
    options: dict[str, click.Option] = {}
    for param in command.params:
        if isinstance(param, click.Option):
            options.update({opt: param for opt in param.opts})
    given: dict[str, str] = {}
    while rest:
        flag, *rest = rest
        assert flag in options, f"fieldgate {group_name} {command_name} has no option {flag}"
        option = options[flag]
        if option.is_flag:
            given[flag] = "true"
            continue
        value, *rest = rest
        if isinstance(option.type, click.Choice):
            assert value in option.type.choices, f"{flag} {value}: not one of {option.type.choices}"
        given[flag] = value
    for option in options.values():
        if option.required:
            assert set(option.opts) & set(given), f"{command_name} needs {option.opts[0]}"
    return group_name, given


OPERATOR_SECRET_KEYS = {"ca.pem", "cert.pem", "key.pem"}
"""The keys README "Running in production" has the operator put in each Secret."""


def mounted_file(docs: list[Doc], container: Container, path: str) -> tuple[Doc, str]:
    """The ConfigMap or Secret, and its key, that a container sees at ``path``."""
    for mount in container.spec["volumeMounts"]:
        root = mount["mountPath"].rstrip("/") + "/"
        if not path.startswith(root):
            continue
        key = path[len(root) :]
        (volume,) = [v for v in container.pod["volumes"] if v["name"] == mount["name"]]
        if "configMap" in volume and volume["configMap"]["name"] == "fieldgate-trust":
            # The federation's trust files: the operator's ConfigMap, named, never rendered
            # (a placeholder would replace the real bundle on every apply).
            assert not [d for d in docs if d["metadata"]["name"] == "fieldgate-trust"]
            assert key in {"trust.json", "revocations.json"}, f"{path}: no trust file {key}"
            source = {"kind": "ConfigMap", "metadata": {"name": "fieldgate-trust"}}
        elif "configMap" in volume:
            source = named(docs, "ConfigMap", volume["configMap"]["name"])
            assert key in source["data"], f"{path}: ConfigMap has no key {key}"
        elif "secret" in volume:
            # Secrets are the operator's, referenced by name and never rendered (a placeholder
            # could overwrite a real key): the key must be one README tells them to create.
            name = volume["secret"]["secretName"]
            assert not [d for d in docs if d["kind"] == "Secret"], "no manifest carries a Secret"
            assert key in OPERATOR_SECRET_KEYS, f"{path}: Secret {name} has no documented key {key}"
            source = {"kind": "Secret", "metadata": {"name": name}}
        else:
            raise AssertionError(f"{path} is not on a ConfigMap or Secret volume")
        return source, key
    raise AssertionError(f"{container.name}: nothing mounted at {path}")


def on_volume(container: Container, path: Path) -> Doc:
    """The volume (or claim template) holding ``path`` in the container."""
    for mount in container.spec["volumeMounts"]:
        if path.is_relative_to(mount["mountPath"]):
            for volume in container.pod.get("volumes", []):
                if volume["name"] == mount["name"]:
                    return dict(volume)
            for claim in container.workload["spec"].get("volumeClaimTemplates", []):
                if claim["metadata"]["name"] == mount["name"]:
                    return {"name": mount["name"], "persistentVolumeClaim": claim}
    raise AssertionError(f"{container.name}: {path} is on no volume")


def load(docs: list[Doc], container: Container, tmp_path: Path) -> Loaded:
    command, options = parse_args(container.spec["args"])
    source, key = mounted_file(docs, container, options["--config"])
    path = tmp_path / f"{container.name}-{key}"
    path.write_text(source["data"][key], encoding="utf-8")
    env = {e["name"]: e["value"] for e in container.spec.get("env", []) if "value" in e}
    if command == "node":
        config: NodeConfig | BrokerConfig = load_node_config(path, env)
    else:
        assert command == "broker"
        config = load_broker_config(path, env)
    if "--log-format" in options:
        assert options["--log-format"] == config.log_format, "flag and config say the same"
    return Loaded(container, command, config)


def loaded_all(kubectl: str, kustomization: str, tmp_path: Path) -> tuple[list[Doc], list[Loaded]]:
    docs = render(kubectl, kustomization)
    return docs, [load(docs, c, tmp_path) for c in fieldgate_containers(docs)]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_configs_load_and_ports_agree(kubectl: str, kustomization: str, tmp_path: Path) -> None:
    docs, loaded = loaded_all(kubectl, kustomization, tmp_path)
    assert {item.command for item in loaded} == {"node", "broker"}
    for item in loaded:
        config, spec = item.config, item.container.spec
        assert config.metrics is not None, "Prometheus scrapes every fieldgate process"
        assert config.maintenance is not None, "probes need the health port"
        for address in (config.listen, config.metrics.listen, config.maintenance.listen):
            assert address.startswith("0.0.0.0:"), f"{address}: a pod listens on its own IP"
        assert port_number(spec, "grpc") == listen_port(config.listen)
        assert port_number(spec, "metrics") == listen_port(config.metrics.listen)
        if item.command == "node":
            # The per-record series have a port of their own (node/metrics.py).
            assert config.metrics.private_listen is not None
            assert config.metrics.private_listen.startswith("0.0.0.0:")
            private = listen_port(config.metrics.private_listen)
            assert port_number(spec, "metrics-private") == private
        health = port_number(spec, "health")
        assert health == listen_port(config.maintenance.listen)
        api = NODE_SERVICE if item.command == "node" else BROKER_SERVICE
        for probe, service in (
            ("startupProbe", LIVENESS_SERVICE),
            ("livenessProbe", LIVENESS_SERVICE),
            ("readinessProbe", api),
        ):
            assert spec[probe]["grpc"] == {"port": health, "service": service}, probe
        assert config.tls is not None, "production runs mutual TLS"
        assert config.trust is not None, "production verifies signed searches"
        assert not config.insecure
        for path in (config.tls.ca, config.tls.cert, config.tls.key):
            source, _ = mounted_file(docs, item.container, str(path))
            assert source["kind"] == "Secret"
        for path in (config.trust.bundle, config.trust.revocations):
            mounted_file(docs, item.container, str(path))
        if isinstance(config, NodeConfig):
            labels = item.container.workload["spec"]["template"]["metadata"]["labels"]
            assert config.node_id == labels["fieldgate.io/agency"]
            assert config.allowed_clients == ("broker",)
            assert "persistentVolumeClaim" in on_volume(item.container, config.database)
            # The audit key in a Secret, the last known head on a volume of its own: whoever
            # can rewrite or replace the log's volume holds neither (issue 17).
            audit = config.audit
            assert audit is not None, "the node's audit settings are spelt out"
            log_volume = on_volume(item.container, audit.database)
            assert "persistentVolumeClaim" in log_volume
            source, _ = mounted_file(docs, item.container, str(audit.key))
            assert source["kind"] == "Secret"
            head_volume = on_volume(item.container, audit.last_head_path)
            assert "persistentVolumeClaim" in head_volume
            assert head_volume["name"] != log_volume["name"]
            for shipped in (config.contract, config.rego_library):
                assert shipped is not None
                assert shipped.is_relative_to(IMAGE_REGO), shipped
                assert (REPO / "rego" / shipped.relative_to(IMAGE_REGO)).exists(), shipped
        else:
            assert config.search_log is not None
            on_volume(item.container, config.search_log)


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_the_broker_asks_exactly_the_nodes_that_run(
    kubectl: str, kustomization: str, tmp_path: Path
) -> None:
    docs, loaded = loaded_all(kubectl, kustomization, tmp_path)
    nodes = {i.config.node_id: i for i in loaded if isinstance(i.config, NodeConfig)}
    (broker,) = [i.config for i in loaded if isinstance(i.config, BrokerConfig)]
    assert {n.node_id for n in broker.nodes} == set(nodes)
    for entry in broker.nodes:
        host, _, port = entry.address.rpartition(":")
        service = named(docs, "Service", host)
        pod_labels = nodes[entry.node_id].container.workload["spec"]["template"]["metadata"]
        assert selects(service["spec"]["selector"], pod_labels["labels"]), entry.node_id
        (service_port,) = [p for p in service["spec"]["ports"] if p["port"] == int(port)]
        container = nodes[entry.node_id].container.spec
        assert port_number(container, service_port["targetPort"]) == listen_port(
            nodes[entry.node_id].config.listen
        )
        assert entry.agency_name == nodes[entry.node_id].config.agency_name


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_services_monitors_and_policies_name_real_ports(
    kubectl: str, kustomization: str, tmp_path: Path
) -> None:
    docs, loaded = loaded_all(kubectl, kustomization, tmp_path)
    pods = [
        (c.workload["spec"]["template"]["metadata"]["labels"], c.spec)
        for c in fieldgate_containers(docs)
    ]
    for service in of_kind(docs, "Service"):
        chosen = [spec for labels, spec in pods if selects(service["spec"]["selector"], labels)]
        assert chosen, f"Service {service['metadata']['name']} selects no pod"
        for port in service["spec"]["ports"]:
            for spec in chosen:
                assert port_number(spec, port["targetPort"]) == port["port"], port
    jobs = set()
    for monitor in of_kind(docs, "ServiceMonitor"):
        services = [
            s
            for s in of_kind(docs, "Service")
            if selects(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])
        ]
        assert services, monitor["metadata"]["name"]
        for service in services:
            names = {p["name"] for p in service["spec"]["ports"]}
            assert {e["port"] for e in monitor["spec"]["endpoints"]} <= names
            jobs.add(service["metadata"]["labels"][monitor["spec"]["jobLabel"]])
    rules = named(docs, "PrometheusRule", "fieldgate")
    used_jobs = set(re.findall(r'job="([^"]+)"', json.dumps(rules)))
    assert used_jobs <= jobs, f"alerts name jobs {used_jobs - jobs} no ServiceMonitor makes"
    policies = {p["metadata"]["name"]: p for p in of_kind(docs, "NetworkPolicy")}
    for component, policy in (
        ("node", "fieldgate-node-ingress"),
        ("broker", "fieldgate-broker-ingress"),
    ):
        items = [i for i in loaded if i.command == component]
        selector = policies[policy]["spec"]["podSelector"]["matchLabels"]
        for item in items:
            labels = item.container.workload["spec"]["template"]["metadata"]["labels"]
            assert selects(selector, labels)
            allowed = {
                p["port"] for rule in policies[policy]["spec"]["ingress"] for p in rule["ports"]
            }
            assert allowed == {
                listen_port(item.config.listen),
                listen_port(item.config.metrics.listen),  # type: ignore[union-attr]
            }, "nodes and brokers admit their API and Prometheus, nothing else"
    # A node's agency-only metrics port admits only the agency's own Prometheus.
    for item in (i for i in loaded if i.command == "node"):
        labels = item.container.workload["spec"]["template"]["metadata"]["labels"]
        (policy,) = [
            p
            for p in policies.values()
            if p["metadata"]["name"].startswith("fieldgate-node-private-metrics")
            and selects(p["spec"]["podSelector"]["matchLabels"], labels)
        ]
        (rule,) = policy["spec"]["ingress"]
        assert {p["port"] for p in rule["ports"]} == {
            listen_port(item.config.metrics.private_listen)  # type: ignore[union-attr,arg-type]
        }
        (source,) = rule["from"]
        assert source["podSelector"]["matchLabels"]["fieldgate.io/prometheus"] == "agency"
    for monitor in of_kind(docs, "ServiceMonitor"):
        ports = {e["port"] for e in monitor["spec"]["endpoints"]}
        scope = monitor["metadata"]["labels"].get("fieldgate.io/prometheus")
        if "metrics-private" in ports:
            assert scope == "agency", "only an agency's own Prometheus scrapes per-record series"


def test_the_image_matches_the_manifests(kubectl: str) -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    exposed = {int(p) for line in re.findall(r"^EXPOSE (.+)$", text, re.M) for p in line.split()}
    (user,) = re.findall(r"^USER (\d+):(\d+)$", text, flags=re.MULTILINE)
    # The image installs the built wheel; its Rego is the wheel's package data, linked at
    # IMAGE_REGO, and the final stage copies no rego/ of its own.
    assert re.search(r"^RUN pip wheel .*--no-deps", text, flags=re.MULTILINE)
    assert re.search(r"pip install .*/dist/fieldgate-\*\.whl", text)
    final_stage = text.rsplit("\nFROM ", 1)[1]
    assert not re.search(r"^COPY rego", final_stage, flags=re.MULTILINE)
    assert re.search(rf"ln -s .*rego_root\(\).*\s+{IMAGE_REGO}\s", final_stage, flags=re.DOTALL)
    for kustomization in KUSTOMIZATIONS:
        docs = render(kubectl, kustomization)
        for container in fieldgate_containers(docs):
            ports = {p["containerPort"] for p in container.spec["ports"]}
            assert ports <= exposed, container.name
            security = container.pod["securityContext"]
            assert (str(security["runAsUser"]), str(security["runAsGroup"])) == user
            assert str(security["fsGroup"]) == user[1]


def test_the_opa_sidecar_gets_the_shipped_catalog_and_the_node_finds_it(kubectl: str) -> None:
    shipped = load_catalog(default_catalog_path()).classes()
    assert json.loads(OPA_CATALOG.read_text(encoding="utf-8")) == shipped
    docs = render(kubectl, "overlays/demo-opa")
    for statefulset in of_kind(docs, "StatefulSet"):
        containers = {c["name"]: c for c in statefulset["spec"]["template"]["spec"]["containers"]}
        env = {e["name"]: e["value"] for e in containers["node"]["env"]}
        (addr,) = [a.split("=", 1)[1] for a in containers["opa"]["args"] if a.startswith("--addr=")]
        assert env["FIELDGATE_NODE__POLICY__URL"] == f"http://{addr}"
        assert env["FIELDGATE_NODE__POLICY__ENGINE"] == "opa"
        mounts: dict[str, Any] = {m["name"]: m for m in containers["opa"]["volumeMounts"]}
        assert mounts["opa-catalog"]["mountPath"] == "/opa-data/catalog", "data.catalog"
