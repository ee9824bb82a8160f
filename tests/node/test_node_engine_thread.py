"""A search's records are decided on the contract engine's thread (``RegorusContract.run``).

A regorus engine answers only the thread that made it. A node therefore
decides all of a search's records in one job on that thread, where each
evaluation is a direct call instead of a hand-off; these tests pin what that
must keep: the time limit, fail-closed evaluation errors, a clean close from
the thread itself, and a search that still answers when a bundle reload closed
its engine under it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from fieldgate.core.claims import validate_requester
from fieldgate.core.logs import request_context, request_id_var
from fieldgate.core.query import validate_query
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import (
    LocalFederation,
    NodeSpec,
    import_records,
    node_config,
    start_federation,
)
from fieldgate.node.disclosure_log import MemoryDisclosureLog
from fieldgate.node.server import build_node
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.engine import RegorusContract
from fieldgate.policy.errors import ContractError
from fieldgate.v2 import common_pb2
from tests.conftest import write_contract
from tests.helpers.federation import LoopThread, search_node

CATALOG = load_catalog(default_catalog_path())
DETECTIVE = demo_personas(dt.date.today())[0].requester

RELEASE_SURNAME = """package fieldgate.contracts.surname_only
import rego.v1
decision := {"disclose": true, "release": {"surname"}, "mask": {}}
"""

CONFLICTING = """package fieldgate.contracts.conflicting
import rego.v1
decision := {"disclose": true, "release": {"surname"}, "mask": {}} if true
decision := {"disclose": true, "release": {"given_name"}, "mask": {}} if true
"""

SLOW = """package fieldgate.contracts.slow
import rego.v1
decision := {"disclose": true, "release": {"surname"}, "mask": {}} if {
    count([x | some x in numbers.range(1, 3000000)]) > 0
}
"""

SUBJECT = {
    "record_id": "R-1",
    "record_kind": "incident_report",
    "surname": "DOE",
    "given_name": "JOHN",
    "dob": "1980-04-12",
}


def contract(tmp_path: Path, text: str, timeout: float = 2.0) -> RegorusContract:
    return RegorusContract(
        write_contract(tmp_path, "c.rego", text), None, CATALOG.classes(), timeout=timeout
    )


def test_an_evaluation_asked_on_the_engine_thread_is_a_direct_call(tmp_path: Path) -> None:
    # Handed off to itself, the evaluation would wait on its own queue until the
    # time limit and fail; asked directly it answers at once.
    engine = contract(tmp_path, RELEASE_SURNAME, timeout=0.5)
    try:
        answer = engine.executor.submit(engine.evaluate, {"record": {"fields": ["surname"]}})
        assert answer.result(timeout=10) == {"disclose": True, "release": {"surname"}, "mask": {}}
        names = engine.executor.submit(lambda: threading.current_thread().name)
        assert names.result(timeout=10) == "contract-fieldgate.contracts.surname_only"
    finally:
        engine.close()


def test_run_is_on_the_engine_thread_and_in_place_when_already_there(tmp_path: Path) -> None:
    engine = contract(tmp_path, RELEASE_SURNAME)
    name = "contract-fieldgate.contracts.surname_only"
    try:
        assert engine.run(lambda: threading.current_thread().name) == name
        # Asked from its own thread, run must not queue behind itself.
        nested = engine.run(lambda: engine.run(lambda: threading.current_thread().name))
        assert nested == name
    finally:
        engine.close()
    assert engine.run(lambda: threading.current_thread().name) == threading.current_thread().name


def test_run_carries_the_callers_request_id(tmp_path: Path) -> None:
    engine = contract(tmp_path, RELEASE_SURNAME)
    try:
        with request_context("req-42"):
            assert engine.run(request_id_var.get) == "req-42"
        assert engine.run(request_id_var.get) == ""
    finally:
        engine.close()


# The exit is meant to end the engine's thread; pytest reports any exception that does.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_an_engine_thread_that_dies_leaves_nobody_waiting(tmp_path: Path) -> None:
    engine = contract(tmp_path, RELEASE_SURNAME)
    with pytest.raises(ContractError, match="engine stopped: SystemExit"):
        engine.run(lambda: sys.exit(3))  # what a stray exit in a job would do
    engine.executor.shutdown()  # returns: the thread is gone
    with pytest.raises(RuntimeError, match="closed"):
        engine.executor.submit(lambda: None)
    # Later searches decide in place and fail closed: nothing is released.
    with pytest.raises(ContractError, match="closed"):
        engine.run(lambda: engine.evaluate({"record": {"fields": ["surname"]}}))


def test_an_evaluation_past_its_limit_fails_on_the_engine_thread_too(tmp_path: Path) -> None:
    engine = contract(tmp_path, SLOW, timeout=0.01)
    try:
        direct = engine.executor.submit(engine.evaluate, {"record": {"fields": ["surname"]}})
        with pytest.raises(ContractError, match=r"took longer than 0\.0 s"):
            direct.result(timeout=30)
    finally:
        engine.close()


def test_closing_from_the_engine_thread_runs_what_was_queued_and_refuses_more(
    tmp_path: Path,
) -> None:
    engine = contract(tmp_path, RELEASE_SURNAME)
    executor = engine.executor

    def retire_self() -> Future[str]:
        queued = executor.submit(lambda: "ran after the close")
        engine.close()  # from its own thread: must not wait for itself
        return queued

    queued = executor.submit(retire_self).result(timeout=10)
    assert queued.result(timeout=10) == "ran after the close"
    with pytest.raises(RuntimeError, match="closed"):
        executor.submit(lambda: None)
    # Closed, an engine decides nothing; the node withholds the record.
    with pytest.raises(ContractError, match="closed"):
        engine.evaluate({"record": {"fields": ["surname"]}})


def test_a_search_whose_engine_was_closed_under_it_still_answers(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps(SUBJECT) + "\n")
    spec = NodeSpec("kcso", "KCSO", write_contract(tmp_path, "s.rego", RELEASE_SURNAME), records)
    import_records(spec, tmp_path)
    node = build_node(node_config(spec, tmp_path), MemoryDisclosureLog())
    query = validate_query(
        common_pb2.PersonQuery(surname="DOE", given_name="JOHN", dob="1980-04-12", max_hits=5)
    )
    first, second = DETECTIVE.to_message(), DETECTIVE.to_message()
    second.case_number += "-2"  # a new input: no remembered decision can answer it
    try:
        hits = node.search("open", validate_requester(first), query)
        assert [h.record_id for h in hits] == ["R-1"]
        node.contract.close()  # as a reload does once the last search is done
        hits = node.search("closed", validate_requester(second), query)
        assert hits == []  # decided on the caller's thread, and released nothing
        assert [len(e.disclosed_record_ids) for e in node._log.entries] == [1, 0]  # type: ignore[attr-defined]
    finally:
        node.store.close()


@pytest.fixture(scope="module")
def federation(
    loop: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalFederation]:
    workdir = tmp_path_factory.mktemp("engine-thread")
    records = workdir / "records.jsonl"
    records.write_text(json.dumps(SUBJECT) + "\n")
    spec = NodeSpec("kcso", "KCSO", write_contract(workdir, "c.rego", CONFLICTING), records)
    import_records(spec, workdir)
    running = loop.run(start_federation([spec], workdir))
    yield running
    loop.run(running.stop())


def test_a_served_search_is_decided_on_its_contract_engine_thread(
    federation: LocalFederation, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="fieldgate.node"):
        answer = search_node(federation.nodes["kcso"].address, DETECTIVE.to_message())
    assert not answer.hits  # the contract cannot decide: nothing leaves
    failures = [r for r in caplog.records if "failed to decide" in r.getMessage()]
    assert failures, "the node logged the contract's failure"
    assert {r.threadName for r in failures} == {"contract-fieldgate.contracts.conflicting"}
