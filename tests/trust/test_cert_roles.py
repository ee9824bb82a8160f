"""Certificates with a bound role, through real gRPC (issue 21 item 2, issue 19 item 5).

A federation runs on certificates from ``fieldgate pki issue``: the broker's
names its address, each node's names its node id, the investigator's is a
client certificate naming no host. The honest search goes through; a node
refuses an investigator's certificate even with no name list; the broker
refuses a node's certificate as a searcher; and an investigator's client
refuses a fake broker presenting a detective's client certificate.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from fieldgate.broker.config import NodeEntry
from fieldgate.client.broker_client import Requester, SearchClient, SearchError
from fieldgate.core.certs import describe, issue
from fieldgate.core.tls import DevPKI, TLSError, TLSFiles
from fieldgate.devkit.local_federation import LocalFederation, start_federation
from fieldgate.devkit.synthetic import DEMO_SUBJECT
from fieldgate.v2 import common_pb2, node_pb2
from tests.helpers.brokers import import_two_agencies, start_test_broker
from tests.helpers.federation import LoopThread, node_stub
from tests.test_cli import FIELDGATE

DETECTIVE = Requester(
    "det-4711", "bellevue-pd", "local_law_enforcement", "criminal_investigation", "C-1"
)


@dataclass
class Roled:
    federation: LocalFederation
    pki: DevPKI


@pytest.fixture(scope="module")
def roled(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Roled]:
    workdir = tmp_path_factory.mktemp("roles")
    pki = DevPKI.create(workdir / "pki", [])
    loopback = {"dns": ["localhost"], "ips": ["127.0.0.1"]}
    issue(pki.directory, "broker", "broker", **loopback)
    for node_id in ("kcso", "spd"):
        issue(pki.directory, node_id, "node", **loopback)
    issue(pki.directory, "investigator", "investigator")
    specs, _ = import_two_agencies(workdir)
    federation = loop.run(start_federation(specs, workdir, pki=pki))
    yield Roled(federation, pki)
    loop.run(federation.stop())


def _search(address: str, tls: TLSFiles) -> dict[str, str]:
    with SearchClient(address, tls) as client:
        result = client.search(
            DETECTIVE, surname=DEMO_SUBJECT.surname, given_name=DEMO_SUBJECT.given_name
        )
    return {a.node_id: a.status for a in result.agencies}


def test_role_bound_certificates_carry_an_honest_search(roled: Roled) -> None:
    statuses = _search(roled.federation.broker_address, roled.pki.files("investigator"))
    assert statuses == {"kcso": "answered", "spd": "answered"}


def test_a_node_refuses_an_investigators_certificate(roled: Roled) -> None:
    channel, stub = node_stub(
        roled.federation.nodes["kcso"].address, roled.pki.files("investigator")
    )
    with channel, pytest.raises(grpc.RpcError) as caught:
        stub.Search(
            node_pb2.NodeServiceSearchRequest(
                request_id="r1",
                requester=common_pb2.Requester(
                    subject="det-4711", agency="bellevue-pd",
                    agency_type="local_law_enforcement", purpose="criminal_investigation",
                ),
                query=common_pb2.PersonQuery(surname="DOE", given_name="JOHN"),
            ),
            timeout=10,
        )  # fmt: skip
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_the_broker_refuses_a_nodes_certificate_as_a_searcher(roled: Roled) -> None:
    with pytest.raises(SearchError) as caught:
        _search(roled.federation.broker_address, roled.pki.files("kcso"))
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert "investigator" in caught.value.details


def test_an_investigator_refuses_a_fake_broker_holding_a_detectives_certificate(
    loop: LoopThread, roled: Roled, tmp_path: Path
) -> None:
    # The attacker holds another detective's genuine certificate and key, and serves with it.
    issue(roled.pki.directory, "det-9999", "investigator")
    fake = loop.run(
        start_test_broker(
            (NodeEntry("kcso", "King County", roled.federation.nodes["kcso"].address),),
            tmp_path,
            tls=roled.pki.files("det-9999"),
        )
    )
    try:
        with pytest.raises(SearchError) as caught:
            _search(fake.address, roled.pki.files("investigator"))
        assert caught.value.code == grpc.StatusCode.UNAVAILABLE  # the TLS handshake failed
    finally:
        loop.run(fake.stop())


def test_a_client_certificate_names_no_host_and_cannot_serve(roled: Roled) -> None:
    info = describe(roled.pki.files("investigator").cert.read_bytes())
    assert info.roles == {"investigator"}
    assert (info.client, info.server) == (True, False)
    assert info.dns_names == info.ip_addresses == ()
    node = describe(roled.pki.files("kcso").cert.read_bytes())
    assert node.roles == {"node"}
    assert "kcso" in node.dns_names  # the broker checks the node id
    with pytest.raises(TLSError, match="names no host"):
        issue(roled.pki.directory, "det-1", "investigator", dns=["evil.example"])


def test_pki_issue_names_given_hosts_and_says_when_it_expires(tmp_path: Path) -> None:
    def fieldgate(*args: str) -> str:
        done = subprocess.run(
            [FIELDGATE, "pki", *args], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    fieldgate("ca", str(tmp_path / "ca"), "--days", "400")
    out = fieldgate(
        "issue", str(tmp_path / "ca"), "--name", "kcso", "--role", "node",
        "--dns", "fieldgate-node.kcso.svc", "--ip", "10.20.30.40", "--days", "30",
    )  # fmt: skip
    assert "fieldgate-node.kcso.svc" in out
    assert "10.20.30.40" in out
    (expiry,) = re.findall(r"expires (\S+) \(in (\d+) days\)", out)
    assert int(expiry[1]) in (29, 30)
    info = describe((tmp_path / "ca" / "kcso.pem").read_bytes())
    assert abs(info.not_after - dt.datetime.now(dt.UTC) - dt.timedelta(days=30)) < dt.timedelta(
        minutes=10
    )


def _client_only_cert_naming_loopback(pki: DevPKI, name: str) -> TLSFiles:
    """A clientAuth-only certificate that does name 127.0.0.1: only its key usage can refuse it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    ca_key = serialization.load_pem_private_key(
        (pki.directory / "ca.key").read_bytes(), password=None
    )
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.UniformResourceIdentifier("fieldgate:role:investigator"),
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TLSFiles(pki.ca, pki.directory / f"{name}.pem", pki.directory / f"{name}.key")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


def test_a_client_certificate_is_refused_as_a_server_even_when_it_names_the_host(
    loop: LoopThread, roled: Roled, tmp_path: Path
) -> None:
    """The TLS library checks the server certificate's purpose (extended key usage)."""
    fake = loop.run(
        start_test_broker(
            (NodeEntry("kcso", "King County", roled.federation.nodes["kcso"].address),),
            tmp_path,
            tls=_client_only_cert_naming_loopback(roled.pki, "det-named"),
        )
    )
    try:
        with pytest.raises(SearchError) as caught:
            _search(fake.address, roled.pki.files("investigator"))
        assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    finally:
        loop.run(fake.stop())


def test_the_broker_exports_when_its_certificates_expire(
    loop: LoopThread, roled: Roled, tmp_path: Path
) -> None:
    broker = loop.run(
        start_test_broker(
            (NodeEntry("kcso", "King County", roled.federation.nodes["kcso"].address),),
            tmp_path,
            tls=roled.pki.files("broker"),
        )
    )
    try:
        assert broker.metrics is not None
        sample = broker.metrics.registry.get_sample_value
        own = describe(roled.pki.files("broker").cert.read_bytes()).not_after
        ca = describe(roled.pki.ca.read_bytes()).not_after
        name = "fieldgate_broker_certificate_expiry_seconds"
        assert sample(name, {"certificate": "own"}) == own.timestamp()
        assert sample(name, {"certificate": "ca"}) == ca.timestamp()
    finally:
        loop.run(broker.stop())


def test_the_search_cli_refuses_a_node_posing_as_the_broker(roled: Roled) -> None:
    """A node's certificate names the address too; its role is what gives it away."""
    files = roled.pki.files("investigator")
    tls = ["--tls-ca", str(files.ca), "--tls-cert", str(files.cert), "--tls-key", str(files.key)]
    flags = [
        "--name", f"{DEMO_SUBJECT.surname}, {DEMO_SUBJECT.given_name}",
        "--subject", "det-4711", "--agency", "bellevue-pd",
        "--agency-type", "local_law_enforcement", "--purpose", "criminal_investigation",
        "--json", *tls,
    ]  # fmt: skip

    def search(address: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [FIELDGATE, "search", "--broker", address, *flags],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    honest = search(roled.federation.broker_address)
    assert honest.returncode == 0, honest.stdout + honest.stderr
    posing = search(roled.federation.nodes["kcso"].address)
    assert posing.returncode == 2
    assert "certificate for node" in posing.stdout
    assert "not a broker's" in posing.stdout
