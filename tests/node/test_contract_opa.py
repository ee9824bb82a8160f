"""The OPA server back end: fail closed for real; the positive path needs a real `opa`.

No fake OPA here: a test server answering OPA-shaped JSON would only test
itself. The failures are real (a refused connection, a listener that never
answers, a plain HTTP server that is clearly not OPA); agreement with the
embedded engine is tested against a real `opa` binary when one is installed.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldgate.authoring.inputs import load_personas, load_records
from fieldgate.core.config import ConfigError
from fieldgate.node.config import node_config_from_document
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.config import PolicyConfig, load_policy_engine
from fieldgate.policy.engine import MissingContract, RegorusContract
from fieldgate.policy.engine_opa import OpaContract, load_opa_contract, parse_opa_url
from fieldgate.policy.errors import ContractError
from fieldgate.policy.evaluate import build_policy_input, decide_record

REPO = Path(__file__).resolve().parents[2]
SANCTUARY = REPO / "rego/contracts/sanctuary_county/contract.rego"
CATALOG = load_catalog(default_catalog_path())
PERSONAS = load_personas(REPO / "rego/personas")
RECORDS = load_records(REPO / "rego/examples", CATALOG)
PACKAGE = "fieldgate.contracts.sanctuary_county"
INPUT = build_policy_input(
    PERSONAS[0].claims, RECORDS[0], node_id="kcso", today=dt.date(2026, 11, 21)
)

HOW_TO_RUN_WITH_OPA = (
    "no `opa` binary on PATH: install Open Policy Agent (https://www.openpolicyagent.org/docs/"
    "latest/#running-opa, a single static binary) and re-run "
    "`pytest tests/node/test_contract_opa.py`; the test starts `opa run --server` itself"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_fails_closed() -> None:
    engine = OpaContract(f"http://127.0.0.1:{free_port()}", PACKAGE, timeout=2.0)
    try:
        with pytest.raises(ContractError, match=r"OPA at http://127\.0\.0\.1"):
            engine.evaluate(INPUT)
    finally:
        engine.close()


def test_a_listener_that_never_answers_times_out_and_fails_closed() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # accepted by the kernel, never read or answered
        port = listener.getsockname()[1]
        engine = OpaContract(f"http://127.0.0.1:{port}", PACKAGE, timeout=0.3)
        try:
            started = time.monotonic()
            with pytest.raises(ContractError, match=r"did not answer within 0\.3 s|timed out"):
                engine.evaluate(INPUT)
            assert time.monotonic() - started < 3.0
        finally:
            engine.close()


class _NotOpa(http.server.BaseHTTPRequestHandler):
    """A plain web server that is clearly not OPA: it answers every POST with an HTML page."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b"<html><body>It works!</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def not_opa() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotOpa)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_body_that_is_not_json_fails_closed(not_opa: str) -> None:
    engine = OpaContract(not_opa, PACKAGE, timeout=2.0)
    try:
        with pytest.raises(ContractError, match="failed"):
            engine.evaluate(INPUT)
    finally:
        engine.close()


def test_the_node_withholds_everything_when_opa_fails(not_opa: str) -> None:
    engine = load_opa_contract(SANCTUARY, not_opa, timeout=2.0)
    try:
        assert engine.name == PACKAGE
        assert len(engine.version) == 64
        verdict = decide_record(
            engine,
            PERSONAS[0].claims,
            RECORDS[0],
            CATALOG,
            node_id="kcso",
            today=dt.date(2026, 11, 21),
        )
        assert not verdict.disclose
        assert verdict.error
        assert all(f.outcome == "withheld" for f in verdict.fields)
    finally:
        engine.close()


def test_a_closed_client_fails_closed(not_opa: str) -> None:
    engine = OpaContract(not_opa, PACKAGE)
    engine.close()
    with pytest.raises(ContractError, match="closed"):
        engine.evaluate(INPUT)


@pytest.mark.parametrize(
    "url",
    ["ftp://opa:8181", "http://", "http://opa:8181/v1/data", "http://opa:99999", "opa:8181"],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ContractError):
        parse_opa_url(url)


def test_url_defaults_to_opa_port() -> None:
    assert parse_opa_url("http://opa.internal") == ("opa.internal", 8181, False)
    assert parse_opa_url("https://127.0.0.1:9181/") == ("127.0.0.1", 9181, True)


# --- [node.policy] ------------------------------------------------------------


def node_document(policy: dict[str, object] | None) -> dict[str, object]:
    node: dict[str, object] = {
        "id": "kcso",
        "agency_name": "KCSO",
        "database": "kcso.sqlite",
        "insecure": True,
        "contact": {"unit": "Records", "phone": "206-555-0100"},
    }
    if policy is not None:
        node["policy"] = policy
    return {"node": node}


def test_policy_defaults_to_the_embedded_engine(tmp_path: Path) -> None:
    config = node_config_from_document(node_document(None), tmp_path)
    assert config.policy == PolicyConfig()
    engine = load_policy_engine(config.policy, SANCTUARY, REPO / "rego/lib", CATALOG.classes())
    try:
        assert isinstance(engine, RegorusContract)
    finally:
        engine.close()


def test_policy_opa_is_configured_and_loaded(tmp_path: Path) -> None:
    document = node_document(
        {"engine": "opa", "url": "http://127.0.0.1:8181", "timeout_seconds": 0.5}
    )
    config = node_config_from_document(document, tmp_path)
    assert config.policy == PolicyConfig("opa", "http://127.0.0.1:8181", 0.5)
    engine = load_policy_engine(config.policy, SANCTUARY, None, CATALOG.classes())
    try:
        assert isinstance(engine, OpaContract)
        assert engine.name == PACKAGE
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("policy", "key"),
    [
        ({"engine": "wasm"}, "node.policy.engine"),
        ({"engine": "opa"}, "node.policy.url"),
        ({"engine": "opa", "url": "http://opa/v1/data"}, "node.policy.url"),
        ({"engine": "opa", "url": "http://opa", "timeout_seconds": 0}, "node.policy.timeout"),
        ({"engine": "embedded", "tiemout_seconds": 1}, "node.policy.tiemout_seconds"),
    ],
)
def test_bad_policy_config_names_the_key(
    tmp_path: Path, policy: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigError, match=key):
        node_config_from_document(node_document(policy), tmp_path)


def test_no_contract_means_nothing_is_released() -> None:
    engine = load_policy_engine(PolicyConfig("opa", "http://127.0.0.1:8181"), None, None, {})
    assert isinstance(engine, MissingContract)


# --- With a real OPA server ---------------------------------------------------


@pytest.fixture
def opa_server(tmp_path: Path) -> Iterator[str]:
    opa = shutil.which("opa")
    if opa is None:
        pytest.skip(HOW_TO_RUN_WITH_OPA)
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"catalog": CATALOG.classes()}))
    port = free_port()
    files = [str(REPO / "rego/lib/fieldgate/sharing.rego"), str(SANCTUARY), str(data)]
    process = subprocess.Popen(
        [opa, "run", "--server", "--addr", f"127.0.0.1:{port}", *files],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_opa_decides_like_the_embedded_engine(opa_server: str) -> None:
    today = dt.date(2026, 11, 21)
    opa = load_opa_contract(SANCTUARY, opa_server, timeout=5.0)
    embedded = RegorusContract(SANCTUARY, REPO / "rego/lib", CATALOG.classes())
    try:
        for persona in PERSONAS:
            for record in RECORDS:
                args = (persona.claims, record, CATALOG)
                assert decide_record(opa, *args, node_id="kcso", today=today) == decide_record(
                    embedded, *args, node_id="kcso", today=today
                ), (persona.name, record.record_id)
    finally:
        opa.close()
        embedded.close()
