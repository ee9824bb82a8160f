"""Signed contract bundles on a node, through real gRPC: refuse bad ones, hot-swap good ones.

Also the OPA-shaped decision log the node writes beside its audit log.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import io
import json
import logging
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from click.testing import CliRunner

from fieldgate.authoring.bundle_build import build_bundle, bundle_files
from fieldgate.cli.main import cli
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import NodeSpec, import_records, node_config
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.node.config import NodeConfig
from fieldgate.node.disclosure_log import MemoryDisclosureLog
from fieldgate.node.search import AgencyNode
from fieldgate.node.server import RunningNode, start_node
from fieldgate.node.store import RecordStore
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.config import PolicyConfig
from fieldgate.policy.contract_bundle import (
    BundleError,
    BundleWatcher,
    load_bundle,
    pack_bundle,
    verify_bundle,
)
from fieldgate.policy.contract_bundle_state import (
    HighWater,
    load_high_water,
    save_high_water,
    state_path,
)
from fieldgate.policy.decision_log import redact_input
from fieldgate.policy.engine import MissingContract
from fieldgate.trust.keys import generate_key, save_private_key, save_public_key
from fieldgate.v2 import common_pb2, node_pb2
from tests.helpers.federation import LoopThread, node_stub

REGO = Path(__file__).resolve().parents[2] / "rego"
CATALOG = load_catalog(default_catalog_path())
DETECTIVE = {p.label.split("\n")[0]: p.requester for p in demo_personas(dt.date.today())}[
    "Detective"
]
QUERY = common_pb2.PersonQuery(
    surname=DEMO_SUBJECT.surname, given_name=DEMO_SUBJECT.given_name, dob=DEMO_SUBJECT.dob
)
KEY = generate_key()
OTHER_KEY = generate_key()


def _files(name: str) -> dict[str, bytes]:
    return bundle_files(REGO / "contracts" / name, REGO / "lib")


def _install(data: bytes, path: Path) -> None:
    """Replace the bundle file atomically, as a deployment would."""
    staged = path.with_suffix(".staged")
    staged.write_bytes(data)
    os.replace(staged, path)


def _tamper(data: bytes, member: str) -> bytes:
    """The same bundle with one byte of ``member`` changed (manifest and signature kept)."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as src,
        tarfile.open(fileobj=out, mode="w:gz") as dst,
    ):
        for info in src:
            handle = src.extractfile(info)
            assert handle is not None
            content = handle.read()
            if info.name == member:
                content = content.replace(b"disclose", b"disclosE", 1)
            info.size = len(content)
            dst.addfile(info, io.BytesIO(content))
    return out.getvalue()


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("bundles")
    return {
        name: build_bundle(
            REGO / "contracts" / name, REGO / "lib", KEY, work / f"{name}.tar.gz", CATALOG
        ).path
        for name in ("pointer_only", "permissive")
    }


@dataclasses.dataclass
class BundleNode:
    running: RunningNode
    bundle: Path
    audit: MemoryDisclosureLog
    decisions: Path


@pytest.fixture
def bundle_node(loop: LoopThread, tmp_path: Path, bundles: dict[str, Path]) -> Iterator[BundleNode]:
    records = tmp_path / "records.jsonl"
    write_jsonl(generate_agency_records(DEMO_AGENCIES[0], count=50, seed=3), records)
    spec = NodeSpec("kcso", "kcso", None, records)
    import_records(spec, tmp_path)
    save_public_key(KEY.public_key(), tmp_path / "policy.pub.pem")
    bundle = tmp_path / "active.bundle.tar.gz"
    _install(bundles["pointer_only"].read_bytes(), bundle)
    config = dataclasses.replace(
        node_config(spec, tmp_path),
        rego_library=None,
        policy=PolicyConfig(
            bundle=bundle,
            bundle_keys=(tmp_path / "policy.pub.pem",),
            decision_log=tmp_path / "decisions.jsonl",
        ),
    )
    audit = MemoryDisclosureLog()
    running = loop.run(start_node(config, audit))
    yield BundleNode(running, bundle, audit, tmp_path / "decisions.jsonl")
    loop.run(running.stop())


def search(node: BundleNode, request_id: str) -> node_pb2.NodeServiceSearchResponse:
    channel, stub = node_stub(node.running.address)
    with channel:
        return stub.Search(
            node_pb2.NodeServiceSearchRequest(
                request_id=request_id, requester=DETECTIVE.to_message(), query=QUERY
            ),
            timeout=10,
        )


def _version(node: BundleNode, request_id: str) -> str:
    (entry,) = [e for e in node.audit.entries if e.request_id == request_id]
    return entry.contract_version


def _rejected(node: BundleNode, reason: str) -> float:
    value = node.running.node.metrics.registry.get_sample_value(
        "fieldgate_node_bundle_rejected_total", {"reason": reason}
    )
    assert value is not None
    return value


def _revision(path: Path) -> str:
    return verify_bundle(path.read_bytes(), [KEY.public_key()]).revision


def test_bad_bundles_are_refused_and_a_good_one_activates_without_restart(
    bundle_node: BundleNode, bundles: dict[str, Path]
) -> None:
    pointer_revision = _revision(bundles["pointer_only"])
    first = search(bundle_node, "r0")
    assert first.hits
    assert all(not h.fields for h in first.hits)
    assert _version(bundle_node, "r0") == pointer_revision

    permissive = _files("permissive")
    failing_tests = {
        **permissive,
        "contract/extra_test.rego": b"package fieldgate.contracts.extra_test\n"
        b"import rego.v1\ntest_always_fails if { 1 == 2 }\n",
    }
    broken = {**permissive, "contract/contract.rego": b"package fieldgate.contracts.x\nimport "}
    good = bundles["permissive"].read_bytes()
    bad = {
        "hash": _tamper(good, "contract/contract.rego"),
        "signature": pack_bundle(permissive, revision="other-key", key=OTHER_KEY),
        "tests": pack_bundle(failing_tests, revision="failing", key=KEY),
        "compile": pack_bundle(broken, revision="broken", key=KEY),
        "unreadable": b"not a tarball",
    }
    for number, (reason, data) in enumerate(bad.items(), start=1):
        before = _rejected(bundle_node, reason)
        _install(data, bundle_node.bundle)
        answer = search(bundle_node, f"bad-{number}")
        assert answer.hits, reason
        assert all(not h.fields for h in answer.hits), reason
        assert _version(bundle_node, f"bad-{number}") == pointer_revision, reason
        assert _rejected(bundle_node, reason) == before + 1, reason
        # Refused once, not retried on every search until the file changes.
        search(bundle_node, f"again-{number}")
        assert _rejected(bundle_node, reason) == before + 1, reason
    assert bundle_node.running.node.ready

    _install(good, bundle_node.bundle)
    answer = search(bundle_node, "good")
    assert answer.hits
    assert all(h.fields for h in answer.hits)
    assert "surname" in {f.name for h in answer.hits for f in h.fields}
    assert _version(bundle_node, "good") == _revision(bundles["permissive"])
    assert bundle_node.running.node.contract.version == _revision(bundles["permissive"])

    # An older, validly signed bundle put back in place is a rollback: refused.
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    older = pack_bundle(_files("pointer_only"), revision="older", key=KEY, now=yesterday)
    before = _rejected(bundle_node, "rollback")
    _install(older, bundle_node.bundle)
    answer = search(bundle_node, "rollback")
    assert all(h.fields for h in answer.hits)
    assert _version(bundle_node, "rollback") == _revision(bundles["permissive"])
    assert _rejected(bundle_node, "rollback") == before + 1


def test_bundle_verification_names_what_is_wrong(bundles: dict[str, Path]) -> None:
    good = bundles["permissive"].read_bytes()
    keys = [KEY.public_key()]
    assert verify_bundle(good, keys).package == "fieldgate.contracts.permissive"
    with pytest.raises(BundleError) as caught:
        verify_bundle(good, [OTHER_KEY.public_key()])
    assert caught.value.reason == "signature"
    with pytest.raises(BundleError) as caught:
        verify_bundle(_tamper(good, "lib/fieldgate/sharing.rego"), keys)
    assert caught.value.reason == "hash"
    extra = io.BytesIO()  # a file slipped in beside the signed ones
    with (
        tarfile.open(fileobj=io.BytesIO(good), mode="r:gz") as src,
        tarfile.open(fileobj=extra, mode="w:gz") as dst,
    ):
        for info in src:
            dst.addfile(info, src.extractfile(info))
        info = tarfile.TarInfo("contract/zz.rego")
        info.size = 3
        dst.addfile(info, io.BytesIO(b"x:1"))
    with pytest.raises(BundleError) as caught:
        verify_bundle(extra.getvalue(), keys)
    assert caught.value.reason == "hash"
    with pytest.raises(BundleError) as caught:
        verify_bundle(gzip.compress(b"junk"), keys)
    assert caught.value.reason == "unreadable"
    engine = load_bundle(good, keys, CATALOG.classes())
    try:
        assert engine.version == _revision(bundles["permissive"])
    finally:
        engine.close()


def test_bundle_cli_builds_and_verifies(tmp_path: Path) -> None:
    save_private_key(KEY, tmp_path / "policy.pem")
    save_public_key(KEY.public_key(), tmp_path / "policy.pub.pem")
    out = tmp_path / "s.bundle.tar.gz"
    runner = CliRunner()
    built = runner.invoke(
        cli,
        [
            "contract", "bundle", "build",
            "--contract-dir", str(REGO / "contracts" / "sanctuary_county"),
            "--lib", str(REGO / "lib"),
            "--key", str(tmp_path / "policy.pem"),
            "--out", str(out),
        ],
    )  # fmt: skip
    assert built.exit_code == 0, built.output
    rendered = runner.invoke(
        cli,
        [
            "contract", "render", "--json",
            "--contract", str(REGO / "contracts" / "sanctuary_county" / "contract.rego"),
        ],
    )  # fmt: skip
    revision = json.loads(rendered.output)["summary_sha256"]
    assert revision in built.output
    shown = runner.invoke(
        cli, ["contract", "bundle", "verify", str(out), "--key", str(tmp_path / "policy.pub.pem")]
    )
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["revision"] == revision
    # A contract whose tests fail is not bundled at all.
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "contract.rego").write_bytes(_files("permissive")["contract/contract.rego"])
    (bad / "contract_test.rego").write_text(
        "package fieldgate.contracts.permissive_test\nimport rego.v1\ntest_no if { 1 == 2 }\n"
    )
    failed = runner.invoke(
        cli,
        [
            "contract", "bundle", "build", "--contract-dir", str(bad), "--lib", str(REGO / "lib"),
            "--key", str(tmp_path / "policy.pem"), "--out", str(tmp_path / "bad.tar.gz"),
        ],
    )  # fmt: skip
    assert failed.exit_code != 0
    assert "test_no" in failed.output
    assert not (tmp_path / "bad.tar.gz").exists()


def test_decision_log_has_opa_shape_and_no_requester_secrets(bundle_node: BundleNode) -> None:
    search(bundle_node, "logged")
    lines = [json.loads(line) for line in bundle_node.decisions.read_text().splitlines()]
    assert lines
    revision = bundle_node.running.node.contract.version
    for event in lines:
        assert {"decision_id", "path", "input", "result", "bundles", "timestamp"} <= set(event)
        assert event["path"] == "fieldgate/contracts/pointer_only/decision"
        assert event["bundles"] == {"active.bundle.tar.gz": {"revision": revision}}
        assert event["timestamp"].endswith("Z")
        dt.datetime.fromisoformat(event["timestamp"])
        assert event["result"]["disclose"] is True
        assert set(event["result"]) <= {"disclose", "release", "mask"}
        requester = event["input"]["requester"]
        assert "subject" not in requester
        assert "case_number" not in requester
        assert requester["agency_type"] == DETECTIVE.agency_type
        assert "/input/requester/subject" in event["erased"]
        text = json.dumps(event)
        assert DETECTIVE.subject not in text
        if DETECTIVE.case_number:
            assert DETECTIVE.case_number not in text
    assert len({e["decision_id"] for e in lines}) == len(lines)


def test_redaction_erases_warrant_ids() -> None:
    document, erased = redact_input(
        {
            "requester": {"subject": "a", "case_number": "c", "purpose": "p"},
            "authority": [{"id": "W-1", "kind": "k", "applies_to_record": True}],
            "record": {"id": "r"},
        }
    )
    assert document["requester"] == {"purpose": "p"}
    assert document["authority"] == [{"kind": "k", "applies_to_record": True}]
    assert erased == [
        "/input/requester/subject",
        "/input/requester/case_number",
        "/input/authority/0/id",
    ]


class _FakeEngine:
    def __init__(self, version: str) -> None:
        self.version = version
        self.name = "fieldgate.contracts.fake"
        self.closed = False
        self.field_local = False

    def run(self, work: Any) -> Any:
        return work()

    def evaluate(self, policy_input: object) -> object:
        return None

    def close(self) -> None:
        self.closed = True


class _NextEngine(BundleWatcher):
    def __init__(self, engine: _FakeEngine) -> None:  # no file: hands out one engine
        self.engine: _FakeEngine | None = engine

    def poll(self, activate: Any = None) -> _FakeEngine | None:  # type: ignore[override]
        engine, self.engine = self.engine, None
        if engine is not None and activate is not None:
            activate(engine)
        return engine


def test_a_swapped_out_engine_closes_only_after_its_last_search(tmp_path: Path) -> None:
    old, new = _FakeEngine("old"), _FakeEngine("new")
    with RecordStore.open(tmp_path / "records.sqlite") as store:
        node = AgencyNode(
            node_id="kcso",
            agency_name="kcso",
            contact=common_pb2.PointerContact(agency="kcso"),
            store=store,
            catalog=CATALOG,
            contract=old,
            disclosure_log=MemoryDisclosureLog(),
            max_hits=5,
            bundle=_NextEngine(new),
        )
        in_flight = node._acquire()
        assert node.refresh_contract()
        assert node.contract is new
        assert not old.closed  # a search still uses it
        node._release(in_flight)
        assert old.closed
        assert not node.refresh_contract()  # nothing new
        assert not new.closed


def test_decision_log_drops_free_text_that_could_quote_erased_input() -> None:
    from fieldgate.policy.decision_log import _decision_only

    result, dropped = _decision_only(
        {"disclose": True, "release": {"surname"}, "mask": {}, "reasons": {"x": "warrant W-9"}}
    )
    assert "W-9" not in json.dumps(result)
    assert dropped == ["/result/reasons"]
    assert result["disclose"] is True


# --- the rollback high-water mark across restarts ----------------------------


def _bundle_config(tmp_path: Path, bundle: Path) -> NodeConfig:
    records = tmp_path / "records.jsonl"
    write_jsonl(generate_agency_records(DEMO_AGENCIES[0], count=50, seed=3), records)
    spec = NodeSpec("kcso", "kcso", None, records)
    import_records(spec, tmp_path)
    save_public_key(KEY.public_key(), tmp_path / "policy.pub.pem")
    return dataclasses.replace(
        node_config(spec, tmp_path),
        rego_library=None,
        policy=PolicyConfig(bundle=bundle, bundle_keys=(tmp_path / "policy.pub.pem",)),
    )


def _restart(loop: LoopThread, config: NodeConfig) -> RunningNode:
    return loop.run(start_node(config, MemoryDisclosureLog()))


def test_a_restarted_node_still_refuses_an_older_bundle(
    loop: LoopThread, tmp_path: Path, bundles: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    bundle = tmp_path / "active.bundle.tar.gz"
    _install(bundles["permissive"].read_bytes(), bundle)
    config = _bundle_config(tmp_path, bundle)
    state = state_path(config.database)
    assert not state.exists()
    newest = verify_bundle(bundle.read_bytes(), [KEY.public_key()])

    first = _restart(loop, config)
    try:
        assert first.node.contract.version == newest.revision
    finally:
        loop.run(first.stop())
    recorded = json.loads(state.read_text())
    assert (recorded["signed_at"], recorded["revision"]) == (newest.signed_at, newest.revision)

    # While the node is down, an older, validly signed bundle is put in place.
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    _install(pack_bundle(_files("pointer_only"), revision="older", key=KEY, now=yesterday), bundle)
    with caplog.at_level(logging.ERROR, logger="fieldgate.node"):
        second = _restart(loop, config)
    try:
        assert isinstance(second.node.contract, MissingContract)
        assert not second.node.ready
        rejected = second.node.metrics.registry.get_sample_value(
            "fieldgate_node_bundle_rejected_total", {"reason": "rollback"}
        )
        assert rejected == 1
        assert "refused (rollback)" in caplog.text
        assert "an older bundle cannot replace a newer one" in caplog.text
        # No contract: nothing is released, and the node says it is not answering
        # (a development node has no signed answer to carry the reason).
        with pytest.raises(grpc.RpcError) as refused:
            search(BundleNode(second, bundle, MemoryDisclosureLog(), tmp_path / "d"), "r")
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "no_contract" in (refused.value.details() or "")
    finally:
        loop.run(second.stop())
    assert json.loads(state.read_text()) == recorded  # a refusal moves nothing

    # A deliberate roll back: the operator resets the mark, the older bundle activates.
    toml = tmp_path / "kcso.toml"
    toml.write_text(
        f'[node]\nid = "kcso"\nagency_name = "kcso"\ndatabase = "{config.database}"\n'
        'insecure = true\n[node.contact]\nunit = "Records"\nphone = "555-0100"\n'
    )
    shown = CliRunner().invoke(cli, ["node", "bundle-state", "--config", str(toml), "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["mark"]["revision"] == newest.revision
    reset = CliRunner().invoke(cli, ["node", "bundle-state", "--config", str(toml), "--reset"])
    assert reset.exit_code == 0, reset.output
    assert f"it held revision {newest.revision}" in reset.output
    assert not state.exists()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fieldgate.node"):
        third = _restart(loop, config)
    try:
        assert third.node.contract.version == "older"
        assert f"no bundle rollback state at {state}" in caplog.text
    finally:
        loop.run(third.stop())
    assert json.loads(state.read_text())["revision"] == "older"


def test_an_unreadable_rollback_state_refuses_every_bundle(
    tmp_path: Path, bundles: dict[str, Path]
) -> None:
    state = tmp_path / "kcso.sqlite.bundle-state.json"
    state.write_text("{not json")
    reasons: list[str] = []
    watcher = BundleWatcher(
        bundles["permissive"], [KEY.public_key()], CATALOG.classes(), on_reject=reasons.append,
        state=state,
    )  # fmt: skip
    engine = watcher.initial()
    assert isinstance(engine, MissingContract)
    assert reasons == ["unreadable"]
    assert f"{state}: malformed bundle rollback state" in engine.reason
    assert "--reset" in engine.reason
    assert state.read_text() == "{not json"  # left for the operator to look at
    # Repaired (here: a mark older than the bundle), the bundle activates and raises the mark.
    save_high_water(state, HighWater(1, "ancient"))
    repaired = BundleWatcher(
        bundles["permissive"], [KEY.public_key()], CATALOG.classes(), state=state
    )
    active = repaired.initial()
    try:
        assert active.version == _revision(bundles["permissive"])
    finally:
        active.close()
    mark = load_high_water(state)
    assert mark is not None
    assert mark.revision == _revision(bundles["permissive"])
    assert mark.signed_at > 1
