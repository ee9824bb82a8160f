"""Reading k8s/: its manifest files, its kustomize renderings, and what is inside them."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
KUSTOMIZATIONS = ("base", "overlays/demo", "overlays/demo-opa")
"""Every kustomization a person may apply (components are applied through overlays)."""

CRD_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}
"""Prometheus Operator kinds: no schema for them ships with kubernetes-validate."""

PROMETHEUS_RULE = K8S / "base" / "cluster" / "prometheusrule.yaml"
DASHBOARD = K8S / "base" / "cluster" / "dashboards" / "fieldgate.json"
AGENCY_RULE = K8S / "base" / "node" / "prometheusrule-agency.yaml"
"""One agency's own alerts on its node's per-record series (its own Prometheus only)."""
AGENCY_DASHBOARD = K8S / "base" / "node" / "dashboards" / "fieldgate-agency.json"
"""One agency's own dashboard over its node's per-record series."""
DOCKERFILE = K8S / "Dockerfile"
OPA_CATALOG = K8S / "components" / "opa-sidecar" / "catalog" / "data.json"

Doc = dict[str, Any]


def manifest_files() -> list[Path]:
    """Every YAML file under k8s/ that holds Kubernetes objects (not kustomize's own files)."""
    found = []
    for path in sorted(K8S.rglob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        objects = docs and all(
            isinstance(d, dict) and {"apiVersion", "kind"} <= set(d) for d in docs
        )
        if objects and not any(d["apiVersion"].startswith("kustomize.") for d in docs):
            found.append(path)
    return found


def load_all(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def render(kubectl: str, kustomization: str) -> list[Doc]:
    """``kubectl kustomize k8s/<kustomization>``, parsed."""
    done = subprocess.run(
        [kubectl, "kustomize", str(K8S / kustomization)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


@dataclass(frozen=True)
class Container:
    """One container of a workload, with the pod spec it runs in."""

    workload: Doc
    pod: Doc
    spec: Doc

    @property
    def name(self) -> str:
        return str(self.workload["metadata"]["name"])


def fieldgate_containers(docs: list[Doc]) -> Iterator[Container]:
    """Every container running the fieldgate image's entry point (``node``/``broker serve``)."""
    for workload in docs:
        if workload["kind"] not in ("Deployment", "StatefulSet"):
            continue
        pod = workload["spec"]["template"]["spec"]
        for container in pod["containers"]:
            if str(container["image"]).split(":")[0] == "fieldgate":
                yield Container(workload, pod, container)


def port_number(container: Doc, name: str) -> int:
    (port,) = [p["containerPort"] for p in container.get("ports", []) if p["name"] == name]
    return int(port)


def listen_port(listen: str) -> int:
    return int(listen.rpartition(":")[2])
