"""A real Prometheus server scrapes a running federation and answers the dashboard.

The test starts Debian's ``prometheus`` binary on 127.0.0.1 with a temporary
config that scrapes the metrics ports of a secure in-process federation (the
three demo agencies and a broker) under the same job and ``agency`` labels
the ServiceMonitors give in Kubernetes, and loads the alert rules from the
PrometheusRule. After real searches — answered, denied, refused — every
PromQL query of the Grafana dashboard must return data, every rule must
evaluate without error, and no alert may fire for this healthy federation.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from fieldgate.v2 import common_pb2, node_pb2
from tests.helpers.federation import LoopThread, node_stub
from tests.helpers.k8s import DASHBOARD, PROMETHEUS_RULE
from tests.helpers.ops import IMMIGRATION, OpsFederation, run_ops_federation

SCRAPE_SECONDS = 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def api(base: str, path: str, **params: str) -> Any:
    url = f"{base}{path}?{urllib.parse.urlencode(params)}" if params else f"{base}{path}"
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (loopback)
        document = json.loads(answer.read())
    assert document["status"] == "success", document
    return document["data"]


def scalar(base: str, query: str) -> float:
    result = api(base, "/api/v1/query", query=query)["result"]
    return float(result[0]["value"][1]) if result else 0.0


def prometheus_config(ops: OpsFederation, rules: Path) -> dict[str, Any]:
    nodes = [
        {"targets": [f"127.0.0.1:{r.metrics_port}"], "labels": {"agency": node_id}}
        for node_id, r in ops.federation.nodes.items()
    ]
    broker = [{"targets": [f"127.0.0.1:{ops.federation.broker.metrics_port}"]}]
    return {
        "global": {
            "scrape_interval": f"{SCRAPE_SECONDS}s",
            "scrape_timeout": f"{SCRAPE_SECONDS}s",
            "evaluation_interval": f"{SCRAPE_SECONDS}s",
        },
        "rule_files": [str(rules)],
        "scrape_configs": [
            {"job_name": "fieldgate-node", "static_configs": nodes},
            {"job_name": "fieldgate-broker", "static_configs": broker},
        ],
    }


def drive_traffic(ops: OpsFederation) -> None:
    """Answered, denied and refused searches, spread over several scrapes."""
    for _ in range(4):
        ops.search(ops.detective())
        ops.search(ops.immigration_officer(), IMMIGRATION)
        time.sleep(SCRAPE_SECONDS)
    ops.search(ops.detective(now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=10)))
    channel, stub = node_stub(ops.federation.nodes["kcso"].address, ops.pki.files("broker"))
    with channel:
        stub.Search(
            node_pb2.NodeServiceSearchRequest(
                request_id="unsigned", query=common_pb2.PersonQuery(surname="X")
            ),
            timeout=10,
        )


def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}")


def test_prometheus_scrapes_the_federation_and_answers_every_dashboard_query(
    prometheus_binary: str, loop: LoopThread, tmp_path: Path
) -> None:
    ops = run_ops_federation(loop, tmp_path / "federation")
    rules = tmp_path / "rules.yaml"
    spec = yaml.safe_load(PROMETHEUS_RULE.read_text(encoding="utf-8"))["spec"]
    rules.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(ops, rules)), encoding="utf-8")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "prometheus.log").open("w")
    server = subprocess.Popen(
        [
            prometheus_binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as answer:  # noqa: S310
                    return bool(answer.status == 200)
            except OSError:
                return False

        wait_for(ready, 60, "Prometheus to start")
        wait_for(lambda: scalar(base, "count(up == 1)") == 4, 30, "all four targets up")
        drive_traffic(ops)
        # Enough scrapes after the traffic for every rate() window to hold two samples.
        wait_for(
            lambda: (
                scalar(base, "sum(fieldgate_broker_searches_total)") >= 9
                and scalar(base, "min(count_over_time(up[1m]))") >= 8
            ),
            60,
            "the searches to be scraped",
        )
        time.sleep(3 * SCRAPE_SECONDS)

        dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
        queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
        assert len(queries) >= 15
        for query in queries:
            result = api(base, "/api/v1/query", query=query)["result"]
            assert result, f"no data for dashboard query {query}"
        # The numbers moved as the traffic says.
        assert scalar(base, "sum(fieldgate_broker_searches_total{outcome='complete'})") == 8
        assert scalar(base, "sum(fieldgate_broker_rejected_total)") == 1
        assert scalar(base, "sum(fieldgate_node_queries_total)") == 24
        assert scalar(base, "sum(fieldgate_node_denied_queries_total{agency='kcso'})") >= 4, (
            "the sanctuary county denies civil immigration"
        )
        assert scalar(base, "sum(fieldgate_node_verification_failures_total{agency='kcso'})") == 1
        assert scalar(base, "sum(rate(fieldgate_broker_searches_total[1m]))") > 0
        assert scalar(base, "count(fieldgate_node_ready == 1)") == 3

        groups = api(base, "/api/v1/rules")["groups"]
        evaluated = [r for g in groups for r in g["rules"]]
        assert len(evaluated) == sum(len(g["rules"]) for g in spec["groups"])
        for rule in evaluated:
            assert rule["health"] == "ok", rule
        firing = [a for a in api(base, "/api/v1/alerts")["alerts"] if a["state"] == "firing"]
        assert firing == [], firing
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()
        loop.run(ops.federation.stop())
