"""Trust that stays fresh (issue 21 item 3): fetched, verified, installed — or the last good kept.

The federation publishes its signed bundle and signed revocation list in a
directory and over real HTTP (a standard-library server on loopback); a
party's copy is replaced only by documents signed by the pinned authority,
fresh, and no older than its own. ``trust unrevoke`` undoes a revocation,
logged and signed.
"""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldgate.client.answer_check import AnswerCheck
from fieldgate.client.broker_client import Requester, SearchClient
from fieldgate.devkit.dev_trust import DevTrust, answer_key_path, enc_key_path
from fieldgate.devkit.local_federation import start_federation
from fieldgate.devkit.synthetic import DEMO_SUBJECT
from fieldgate.trust.bundle_signing import sign_revocations
from fieldgate.trust.config import build_store
from fieldgate.trust.keys import generate_key, save_private_key
from fieldgate.trust.refresh import TrustRefreshError, refresh
from fieldgate.trust.trust_bundle import TrustStore
from tests.helpers.brokers import import_two_agencies, wait_until
from tests.helpers.federation import LoopThread
from tests.test_cli import FIELDGATE

DAY = dt.timedelta(days=1)


def _publish(kit: DevTrust, *, issued_at: dt.datetime | None = None, sign: bool = True) -> None:
    """The federation's published copy: signed bundle, and the list signed too."""
    kit.write(issued_at=issued_at)
    if sign:
        document = json.loads(kit.revocations_path.read_text())
        kit.revocations_path.write_text(json.dumps(sign_revocations(document, kit.authority_key)))


@pytest.fixture
def federation(tmp_path: Path) -> DevTrust:
    kit = DevTrust(tmp_path / "published")
    kit.add_issuer("bellevue-pd", "local_law_enforcement")
    kit.revoked_credentials.append("cred-1")
    _publish(kit)
    return kit


@pytest.fixture
def held(tmp_path: Path) -> tuple[Path, Path]:
    local = tmp_path / "node-trust"
    local.mkdir()
    return local / "trust.json", local / "revocations.json"


def _refresh(kit: DevTrust, held: tuple[Path, Path], source: str | None = None) -> object:
    return refresh(
        source or str(kit.directory),
        *held,
        authority=kit.authority_key.public_key(),
        max_age=DAY,
    )


def _store(kit: DevTrust, held: tuple[Path, Path]) -> TrustStore:
    return TrustStore(*held, max_age=DAY, authority=kit.authority_key.public_key())


def test_a_signed_fresh_publication_is_installed(
    federation: DevTrust, held: tuple[Path, Path]
) -> None:
    _refresh(federation, held)
    state = _store(federation, held).current(dt.datetime.now(dt.UTC))
    assert "bellevue-pd" in state.issuers
    assert state.revoked_credentials == {"cred-1"}


@pytest.mark.parametrize(
    ("spoil", "step"),
    [
        ("unsigned list", "verify"),
        ("rogue bundle", "verify"),
        ("bundle as list", "verify"),
        ("stale", "stale"),
        ("rollback", "rollback"),
        ("missing", "fetch"),
    ],
)
def test_a_bad_publication_is_refused_and_the_last_good_kept(
    federation: DevTrust, held: tuple[Path, Path], spoil: str, step: str
) -> None:
    _refresh(federation, held)
    before = [p.read_bytes() for p in held]
    pinned = federation.authority_key.public_key()  # the party's pinned key never changes
    now = dt.datetime.now(dt.UTC)
    if spoil == "unsigned list":
        _publish(federation, sign=False)
    elif spoil == "rogue bundle":
        federation.authority_key = generate_key()  # signs with a key nobody pinned
        _publish(federation)
    elif spoil == "bundle as list":
        federation.revocations_path.write_bytes(federation.bundle_path.read_bytes())
    elif spoil == "stale":
        _publish(federation, issued_at=now - 2 * DAY)
    elif spoil == "rollback":
        _publish(federation, issued_at=now - dt.timedelta(hours=2))
    elif spoil == "missing":
        federation.revocations_path.unlink()
    with pytest.raises(TrustRefreshError) as caught:
        refresh(str(federation.directory), *held, authority=pinned, max_age=DAY)
    assert caught.value.step == step
    assert [p.read_bytes() for p in held] == before


@pytest.fixture
def http_source(federation: DevTrust) -> Iterator[str]:
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(federation.directory)
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    thread.join()
    server.server_close()


def test_refresh_over_http_through_the_cli(
    federation: DevTrust, held: tuple[Path, Path], http_source: str
) -> None:
    done = subprocess.run(
        [
            FIELDGATE, "trust", "refresh", "--source", http_source,
            "--bundle", str(held[0]), "--revocations", str(held[1]),
            "--authority-key", str(federation.authority_path),
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "refreshed" in done.stdout
    assert _store(federation, held).current(dt.datetime.now(dt.UTC)).revoked_credentials == {
        "cred-1"
    }


def test_unrevoke_is_logged_and_signed(federation: DevTrust, tmp_path: Path) -> None:
    authority = tmp_path / "authority.pem"
    save_private_key(federation.authority_key, authority)
    revocations = federation.revocations_path

    def fieldgate(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [FIELDGATE, "trust", *args], capture_output=True, text=True, timeout=60, check=False
        )

    revoked = fieldgate("revoke", str(revocations), "--credential", "cred-2",
                        "--authority-key", str(authority), "--reason", "phone stolen")  # fmt: skip
    assert revoked.returncode == 0, revoked.stderr
    undone = fieldgate("unrevoke", str(revocations), "--credential", "cred-1",
                       "--authority-key", str(authority), "--reason", "wrong jti")  # fmt: skip
    assert undone.returncode == 0, undone.stderr
    store = TrustStore(
        federation.bundle_path, revocations, max_age=DAY,
        authority=federation.authority_key.public_key(),
    )  # fmt: skip
    assert store.current(dt.datetime.now(dt.UTC)).revoked_credentials == {"cred-2"}
    log = [json.loads(line) for line in Path(f"{revocations}.log.jsonl").read_text().splitlines()]
    assert [(e["action"], e["reason"], e["credentials"]) for e in log] == [
        ("revoke", "phone stolen", ["cred-2"]),
        ("unrevoke", "wrong jti", ["cred-1"]),
    ]
    assert all(e["operator"] for e in log)
    # Unrevoking what is not revoked is named, not silently accepted.
    again = fieldgate("unrevoke", str(revocations), "--credential", "cred-1", "--reason", "x")
    assert again.returncode == 2
    assert "cred-1 is not revoked" in again.stdout + again.stderr


def test_a_node_configured_with_a_source_refreshes_stale_trust_and_answers_again(
    loop: LoopThread, federation: DevTrust, tmp_path: Path
) -> None:
    """Started with stale trust files, nodes and broker fetch fresh ones themselves."""
    held = DevTrust(
        tmp_path / "held",
        issuers=federation.issuers,
        authority_key=federation.authority_key,
        revoked_credentials=["cred-1"],
    )
    (tmp_path / "records").mkdir()
    specs, workdir = import_two_agencies(tmp_path / "records")
    # The nodes' keys (v2: answer and X25519 keys) are published with the bundle and
    # held by each node beside its own (stale) copy.
    for spec in specs:
        federation.add_node(spec.node_id)
        held.nodes[spec.node_id] = federation.nodes[spec.node_id]
        held.node_enc[spec.node_id] = federation.node_enc[spec.node_id]
        save_private_key(
            federation.nodes[spec.node_id], answer_key_path(held.config(), spec.node_id)
        )
        save_private_key(
            federation.node_enc[spec.node_id], enc_key_path(held.config(), spec.node_id)
        )
    _publish(federation)
    held.write(issued_at=dt.datetime.now(dt.UTC) - 3 * DAY)  # stale: would not answer
    config = held.config(source=str(federation.directory), refresh_seconds=3600.0)
    running = loop.run(start_federation(specs, workdir, trust=config))
    try:
        nodes = list(running.nodes.values())
        wait_until(loop, lambda: all(n.refresher and n.refresher.succeeded for n in nodes), 20)
        identity = held.identity("bellevue-pd", "det-4711", ["criminal_investigation"])
        answers = AnswerCheck(build_store(federation.config()))
        with SearchClient(running.broker_address, answers=answers) as client:
            result = client.search(
                Requester("", "", "", "criminal_investigation", "C-1"),
                surname=DEMO_SUBJECT.surname, given_name=DEMO_SUBJECT.given_name,
                identity=identity,
            )  # fmt: skip
        assert {a.status for a in result.agencies} == {"answered"}
        # The age the metric reports is the fresh publication's.
        published = TrustStore(
            federation.bundle_path, federation.revocations_path, max_age=DAY,
            authority=federation.authority_key.public_key(),
        ).current(dt.datetime.now(dt.UTC))  # fmt: skip
        registry = nodes[0].node.metrics.registry
        issued = registry.get_sample_value(
            "fieldgate_node_trust_issued_at_seconds", {"file": "bundle"}
        )
        assert issued == published.bundle_issued_at.timestamp()
    finally:
        loop.run(running.stop())
