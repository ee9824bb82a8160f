"""A broker over a signed trust directory of 1,004 nodes, through real gRPC and mutual TLS.

Three real agency nodes, 1,000 directory entries that are not running (a
hundred pointed at a closed loopback port, the rest at the template's
addresses, which no search here addresses) and one whose address leads to
another agency's node. The broker must start without
dialling any of them, list them all a page at a time, answer a search whose
closed nodes show as "did not answer" (unreachable, not timed out: they fail
at once, not at the deadline), refuse a unary search too large for one answer
(the client then streams it), summarise the large search in ``fieldgate
search``, pick up a directory change, and refuse to start when RLIMIT_NOFILE
cannot cover a connection per node.
"""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from click.testing import CliRunner

from fieldgate.broker.config import BrokerConfig, DirectoryConfig, FanoutConfig
from fieldgate.broker.directory import MAX_PAGE_SIZE, page_token
from fieldgate.broker.fd_limit import fds_needed
from fieldgate.broker.server import RunningBroker, start_broker
from fieldgate.cli.main import cli
from fieldgate.client.answer_check import AnswerCheck
from fieldgate.client.broker_client import (
    AsyncSearchClient,
    Requester,
    SearchClient,
    SearchError,
    build_request,
)
from fieldgate.client.results import SearchResult
from fieldgate.client.scale import MAX_LIST_PAGES
from fieldgate.core.tls import DevPKI
from fieldgate.devkit.demo import CONTRACT_OF
from fieldgate.devkit.dev_trust import DevTrust
from fieldgate.devkit.local_federation import (
    BROKER_NAME,
    LocalFederation,
    NodeSpec,
    import_records,
    start_federation,
)
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.policy.shipped import shipped_contract
from fieldgate.trust.config import build_store
from fieldgate.trust.keys import save_private_key
from fieldgate.trust.tokens import Identity
from fieldgate.v2 import broker_pb2
from tests.helpers.federation import LoopThread, broker_stub
from tests.helpers.hostile_broker import HostileBroker

REAL = tuple(a.node_id for a in DEMO_AGENCIES)
CLOSED = tuple(f"closed-{i:04d}" for i in range(1000))
DIALLED_CLOSED = CLOSED[:100]
"""Closed entries given an override to a closed loopback port; the rest use the template."""
UNARY_LIMIT = 8
DECOY = "decoy"
"""A directory node whose address is another agency's node."""
ALL = (*REAL, *CLOSED, DECOY)
CLI = (sys.executable, "-c", "from fieldgate.cli.main import main; main()")
CRIMINAL = Requester("", "", "", "criminal_investigation", "KC-2026-0042")
SUBJECT = {"surname": DEMO_SUBJECT.surname, "dob": DEMO_SUBJECT.dob}


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class DirectoryFederation:
    nodes: LocalFederation
    broker: RunningBroker
    kit: DevTrust
    pki: DevPKI
    config: BrokerConfig

    def client(self) -> SearchClient:
        """A verifying client: the bundle's node keys seal its queries and check answers."""
        return SearchClient(
            self.broker.address,
            self.pki.files("investigator"),
            answers=AnswerCheck(build_store(self.kit.config())),
        )

    def requests(self) -> dict[str, int]:
        return {n: r.node.counters.requests for n, r in self.nodes.nodes.items()}

    def detective(self, reach: tuple[str, ...]) -> Identity:
        return self.kit.identity("kcso", "det-0815", ["criminal_investigation"], reach=reach)

    def rejected(self, reason: str) -> float:
        assert self.broker.metrics is not None
        value = self.broker.metrics.registry.get_sample_value(
            "fieldgate_broker_rejected_total", {"reason": reason}
        )
        return value or 0.0


@pytest.fixture(scope="module")
def fed(
    loop: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DirectoryFederation]:
    workdir = tmp_path_factory.mktemp("directory")
    kit = DevTrust(workdir / "trust")
    kit.add_issuer("kcso", "local_law_enforcement")
    for agency in DEMO_AGENCIES:
        kit.add_node(
            agency.node_id, agency=agency.node_id, agency_type="local_law_enforcement",
            name=agency.name,
        )  # fmt: skip
    for node_id in CLOSED:
        kit.add_node(node_id, name=f"Closed Agency {node_id[-4:]}")
    kit.add_node(DECOY, name="Decoy Agency")
    kit.write()
    pki = DevPKI.create(workdir / "pki", [BROKER_NAME, *REAL, "investigator"])
    specs = []
    for agency in DEMO_AGENCIES:
        path = workdir / f"{agency.node_id}.jsonl"
        write_jsonl(generate_agency_records(agency, count=20, seed=5), path)
        spec = NodeSpec(
            agency.node_id, agency.name, shipped_contract(CONTRACT_OF[agency.node_id]), path
        )
        import_records(spec, workdir)
        specs.append(spec)
    nodes = loop.run(start_federation(specs, workdir, trust=kit.config(), pki=pki))
    closed = f"127.0.0.1:{closed_port()}"
    overrides = {n: nodes.nodes[n].address for n in REAL} | dict.fromkeys(DIALLED_CLOSED, closed)
    # A directory entry whose address leads to another agency's node (a wrong override,
    # a hijacked DNS name): that node's certificate does not name the entry's id.
    overrides[DECOY] = nodes.nodes[REAL[1]].address
    config = BrokerConfig(
        listen="127.0.0.1:0",
        nodes=(),
        trust=kit.config(),
        tls=pki.files(BROKER_NAME),
        directory=DirectoryConfig("{id}.nodes.invalid:8443", overrides),
        fanout=FanoutConfig(max_unary_audience=UNARY_LIMIT),
    )
    broker = loop.run(start_broker(config))
    yield DirectoryFederation(nodes, broker, kit, pki, config)
    loop.run(broker.stop())
    loop.run(nodes.stop())


def test_start_dials_no_node_and_raises_the_file_limit(fed: DirectoryFederation) -> None:
    # Lazy channels: 1,004 nodes routed to, none dialled before a search asks it.
    assert len(fed.broker.fanout.roster()) == len(ALL)
    assert fed.broker.fanout.pool.opened == 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard >= fds_needed(len(ALL)):
        assert soft == resource.RLIM_INFINITY or soft >= fds_needed(len(ALL))


def test_connecting_ahead_finds_the_running_nodes_ready(
    fed: DirectoryFederation, loop: LoopThread
) -> None:
    # What [broker.fanout] connect_at_start runs in the background: handshakes done ahead.
    roster = fed.broker.fanout.roster()
    targets = [(roster.entries[roster.by_id[n]].address, n) for n in (*REAL, DIALLED_CLOSED[0])]
    ready = loop.run(fed.broker.fanout.pool.connect(targets, concurrency=2, seconds=2.0))
    assert ready == len(REAL)


def test_list_nodes_pages_through_the_whole_directory(fed: DirectoryFederation) -> None:
    channel, stub = broker_stub(fed.broker.address, fed.pki.files("investigator"))
    with channel:
        listed: list[broker_pb2.RegisteredNode] = []
        sizes, token = [], ""
        while True:
            page = stub.ListNodes(broker_pb2.ListNodesRequest(page_size=300, page_token=token))
            assert page.total_size == len(ALL)
            listed.extend(page.nodes)
            sizes.append(len(page.nodes))
            if not (token := page.next_page_token):
                break
        assert sizes == [300, 300, 300, 104]
        assert [n.node_id for n in listed] == sorted(ALL)
        # Names from the signed directory; never an address.
        names = {n.node_id: n.agency_name for n in listed}
        assert {names[a.node_id] for a in DEMO_AGENCIES} == {a.name for a in DEMO_AGENCIES}
        assert names["closed-0042"] == "Closed Agency 0042"
        assert not any(n.address for n in listed)
        # 0 asks for the maximum; more is lowered to it.
        for size in (0, 5000):
            page = stub.ListNodes(broker_pb2.ListNodesRequest(page_size=size))
            assert len(page.nodes) == MAX_PAGE_SIZE
            assert page.next_page_token
        for bad, field in (
            (broker_pb2.ListNodesRequest(page_size=-1), "page_size"),
            (broker_pb2.ListNodesRequest(page_token="bm90IGEgdG9rZW4"), "page_token"),
        ):
            with pytest.raises(grpc.RpcError) as caught:
                stub.ListNodes(bad)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert field in (caught.value.details() or "")
    with fed.client() as client:
        assert client.node_ids() == sorted(ALL)


def test_fieldgate_broker_nodes_lists_every_page(fed: DirectoryFederation) -> None:
    tls = fed.pki.files("investigator")
    args = ["broker", "nodes", "--broker", fed.broker.address, "--tls-ca", str(tls.ca)]
    args += ["--tls-cert", str(tls.cert), "--tls-key", str(tls.key)]
    document = CliRunner().invoke(cli, [*args, "--json"])
    assert document.exit_code == 0, document.output
    parsed = json.loads(document.output)
    assert parsed["total"] == len(ALL)
    assert [n["node_id"] for n in parsed["nodes"]] == sorted(ALL)
    table = CliRunner().invoke(cli, args, terminal_width=200)
    assert table.exit_code == 0, table.output
    assert f"{len(ALL)} agencies" in table.output
    assert "Closed Agency 0999" in table.output


def test_a_broker_whose_node_list_never_ends_is_refused(fed: DirectoryFederation) -> None:
    hostile = HostileBroker(fed.broker.address, fed.pki.files("investigator"))
    # A token the real broker accepts, so each page the client asks for is forwarded.
    again = page_token(CLOSED[0])

    def endless(page: broker_pb2.ListNodesResponse) -> broker_pb2.ListNodesResponse:
        # One node a page and always a next page: the client must not read forever.
        return broker_pb2.ListNodesResponse(nodes=page.nodes[:1], next_page_token=again)

    def empty(page: broker_pb2.ListNodesResponse) -> broker_pb2.ListNodesResponse:
        return broker_pb2.ListNodesResponse(next_page_token=again)

    try:
        for tamper, pages in ((empty, 1), (endless, MAX_LIST_PAGES)):
            hostile.list_tamper = tamper
            with SearchClient(hostile.address) as client, pytest.raises(SearchError) as caught:
                client.node_ids()
            assert caught.value.code == grpc.StatusCode.OUT_OF_RANGE
            assert f"does not end after {pages} page(s)" in caught.value.details
    finally:
        hostile.stop()


def test_a_unary_search_above_the_configured_audience_is_refused(fed: DirectoryFederation) -> None:
    audience = (*REAL, *DIALLED_CLOSED[: UNARY_LIMIT + 1 - len(REAL)])
    identity = fed.detective(audience)
    node_keys = AnswerCheck(build_store(fed.kit.config())).node_keys()
    request = build_request(
        CRIMINAL, **SUBJECT, identity=identity, audience=audience, node_keys=node_keys
    )
    before, rejected = fed.requests(), fed.rejected("unary_audience")
    channel, stub = broker_stub(fed.broker.address, fed.pki.files("investigator"))
    with channel:
        with pytest.raises(grpc.RpcError) as caught:
            stub.Search(request, timeout=30)
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        details = caught.value.details() or ""
        assert "(unary_audience)" in details
        assert "SearchStream" in details
        assert f"addressed to {UNARY_LIMIT + 1} agencies" in details
        # No agency was asked, and the proof's nonce was given back: the same search
        # streamed goes through.
        assert fed.requests() == before
        assert fed.rejected("unary_audience") == rejected + 1
        events = list(stub.SearchStream(broker_pb2.SearchStreamRequest(search=request), timeout=30))
    assert events[-1].summary.agencies == UNARY_LIMIT + 1
    assert fed.requests() == {n: count + 1 for n, count in before.items()}


def test_closed_nodes_did_not_answer_and_a_large_search_is_streamed(
    fed: DirectoryFederation,
) -> None:
    reach = (*REAL, *DIALLED_CLOSED[:30])
    identity = fed.detective(reach)
    opened, rejected = fed.broker.fanout.pool.opened, fed.rejected("unary_audience")
    with fed.client() as client:
        result = client.search(CRIMINAL, **SUBJECT, identity=identity, deadline_seconds=8.0)
    statuses = {a.node_id: a.status for a in result.agencies}
    assert statuses == dict.fromkeys(REAL, "answered") | dict.fromkeys(reach[3:], "unreachable")
    assert any(a.hits for a in result.agencies)
    # The client addressed reach ∩ the listed nodes; every other listed node is "not asked".
    assert len(result.not_asked) == len(ALL) - len(reach)
    # Over the broker's unary limit: refused as unary (nothing asked), then streamed.
    assert fed.rejected("unary_audience") == rejected + 1

    # The asyncio client does the same.
    async def search_async() -> SearchResult:
        client = AsyncSearchClient(
            fed.broker.address,
            fed.pki.files("investigator"),
            answers=AnswerCheck(build_store(fed.kit.config())),
        )
        try:
            return await client.search(CRIMINAL, **SUBJECT, identity=identity, deadline_seconds=8)
        finally:
            await client.close()

    assert {a.node_id: a.status for a in asyncio.run(search_async()).agencies} == statuses
    assert fed.rejected("unary_audience") == rejected + 2
    # Only the addressed nodes' channels were opened (the real ones are reused).
    assert fed.broker.fanout.pool.opened - opened <= len(reach)
    assert fed.broker.fanout.pool.open_channels <= len(REAL) + len(DIALLED_CLOSED)
    assert fed.broker.metrics is not None
    gauge = fed.broker.metrics.registry.get_sample_value("fieldgate_broker_node_channels_open")
    assert gauge == fed.broker.fanout.pool.open_channels > 0


def _cli_args(fed: DirectoryFederation, tmp_path: Path, reach: tuple[str, ...]) -> list[str]:
    identity = fed.detective(reach)
    credential, key, enc_key = tmp_path / "det.credential", tmp_path / "det.key", tmp_path / "enc"
    credential.write_text(identity.credential)
    save_private_key(identity.key, key)
    assert identity.enc_key is not None
    save_private_key(identity.enc_key, enc_key)
    tls, trust = fed.pki.files("investigator"), fed.kit.config()
    assert trust.authority_key is not None
    return [
        "search", "--broker", fed.broker.address, "--surname", DEMO_SUBJECT.surname,
        "--dob", DEMO_SUBJECT.dob, "--purpose", "criminal_investigation", "--case", "KC-1",
        "--credential", str(credential), "--key", str(key), "--enc-key", str(enc_key),
        "--trust-bundle", str(trust.bundle), "--revocations", str(trust.revocations),
        "--authority-key", str(trust.authority_key), "--tls-ca", str(tls.ca),
        "--tls-cert", str(tls.cert), "--tls-key", str(tls.key), "--deadline", "8",
    ]  # fmt: skip


def test_an_address_leading_to_another_agency_reaches_nobody(fed: DirectoryFederation) -> None:
    before = fed.requests()
    with fed.client() as client:
        result = client.search(
            CRIMINAL, **SUBJECT, identity=fed.detective((DECOY,)), deadline_seconds=8.0
        )
    (decoy,) = result.agencies
    # The TLS name the broker expects is the entry's id: the other agency's node fails the
    # handshake, so it never receives the search, and nothing is shown as the decoy's.
    assert decoy.node_id == DECOY
    assert decoy.status == "unreachable"
    assert not decoy.hits
    assert fed.requests() == before


def test_fieldgate_search_summarises_a_large_search(
    fed: DirectoryFederation, tmp_path: Path
) -> None:
    reach = (*REAL, *DIALLED_CLOSED[:30])
    args = _cli_args(fed, tmp_path, reach)
    table = CliRunner().invoke(cli, args, terminal_width=200)
    # Some agencies did not answer: exit status 4, never "no record" for them.
    assert table.exit_code == 4, table.output
    assert "33 agencies asked" in table.output
    rows = [line.split("│") for line in table.output.splitlines() if "--show" in line]
    counts = {cells[3].strip(): cells[1].strip() for cells in rows}
    assert counts["--show did-not-answer"] == "30"
    assert counts["--show not-asked"] == "971"
    assert counts["--show failed"] == counts["--show not-answering"] == "0"
    # The agencies with records get their tables; the closed ones are counted, not listed.
    with_hits = [a.name for a in DEMO_AGENCIES if f"{a.name}  answered" in table.output]
    assert with_hits
    assert "Closed Agency 0007" not in table.output
    listed = CliRunner().invoke(cli, [*args, "--show", "did-not-answer"], terminal_width=200)
    assert listed.exit_code == 4, listed.output
    assert "did not answer (timed out, unreachable, error): 30" in listed.output
    assert all(f"Closed Agency {i:04d}" in listed.output for i in range(30))
    # Streamed: the agencies with records as they end, then the same summary.
    streamed = CliRunner().invoke(cli, [*args, "--stream"], terminal_width=200)
    assert streamed.exit_code == 4, streamed.output
    assert "33 agencies asked" in streamed.output
    assert "Closed Agency 0007" not in streamed.output
    assert all(f"{name}  answered" in streamed.output for name in with_hits)
    every = CliRunner().invoke(cli, [*args, "--all"], terminal_width=200)
    assert every.output.count("not searched: this is not 'no record'") == 30
    # --json holds every agency, whatever the table shows.
    document = CliRunner().invoke(cli, [*args, "--json"])
    assert document.exit_code == 4, document.output
    parsed = json.loads(document.output)
    assert len(parsed["agencies"]) == 33
    assert parsed["summary"]["failed"] == 30
    assert parsed["summary"]["not_asked"] == 971


def test_the_broker_refuses_to_start_when_the_file_limit_is_too_low(
    fed: DirectoryFederation, tmp_path: Path
) -> None:
    trust = fed.kit.config()
    tls = fed.pki.files(BROKER_NAME)
    config = tmp_path / "broker.toml"
    config.write_text(
        f"""
[broker]
listen = "127.0.0.1:0"
search_log = "{tmp_path / "searches.sqlite"}"

[broker.tls]
ca = "{tls.ca}"
cert = "{tls.cert}"
key = "{tls.key}"

[broker.trust]
bundle = "{trust.bundle}"
revocations = "{trust.revocations}"
authority_key = "{trust.authority_key}"

[broker.directory]
address = "{{id}}.nodes.invalid:8443"
""",
        encoding="utf-8",
    )
    limit = 256

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    done = subprocess.run(
        [*CLI, "broker", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=low_limit,  # only sets a limit, in the child
        check=False,
    )
    assert done.returncode == 2, done.stderr
    needed = fds_needed(len(fed.broker.fanout.roster()))
    assert f"RLIMIT_NOFILE hard limit is {limit}" in done.stderr
    assert f"needs {needed} file descriptors" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_directory_change_is_routed_on_the_next_call(fed: DirectoryFederation) -> None:
    # Last: it changes the module's directory. A refresh installs a new bundle the same way.
    fed.kit.add_node("joined-late", name="Late Agency")
    fed.kit.write()
    channel, stub = broker_stub(fed.broker.address, fed.pki.files("investigator"))
    with channel:
        page = stub.ListNodes(broker_pb2.ListNodesRequest(page_size=1000, page_token=""))
        assert page.total_size == len(ALL) + 1
        last = stub.ListNodes(broker_pb2.ListNodesRequest(page_token=page.next_page_token))
    assert "joined-late" in {n.node_id for n in (*page.nodes, *last.nodes)}
    assert "joined-late" in fed.broker.fanout.roster().by_id
