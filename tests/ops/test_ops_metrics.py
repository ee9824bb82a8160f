"""Prometheus metrics of a real secure federation, scraped over HTTP after real searches.

Each node and the broker serve their own registry on their own port; a search
through the broker must move exactly the series it should, on the broker and
on every node, and the scraped text must satisfy ``promtool check metrics``.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldgate.client.broker_client import SearchError
from fieldgate.client.results import HitView, SearchResult
from fieldgate.core.vocabulary import AGENCY_TYPES, PURPOSES
from fieldgate.devkit.synthetic import DEMO_SUBJECT
from fieldgate.policy.catalog import SENSITIVITY_CLASSES
from fieldgate.trust.verify import REASONS
from fieldgate.v2 import common_pb2, node_pb2
from tests.helpers.federation import LoopThread, node_stub
from tests.helpers.ops import (
    CRIMINAL,
    IMMIGRATION,
    OpsFederation,
    Samples,
    label_values,
    parse,
    run_ops_federation,
    scrape,
    value,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
NODE_IDS = ("kcso", "spd", "pcso")


@pytest.fixture(scope="module")
def ops(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpsFederation]:
    federation = run_ops_federation(loop, tmp_path_factory.mktemp("ops-metrics"))
    yield federation
    loop.run(federation.federation.stop())


def scrape_all(ops: OpsFederation) -> dict[str, Samples]:
    """Every process's series; a node's public and agency-only series together."""
    samples = {name: parse(scrape(port)) for name, port in ops.metrics_ports().items()}
    for name, port in ops.private_metrics_ports().items():
        samples[name] = {**samples[name], **parse(scrape(port))}
    return samples


def every_port(ops: OpsFederation) -> dict[str, int]:
    """Every metrics port: the broker's, each node's public one and its agency-only one."""
    private = {f"{n}-private": p for n, p in ops.private_metrics_ports().items()}
    return {**ops.metrics_ports(), **private}


def delta(before: Samples, after: Samples, metric: str, /, **labels: str) -> float:
    return value(after, metric, **labels) - value(before, metric, **labels)


def answered(result: SearchResult | SearchError) -> SearchResult:
    assert isinstance(result, SearchResult), result
    return result


def hits_at(result: SearchResult, node_id: str) -> list[HitView]:
    (agency,) = [a for a in result.agencies if a.node_id == node_id]
    assert agency.status == "answered", agency
    return list(agency.hits)


def test_every_node_and_the_broker_serve_their_own_metrics(ops: OpsFederation) -> None:
    ports = ops.metrics_ports()
    assert set(ports) == {"broker", *NODE_IDS}
    assert len(set(ports.values())) == 4, "each registry on its own port"
    samples = scrape_all(ops)
    for node_id in NODE_IDS:
        node = samples[node_id]
        assert value(node, "fieldgate_node_records") == ops.records[node_id]
        contract = ops.federation.nodes[node_id].node.contract
        info = value(
            node, "fieldgate_node_contract_info", name=contract.name, version=contract.version
        )
        assert info == 1
        assert value(node, "fieldgate_node_ready") == 1
        assert not any(n.startswith("fieldgate_broker_") for n, _ in node)
    assert not any(n.startswith("fieldgate_node_") for n, _ in samples["broker"])
    assert label_values(samples["broker"], "fieldgate_broker_node_calls_total", "node") == set(
        NODE_IDS
    )


def test_a_search_moves_the_broker_and_every_node(ops: OpsFederation) -> None:
    before = scrape_all(ops)
    detective = answered(ops.search(ops.detective()))
    officer = answered(ops.search(ops.immigration_officer(), IMMIGRATION))
    after = scrape_all(ops)

    broker_before, broker_after = before["broker"], after["broker"]
    for purpose in ("criminal_investigation", "civil_immigration"):
        assert (
            delta(
                broker_before,
                broker_after,
                "fieldgate_broker_searches_total",
                purpose=purpose,
                outcome="complete",
            )
            == 1
        )
    assert delta(broker_before, broker_after, "fieldgate_broker_search_seconds_count") == 2
    assert delta(broker_before, broker_after, "fieldgate_broker_nodes_answering_count") == 2
    assert delta(broker_before, broker_after, "fieldgate_broker_nodes_answering_sum") == 6
    for node_id in NODE_IDS:
        assert (
            delta(
                broker_before,
                broker_after,
                "fieldgate_broker_node_calls_total",
                node=node_id,
                status="answered",
            )
            == 2
        )
        assert (
            delta(
                broker_before,
                broker_after,
                "fieldgate_broker_node_call_seconds_count",
                node=node_id,
            )
            == 2
        )
    assert (
        delta(
            broker_before,
            broker_after,
            "grpc_server_handled_total",
            grpc_service="fieldgate.v2.BrokerService",
            grpc_method="Search",
            grpc_code="OK",
        )
        == 2
    )
    assert (
        delta(
            broker_before,
            broker_after,
            "grpc_server_started_total",
            grpc_service="fieldgate.v2.BrokerService",
            grpc_method="Search",
        )
        == 2
    )

    for node_id in NODE_IDS:
        b, a = before[node_id], after[node_id]
        hits = [h for r in (detective, officer) for h in hits_at(r, node_id)]
        assert (
            delta(
                b,
                a,
                "fieldgate_node_queries_total",
                agency_type="local_law_enforcement",
                purpose="criminal_investigation",
            )
            == 1
        )
        assert (
            delta(
                b,
                a,
                "fieldgate_node_queries_total",
                agency_type="civil_immigration",
                purpose="civil_immigration",
            )
            == 1
        )
        found = delta(b, a, "fieldgate_node_hits_total", outcome="found")
        disclosed = delta(b, a, "fieldgate_node_hits_total", outcome="disclosed")
        withheld = delta(b, a, "fieldgate_node_hits_total", outcome="withheld")
        assert disclosed == len(hits), node_id
        assert found == disclosed + withheld
        assert found >= len(DEMO_SUBJECT.records_at(node_id))
        whole = sum(1 for h in hits for v in h.fields.values() if not v.mask)
        masked = sum(1 for h in hits for v in h.fields.values() if v.mask)
        assert delta(b, a, "fieldgate_node_fields_total", outcome="released") == whole
        assert delta(b, a, "fieldgate_node_fields_total", outcome="masked") == masked
        if withheld:
            assert delta(b, a, "fieldgate_node_fields_total", outcome="withheld") > 0
        evaluations = delta(b, a, "fieldgate_node_policy_evaluation_seconds_count")
        # At most twice per record: one decided on names alone (its date of birth
        # withheld from the requester) is asked again as a possible match.
        assert 1 <= evaluations <= 2 * found
        assert delta(b, a, "fieldgate_node_policy_errors_total") == 0
        assert delta(b, a, "fieldgate_node_audit_write_seconds_count") == 2
        assert delta(b, a, "fieldgate_node_audit_write_failures_total") == 0
        assert (
            delta(
                b,
                a,
                "grpc_server_handled_total",
                grpc_service="fieldgate.v2.NodeService",
                grpc_method="Search",
                grpc_code="OK",
            )
            == 2
        )

    # The sanctuary county withholds everything from civil immigration: a denied query there.
    assert hits_at(officer, "kcso") == []
    assert (
        delta(
            before["kcso"],
            after["kcso"],
            "fieldgate_node_denied_queries_total",
            agency_type="civil_immigration",
            purpose="civil_immigration",
        )
        == 1
    )


def test_a_streamed_search_is_counted_as_a_server_stream(ops: OpsFederation) -> None:
    before = scrape_all(ops)["broker"]
    with ops.client() as client:
        updates = list(
            client.search_stream(
                CRIMINAL,
                surname=DEMO_SUBJECT.surname,
                given_name=DEMO_SUBJECT.given_name,
                dob=DEMO_SUBJECT.dob,
                identity=ops.detective(),
            )
        )
    assert updates
    after = scrape_all(ops)["broker"]
    labels = {"grpc_type": "server_stream", "grpc_service": "fieldgate.v2.BrokerService"}
    method = {**labels, "grpc_method": "SearchStream"}
    assert delta(before, after, "grpc_server_started_total", **method) == 1
    assert delta(before, after, "grpc_server_handled_total", **method, grpc_code="OK") == 1
    assert delta(before, after, "grpc_server_handling_seconds_count", **method) == 1


def test_a_repeated_search_is_decided_from_the_decision_cache(ops: OpsFederation) -> None:
    first = scrape_all(ops)
    answered(ops.search(ops.detective()))
    between = scrape_all(ops)
    answered(ops.search(ops.detective()))
    after = scrape_all(ops)
    asked_anywhere = 0.0
    for node_id in NODE_IDS:
        lookups = "fieldgate_node_decision_cache_lookups_total"
        evaluations = "fieldgate_node_policy_evaluation_seconds_count"
        once = delta(first[node_id], between[node_id], evaluations)
        # Every evaluation is one lookup: a hit or a miss.
        assert once == delta(first[node_id], between[node_id], lookups, result="hit") + delta(
            first[node_id], between[node_id], lookups, result="miss"
        )
        # The same requester asking the same again: no new question for the engine.
        again = delta(between[node_id], after[node_id], evaluations)
        assert again == once
        assert delta(between[node_id], after[node_id], lookups, result="hit") == again
        assert delta(between[node_id], after[node_id], lookups, result="miss") == 0
        asked_anywhere += again
    assert asked_anywhere > 0  # the subject is held somewhere, so contracts were asked


def test_refusals_are_counted_by_reason_where_they_happen(ops: OpsFederation) -> None:
    before = scrape_all(ops)
    # An expired credential: the broker refuses it early.
    expired = ops.detective(now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=10))
    refusal = ops.search(expired)
    assert isinstance(refusal, SearchError)
    # An unsigned search straight to one node (as a compromised broker would send it).
    channel, stub = node_stub(ops.federation.nodes["spd"].address, ops.pki.files("broker"))
    with channel:
        answer = stub.Search(
            node_pb2.NodeServiceSearchRequest(
                request_id="unsigned-probe",
                query=common_pb2.PersonQuery(surname=DEMO_SUBJECT.surname, dob=DEMO_SUBJECT.dob),
            ),
            timeout=10,
        )
    assert list(answer.hits) == []
    after = scrape_all(ops)

    broker_b, broker_a = before["broker"], after["broker"]
    assert (
        delta(broker_b, broker_a, "fieldgate_broker_rejected_total", reason="credential_expired")
        == 1
    )
    assert (
        delta(
            broker_b,
            broker_a,
            "fieldgate_broker_searches_total",
            purpose="unknown",
            outcome="rejected",
        )
        == 1
    )
    assert (
        delta(
            broker_b,
            broker_a,
            "grpc_server_handled_total",
            grpc_method="Search",
            grpc_code="UNAUTHENTICATED",
        )
        == 1
    )
    assert delta(broker_b, broker_a, "fieldgate_broker_node_calls_total") == 0
    # Only the node that was called counts it, and under the verifier's reason.
    assert (
        delta(
            before["spd"],
            after["spd"],
            "fieldgate_node_verification_failures_total",
            reason="unsigned",
        )
        == 1
    )
    for node_id in ("kcso", "pcso"):
        assert (
            delta(before[node_id], after[node_id], "fieldgate_node_verification_failures_total")
            == 0
        )
    assert delta(before["spd"], after["spd"], "fieldgate_node_queries_total") == 0


def test_labels_come_from_bounded_sets_and_never_name_anyone(ops: OpsFederation) -> None:
    answered(ops.search(ops.detective()))
    texts = {name: scrape(port) for name, port in every_port(ops).items()}
    forbidden = {DEMO_SUBJECT.surname.lower(), DEMO_SUBJECT.given_name.lower(), "det-4711"}
    forbidden |= {r.record_id.lower() for n in NODE_IDS for r in DEMO_SUBJECT.records_at(n)}
    for name, text in texts.items():
        labels = set(re.findall(r'="([^"]*)"', text))
        assert not {v.lower() for v in labels} & forbidden, name
    node = {**parse(texts["kcso"]), **parse(texts["kcso-private"])}
    assert label_values(node, "fieldgate_node_queries_total", "agency_type") <= set(AGENCY_TYPES)
    assert label_values(node, "fieldgate_node_queries_total", "purpose") <= set(PURPOSES)
    assert label_values(node, "fieldgate_node_verification_failures_total", "reason") == set(
        REASONS
    )
    assert label_values(node, "fieldgate_node_fields_total", "sensitivity") <= {
        *SENSITIVITY_CLASSES,
        "unclassified",
        "other",
    }
    assert label_values(node, "fieldgate_node_hits_total", "outcome") == {
        "found",
        "disclosed",
        "withheld",
    }
    broker = parse(texts["broker"])
    assert label_values(broker, "fieldgate_broker_node_calls_total", "status") == {
        "answered",
        "not_answering",
        "deadline",
        "unreachable",
        "error",
    }
    assert label_values(node, "fieldgate_node_not_answering_total", "reason") == {
        "no_contract",
        "trust_stale",
        "trust_unavailable",
        "audit_unavailable",
    }


def test_promtool_accepts_every_scrape(ops: OpsFederation, promtool: str) -> None:
    answered(ops.search(ops.detective()))
    for name, port in every_port(ops).items():
        text = scrape(port)
        check = subprocess.run(
            [promtool, "check", "metrics"],
            input=text,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert check.returncode == 0, f"{name}: {check.stdout}{check.stderr}"


def test_docs_list_every_metric_served(ops: OpsFederation) -> None:
    documented = DOCS.read_text(encoding="utf-8")
    served: set[str] = set()
    for port in every_port(ops).values():
        text = scrape(port)
        served |= set(re.findall(r"^# TYPE (\S+) ", text, flags=re.MULTILINE))
    ours = {n for n in served if n.startswith(("fieldgate_", "grpc_server_"))}
    assert ours, "no Fieldgate metric served"
    for name in sorted(ours):
        shown = f"{name}_total" if f"{name}_total" in documented else name
        assert f"`{shown}`" in documented, f"{name} missing from docs/metrics.md"
    listed = set(re.findall(r"`((?:fieldgate|grpc_server)_[a-z_]+)`", documented))
    for name in sorted(listed):
        base = name.removesuffix("_total")
        assert base in ours or name in ours, f"docs/metrics.md lists {name}, which nothing serves"
