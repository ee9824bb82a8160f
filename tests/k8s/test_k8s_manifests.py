"""Every manifest in k8s/ against the Kubernetes schemas, offline, and the rest by structure.

``kubernetes-validate --strict`` (unknown fields are errors) checks each file as
written and each overlay as ``kubectl kustomize`` renders it. It has no schema
for the Prometheus Operator's ServiceMonitor and PrometheusRule (custom
resources), so their structure is checked here field by field instead; the
rules themselves are checked by promtool (test_k8s_alerts.py). The Grafana
dashboard and the Dockerfile are checked for what a deployment relies on.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.k8s import (
    AGENCY_DASHBOARD,
    CRD_KINDS,
    DASHBOARD,
    DOCKERFILE,
    KUSTOMIZATIONS,
    Doc,
    fieldgate_containers,
    load_all,
    manifest_files,
    of_kind,
    render,
)

VALIDATE = str(Path(sys.executable).with_name("kubernetes-validate"))
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


def kubernetes_validate(path: Path) -> None:
    done = subprocess.run(
        [VALIDATE, "--strict", "--quiet", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "ERROR" not in output, output
    # Only the custom resources may go unvalidated, and they are checked below.
    for line in output.splitlines():
        if line.startswith("WARN"):
            assert re.search(r"kind (ServiceMonitor|PrometheusRule) with api version", line), line


def check_custom_resource(doc: Doc) -> None:
    kind = doc["kind"]
    assert set(doc) <= {"apiVersion", "kind", "metadata", "spec"}, kind
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])
    spec = doc["spec"]
    if kind == "ServiceMonitor":
        assert set(spec) <= {"jobLabel", "selector", "endpoints", "namespaceSelector"}
        assert isinstance(spec["jobLabel"], str)
        assert spec["selector"]["matchLabels"], "a ServiceMonitor must select its Services"
        assert spec["endpoints"]
        for endpoint in spec["endpoints"]:
            assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "relabelings"}
            assert isinstance(endpoint["port"], str), "endpoints name the Service port"
            assert endpoint["path"] == "/metrics"
            for key in ("interval", "scrapeTimeout"):
                assert DURATION.match(endpoint[key]), endpoint[key]
            for relabel in endpoint.get("relabelings", []):
                assert set(relabel) <= {"sourceLabels", "targetLabel", "action", "regex"}
                assert relabel["action"] in {"replace", "keep", "drop", "labelmap"}
    else:
        assert set(spec) == {"groups"}
        names = [g["name"] for g in spec["groups"]]
        assert len(names) == len(set(names)), "group names are unique"
        for group in spec["groups"]:
            assert set(group) <= {"name", "interval", "rules"}
            for rule in group["rules"]:
                assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
                assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", rule["alert"])
                assert isinstance(rule["expr"], str)
                assert rule["expr"].strip()
                if "for" in rule:
                    assert DURATION.match(rule["for"])
                assert rule["labels"]["severity"] in {"critical", "warning"}
                assert set(rule["annotations"]) == {"summary", "description"}


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(p.parents[2])))
def test_each_manifest_file_is_valid(path: Path) -> None:
    kubernetes_validate(path)
    for doc in load_all(path):
        if (doc["apiVersion"], doc["kind"]) in CRD_KINDS:
            check_custom_resource(doc)


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_each_rendered_overlay_is_valid(kubectl: str, kustomization: str, tmp_path: Path) -> None:
    docs = render(kubectl, kustomization)
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    kubernetes_validate(rendered)
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CRD_KINDS:
            check_custom_resource(doc)
    kinds = {d["kind"] for d in docs}
    assert {
        "Namespace",
        "Deployment",
        "StatefulSet",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ConfigMap",
        "ServiceMonitor",
        "PrometheusRule",
    } <= kinds
    names = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(names) == len(set(names)), "no two objects share a kind and name"
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {
        "fieldgate"
    }


def test_the_demo_overlay_is_the_three_agency_federation(kubectl: str) -> None:
    docs = render(kubectl, "overlays/demo")
    agencies = {
        s["spec"]["template"]["metadata"]["labels"]["fieldgate.io/agency"]
        for s in of_kind(docs, "StatefulSet")
    }
    assert agencies == {"kcso", "spd", "pcso"}
    (broker,) = of_kind(docs, "Deployment")
    assert broker["spec"]["replicas"] >= 2
    for statefulset in of_kind(docs, "StatefulSet"):
        claims = {c["metadata"]["name"] for c in statefulset["spec"]["volumeClaimTemplates"]}
        assert claims == {"data", "audit-head"}, "records and log; the log's last head apart"
        mounts = statefulset["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        assert claims <= {m["name"] for m in mounts}, "SQLite on the PVC"
    opa = render(kubectl, "overlays/demo-opa")
    for statefulset in of_kind(opa, "StatefulSet"):
        containers = {c["name"] for c in statefulset["spec"]["template"]["spec"]["containers"]}
        assert containers == {"node", "opa"}


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_pods_run_locked_down_with_probes_and_resources(kubectl: str, kustomization: str) -> None:
    docs = render(kubectl, kustomization)
    for workload in docs:
        if workload["kind"] not in ("Deployment", "StatefulSet"):
            continue
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["automountServiceAccountToken"] is False
        for container in [*pod["containers"], *pod.get("initContainers", [])]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
            assert security["readOnlyRootFilesystem"] is True
            assert security["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["requests"]
            assert container["resources"]["limits"]
    for container in fieldgate_containers(docs):
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert "grpc" in container.spec[probe], f"{container.name}: {probe} uses gRPC health"


def test_no_manifest_carries_a_secret() -> None:
    """Secrets are made by the operator or generated from their files (k8s/kits): a Secret in
    a manifest would be a placeholder that every ``kubectl apply`` writes over the real key."""
    for path in manifest_files():
        assert all(doc["kind"] != "Secret" for doc in load_all(path)), path


@pytest.mark.parametrize("source", [DASHBOARD, AGENCY_DASHBOARD], ids=lambda p: p.stem)
def test_the_dashboard_is_a_grafana_dashboard(source: Path) -> None:
    dashboard = json.loads(source.read_text(encoding="utf-8"))
    assert dashboard["uid"]
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert {"id", "type", "title", "gridPos", "targets", "datasource"} <= set(panel)
        assert panel["type"] in {"timeseries", "stat", "table"}
        grid = panel["gridPos"]
        assert grid["x"] >= 0
        assert grid["x"] + grid["w"] <= 24
        assert panel["datasource"]["uid"].strip("${}") in variables
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs))
        for target in panel["targets"]:
            assert target["expr"].strip()


def test_the_image_runs_fieldgate_as_a_non_root_user() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE) == [
        "python:3.11-slim",
        "python:3.11-slim",
    ]
    (user,) = re.findall(r"^USER (\S+)", text, flags=re.MULTILINE)
    uid, _, gid = user.partition(":")
    assert int(uid) != 0
    assert int(gid) != 0
    assert re.search(r'^ENTRYPOINT \["fieldgate"\]$', text, flags=re.MULTILINE)
    hadolint = shutil.which("hadolint")
    if hadolint:  # optional extra lint where present; not required
        subprocess.run([hadolint, str(DOCKERFILE)], check=True, timeout=60)
