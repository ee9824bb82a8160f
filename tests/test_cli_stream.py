"""``fieldgate search --stream`` as a person runs it: real processes, real servers."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from fieldgate.broker.limits import LimitsConfig
from fieldgate.devkit.local_federation import NodeSpec
from fieldgate.devkit.synthetic import DEMO_SUBJECT
from tests.conftest import DemoFederation
from tests.helpers.brokers import import_two_agencies, proxied_broker, stop_all, wait_until
from tests.helpers.federation import LoopThread
from tests.test_cli import AGENCY_KEYS, DETECTIVE_FLAGS, FIELDGATE, SUMMARY_KEYS, run

# The documented JSON-lines shape (README, "Search results as JSON").
STREAM_KEYS = {
    "started": {"schema", "event", "request_id", "agencies", "progress"},
    "agency": {"schema", "event", "request_id", "agency", "progress"},
    "summary": {"schema", "event", "request_id", "summary", "progress"},
}
PROGRESS_KEYS = {"answered", "pending", "failed"}
SEARCH = ["--surname", DEMO_SUBJECT.surname, "--given", DEMO_SUBJECT.given_name]
SEARCH += ["--dob", DEMO_SUBJECT.dob, *DETECTIVE_FLAGS]
STREAM_FOR_9_SECONDS = ["--deadline", "9", "--json", "--stream"]


def test_json_stream_has_the_documented_shape_and_the_unary_content(
    demo: DemoFederation,
) -> None:
    streamed = run("search", "--broker", demo.broker_address, *SEARCH, "--json", "--stream")
    assert streamed.returncode == 0, streamed.stderr
    lines = [json.loads(line) for line in streamed.stdout.splitlines()]
    assert [line["event"] for line in lines] == ["started", "agency", "agency", "agency", "summary"]
    for line in lines:
        assert set(line) == STREAM_KEYS[line["event"]]
        assert line["schema"] == "fieldgate.search-stream/v1"
        assert line["request_id"] == lines[0]["request_id"]
        assert set(line["progress"]) == PROGRESS_KEYS
    assert [a["node_id"] for a in lines[0]["agencies"]] == ["kcso", "spd", "pcso"]
    assert set(lines[-1]["summary"]) == SUMMARY_KEYS
    assert lines[-1]["progress"] == {"answered": 3, "pending": 0, "failed": 0}

    unary = run("search", "--broker", demo.broker_address, *SEARCH, "--json")
    assert unary.returncode == 0, unary.stderr
    document = json.loads(unary.stdout)
    agencies = {line["agency"]["node_id"]: line["agency"] for line in lines[1:-1]}
    for agency in agencies.values():
        assert set(agency) == AGENCY_KEYS
    # Each streamed agency object is the one the unary document holds, but for the
    # hits' references: each search gets its own (node/references.py).
    unary_agencies = {a["node_id"]: a for a in document["agencies"]}
    for by_node in (agencies, unary_agencies):
        for agency in by_node.values():
            for hit in agency["hits"]:
                assert hit.pop("reference"), "every hit carries a reference"
    assert agencies == unary_agencies
    assert lines[-1]["summary"] == document["summary"]


def test_table_stream_shows_every_agency_and_the_progress(demo: DemoFederation) -> None:
    done = run("search", "--broker", demo.broker_address, *SEARCH, "--stream")
    assert done.returncode == 0, done.stderr
    for agency in ("King County Sheriff's Office", "Seattle Police Department"):
        assert agency in done.stdout
    assert "answered 3 / pending 0 / failed 0" in done.stdout
    assert "3/3 agencies answered" in done.stdout


@pytest.fixture(scope="module")
def two_agencies(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[NodeSpec], Path]:
    return import_two_agencies(tmp_path_factory.mktemp("cli-stream"))


def test_ctrl_c_cancels_the_search_at_the_broker(
    loop: LoopThread, two_agencies: tuple[list[NodeSpec], Path]
) -> None:
    specs, workdir = two_agencies
    nodes, proxy, broker = loop.run(proxied_broker(specs, workdir, LimitsConfig(enabled=False)))
    try:
        warm = run("search", "--broker", broker.address, *SEARCH, "--json")
        assert warm.returncode == 0, warm.stderr  # the proxied connection is up
        proxy.mode = "blackhole"  # the second agency never answers now
        process = subprocess.Popen(
            [FIELDGATE, "search", "--broker", broker.address, *SEARCH, *STREAM_FOR_9_SECONDS],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            started = json.loads(process.stdout.readline())
            first = json.loads(process.stdout.readline())
            assert first["event"] == "agency"
            assert first["progress"] == {"answered": 1, "pending": 1, "failed": 0}
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=5)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        assert process.returncode == 130
        assert f"search cancelled (request {started['request_id']})" in stderr
        assert "Traceback" not in stderr
        # The broker stopped asking and logged what it had asked.
        assert broker.limits is not None
        assert broker.search_log is not None
        wait_until(loop, lambda: broker.limits.in_flight == 0)  # type: ignore[union-attr]
        wait_until(loop, lambda: len(broker.search_log.rows()) == 2)  # type: ignore[union-attr]
        assert broker.search_log.rows()[-1]["request_id"] == started["request_id"]
    finally:
        stop_all(loop, nodes, proxy, broker)
