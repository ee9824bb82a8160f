"""The alert rules, checked and unit-tested by promtool (Debian package ``prometheus``).

The rules live in two PrometheusRule manifests — the federation's shared ones
and each agency's own, on its node's per-record series — whose ``spec`` is a
plain Prometheus rule file, written out here and handed to ``promtool check
rules`` and to ``promtool test rules`` with tests/k8s/alerts_test.yaml and
alerts_agency_test.yaml, which feed each alert the series that should fire
it (and some that should not). The shared rules and dashboard must not use a
series the node keeps on its agency-only port (issue 16).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from fieldgate.node.metrics import NodeMetrics
from tests.helpers.k8s import AGENCY_DASHBOARD, AGENCY_RULE, DASHBOARD, PROMETHEUS_RULE

TESTS = Path(__file__).with_name("alerts_test.yaml")
AGENCY_TESTS = Path(__file__).with_name("alerts_agency_test.yaml")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def rule_file(directory: Path, source: Path = PROMETHEUS_RULE, name: str = "rules.yaml") -> Path:
    spec = yaml.safe_load(source.read_text(encoding="utf-8"))["spec"]
    path = directory / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def test_promtool_accepts_the_rules(promtool: str, tmp_path: Path) -> None:
    for path in (rule_file(tmp_path), rule_file(tmp_path, AGENCY_RULE, "agency_rules.yaml")):
        done = run([promtool, "check", "rules", str(path)])
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SUCCESS" in done.stdout


def test_every_alert_fires_when_it_should(promtool: str, tmp_path: Path) -> None:
    rule_file(tmp_path)
    shutil.copy(TESTS, tmp_path / TESTS.name)
    done = run([promtool, "test", "rules", str(tmp_path / TESTS.name)])
    assert done.returncode == 0, done.stdout + done.stderr
    spec = yaml.safe_load(PROMETHEUS_RULE.read_text(encoding="utf-8"))["spec"]
    alerts = {r["alert"] for g in spec["groups"] for r in g["rules"]}
    tested = set(re.findall(r"alertname: (\w+)", TESTS.read_text(encoding="utf-8")))
    assert not alerts - tested, f"alerts without a unit test: {sorted(alerts - tested)}"


def test_every_agency_alert_fires_when_it_should(promtool: str, tmp_path: Path) -> None:
    rule_file(tmp_path, AGENCY_RULE, "agency_rules.yaml")
    shutil.copy(AGENCY_TESTS, tmp_path / AGENCY_TESTS.name)
    done = run([promtool, "test", "rules", str(tmp_path / AGENCY_TESTS.name)])
    assert done.returncode == 0, done.stdout + done.stderr
    spec = yaml.safe_load(AGENCY_RULE.read_text(encoding="utf-8"))["spec"]
    alerts = {r["alert"] for g in spec["groups"] for r in g["rules"]}
    tested = set(re.findall(r"alertname: (\w+)", AGENCY_TESTS.read_text(encoding="utf-8")))
    untested = alerts - tested - {"FieldgatePolicyLatencyHigh"}
    assert not untested, f"alerts without a unit test: {sorted(untested)}"


def _private_series() -> set[str]:
    """Every series name the node keeps on its agency-only port."""
    metrics = NodeMetrics(CollectorRegistry(), CollectorRegistry())
    return {family.name for family in metrics.private.collect()}


def test_the_shared_rules_and_dashboard_never_use_a_per_record_series() -> None:
    private = _private_series()
    assert "fieldgate_node_denied_queries" in private
    for source in (PROMETHEUS_RULE, DASHBOARD):
        used = set(re.findall(r"\b((?:fieldgate|grpc_server)_[a-z_]+)", source.read_text()))
        bases = {re.sub(r"_(bucket|sum|count|total)$", "", name) for name in used}
        assert not bases & private, f"{source.name} uses agency-only series {bases & private}"
    for source in (AGENCY_RULE, AGENCY_DASHBOARD):
        used = set(re.findall(r"\b(fieldgate_node_[a-z_]+)", source.read_text()))
        bases = {re.sub(r"_(bucket|sum|count|total)$", "", name) for name in used}
        assert bases <= private, f"{source.name} uses {bases - private} from the public port"


def test_alerts_and_dashboard_use_only_documented_metrics() -> None:
    documented = set(re.findall(r"`((?:fieldgate|grpc_server)_[a-z_]+)`", DOCS.read_text()))
    for source in (PROMETHEUS_RULE, DASHBOARD, AGENCY_RULE, AGENCY_DASHBOARD):
        used = set(re.findall(r"\b((?:fieldgate|grpc_server)_[a-z_]+)", source.read_text()))
        for name in sorted(used):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert {name, base} & documented, f"{source.name} uses {name}, not in docs/metrics.md"
