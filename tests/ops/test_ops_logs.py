"""Structured logs: one JSON object per line, with the request id on the broker and every node.

The last test runs the real commands — ``fieldgate node serve --log-format
json`` and a broker whose config says ``log_format = "json"`` — as separate
processes, sends a search, stops them with SIGTERM and follows the search's
request id through both processes' stderr.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldgate.client.broker_client import SearchClient
from fieldgate.client.results import SearchResult
from fieldgate.core.logs import JsonFormatter, TextFormatter, request_context
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.policy.shipped import rego_root, shipped_contract
from tests.helpers.federation import LoopThread
from tests.helpers.ops import OpsFederation, health, parse, run_ops_federation, scrape, value

FIELDGATE = str(Path(sys.executable).with_name("fieldgate"))


def test_json_lines_carry_time_level_logger_message_and_request_id() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("fieldgate.test-json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("outside any search")
        with request_context("abc123"):
            logger.warning("inside %s", "a search")
            try:
                raise ValueError("boom\nsecond line")
            except ValueError:
                logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3, "one line per record, even with a multi-line traceback"
    first, second, third = map(json.loads, lines)
    assert set(first) == {"time", "level", "logger", "message"}
    assert first["level"] == "WARNING"
    assert first["logger"] == "fieldgate.test-json"
    assert dt.datetime.fromisoformat(first["time"]).tzinfo is not None
    assert second["message"] == "inside a search"
    assert second["request_id"] == "abc123"
    assert third["request_id"] == "abc123"
    assert "ValueError: boom" in third["exception"]


def test_text_lines_show_the_request_id() -> None:
    record = logging.LogRecord("fieldgate.node", logging.INFO, __file__, 1, "hello", None, None)
    with request_context("r-1"):
        assert "fieldgate.node [r-1]: hello" in TextFormatter().format(record)
    assert "fieldgate.node: hello" in TextFormatter().format(record)


@pytest.fixture(scope="module")
def ops(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpsFederation]:
    federation = run_ops_federation(loop, tmp_path_factory.mktemp("ops-logs"))
    yield federation
    loop.run(federation.federation.stop())


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def test_the_request_id_follows_a_search_from_the_broker_to_every_node(
    ops: OpsFederation,
) -> None:
    collect = Collect()
    root = logging.getLogger("fieldgate")
    level = root.level
    root.addHandler(collect)
    root.setLevel(logging.INFO)
    try:
        result = ops.search(ops.detective())
    finally:
        root.removeHandler(collect)
        root.setLevel(level)
    assert isinstance(result, SearchResult)
    mine = [line for line in collect.lines if line.get("request_id") == result.request_id]
    assert any(line["logger"] == "fieldgate.broker" for line in mine), collect.lines
    for node_id in ops.federation.nodes:
        assert any(
            line["logger"] == "fieldgate.node" and f"node {node_id} answered" in line["message"]
            for line in mine
        ), (node_id, collect.lines)
    others = {line.get("request_id") for line in collect.lines} - {result.request_id, None}
    assert not others, "no other search's id leaked into these lines"


def start(args: list[str], lines: int) -> tuple[subprocess.Popen[str], list[str]]:
    """Start a server; return it and its first ``lines`` stdout lines (address, ports)."""
    process = subprocess.Popen(
        [FIELDGATE, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    first = [process.stdout.readline() for _ in range(lines)]
    assert "listening on" in first[0], first[0] + (process.stderr.read() if process.stderr else "")
    return process, first


def after(lines: list[str], marker: str) -> str:
    (line,) = [line for line in lines if marker in line]
    return line.split(marker)[1].split()[0]


def stop(process: subprocess.Popen[str]) -> list[dict[str, str]]:
    """SIGTERM; return its stderr as parsed JSON lines (every line must be one)."""
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def test_serve_commands_log_json_lines_with_the_request_id(tmp_path: Path) -> None:
    agency = DEMO_AGENCIES[2]
    records = tmp_path / "pcso.jsonl"
    write_jsonl(generate_agency_records(agency, count=40, seed=4), records)
    subprocess.run(
        [FIELDGATE, "node", "import", "--db", str(tmp_path / "pcso.sqlite"), str(records)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    node_toml = tmp_path / "pcso.toml"
    node_toml.write_text(
        f"""[node]
id = "pcso"
agency_name = "Pierce County Sheriff's Department"
listen = "127.0.0.1:0"
insecure = true
database = "pcso.sqlite"
contract = "{shipped_contract("permissive")}"
rego_library = "{rego_root() / "lib"}"

[node.contact]
unit = "Records"
phone = "253-555-0130"

[node.metrics]
listen = "127.0.0.1:0"

[node.maintenance]
listen = "127.0.0.1:0"
""",
        encoding="utf-8",
    )
    node, node_lines = start(
        ["node", "serve", "--config", str(node_toml), "--log-format", "json"], 3
    )
    try:
        node_address = after(node_lines, "listening on ")
        node_health = after(node_lines, "health on ")
        node_metrics = after(node_lines, "metrics on ")
        broker_toml = tmp_path / "broker.toml"
        broker_toml.write_text(
            f"""[broker]
listen = "127.0.0.1:0"
insecure = true
log_format = "json"
search_log = "searches.sqlite"

[broker.maintenance]
listen = "127.0.0.1:0"

[[nodes]]
id = "pcso"
agency_name = "Pierce County Sheriff's Department"
address = "{node_address}"
""",
            encoding="utf-8",
        )
        broker, broker_lines = start(["broker", "serve", "--config", str(broker_toml)], 2)
        try:
            broker_address = after(broker_lines, "listening on ")
            assert health(int(node_health.rsplit(":", 1)[1])) == "SERVING"
            assert health(int(after(broker_lines, "health on ").rsplit(":", 1)[1])) == "SERVING"
            requester = demo_personas(dt.date.today())[0].requester
            with SearchClient(broker_address) as client:
                result = client.search(
                    requester,
                    surname=DEMO_SUBJECT.surname,
                    given_name=DEMO_SUBJECT.given_name,
                    dob=DEMO_SUBJECT.dob,
                )
            assert [a.status for a in result.agencies] == ["answered"]
            port = int(node_metrics.split(":")[-1].split("/")[0])
            samples = parse(scrape(port))
            assert value(samples, "fieldgate_node_queries_total") == 1
        finally:
            broker_log = stop(broker)
    finally:
        node_log = stop(node)
    rid = result.request_id
    assert any(line.get("request_id") == rid for line in broker_log), broker_log
    assert any(
        line.get("request_id") == rid and "answered" in line["message"] for line in node_log
    ), node_log
    assert all({"time", "level", "logger", "message"} <= set(line) for line in node_log)


NATIVE_NOISE = """
import logging, os, sys
from fieldgate.core.logs import capture_native_stderr, configure_logging
configure_logging("json", logging.INFO)
capture_native_stderr()
logging.getLogger("fieldgate.node").info("started")
# What gRPC's C core does: a raw line on descriptor 2, past the logging module.
os.write(2, b"E0000 00:00:1700000000.000000   4242 chttp2_transport.cc:1234] ssl handshake\\n")
sys.stderr.write("a stray print to stderr\\n")
sys.stderr.flush()
logging.getLogger("fieldgate.node").info("done")
"""


def test_native_stderr_lines_become_json_lines_too() -> None:
    done = subprocess.run(
        [sys.executable, "-c", NATIVE_NOISE], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    messages = {line["message"]: line["logger"] for line in lines}
    assert messages["started"] == "fieldgate.node"
    assert "done" in messages
    native = [m for m, logger in messages.items() if logger == "grpc.native"]
    assert len(native) == 2
    assert "ssl handshake" in native[0]
    assert native[1] == "a stray print to stderr"
