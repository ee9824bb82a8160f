"""Catalog changes are reviewed like contract changes (issue 16, item 9), on a real node.

The attacker is a catalog edit nobody reviewed: ``ssn`` added to ``identity``,
a class the sanctuary contract releases whole to criminal investigators. A
node refuses the bundle that was not reviewed with it (at start, with the
field named), accepts it once the bundle acknowledges the field, and every
audit entry names the catalog's version beside the contract's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from pathlib import Path

import pytest

from fieldgate.authoring.bundle_build import build_bundle
from fieldgate.core.claims import validate_requester
from fieldgate.core.query import validate_query
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import NodeSpec, import_records, node_config
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.node.audit.keys import ensure_key
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit.store import AuditStore
from fieldgate.node.audit.verify import verify_log
from fieldgate.node.disclosure_log import MemoryDisclosureLog
from fieldgate.node.server import build_node
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.catalog_review import catalog_changes, released_changes
from fieldgate.policy.config import PolicyConfig
from fieldgate.policy.contract_bundle import BundleError, load_bundle
from fieldgate.policy.engine import MissingContract, RegorusContract
from fieldgate.policy.shipped import rego_library, shipped_contract
from fieldgate.trust.keys import generate_key, save_public_key
from fieldgate.v2 import common_pb2

REGO = Path(__file__).resolve().parents[2] / "rego"
CATALOG = load_catalog(default_catalog_path())
KEY = generate_key()
DETECTIVE = demo_personas(dt.date.today())[0].requester
SSN = '\n[fields.ssn]\nclass = "{cls}"\ntype = "string"\ndescription = "Social security number"\n'


def catalog_with_ssn(directory: Path, cls: str = "identity") -> Path:
    path = directory / f"catalog-ssn-{cls}.toml"
    path.write_text(default_catalog_path().read_text() + SSN.format(cls=cls))
    return path


def sanctuary_bundle(directory: Path, *acknowledged: str) -> bytes:
    out = directory / f"sanctuary-{'-'.join(acknowledged) or 'plain'}.tar.gz"
    build_bundle(
        REGO / "contracts" / "sanctuary_county", REGO / "lib", KEY, out, CATALOG, acknowledged
    )
    return out.read_bytes()


def test_a_field_added_to_a_released_class_is_found_by_asking_the_contract(tmp_path: Path) -> None:
    new = load_catalog(catalog_with_ssn(tmp_path)).classes()
    assert catalog_changes(CATALOG.classes(), new) == {"ssn": ("", "identity")}
    engine = RegorusContract(shipped_contract("sanctuary_county"), rego_library(), new)
    try:
        assert released_changes(engine, CATALOG.classes(), new) == {"ssn": ("", "identity")}
    finally:
        engine.close()
    # Into a class the contract never shares: nothing to review.
    never = load_catalog(catalog_with_ssn(tmp_path, "immigration_status")).classes()
    engine = RegorusContract(shipped_contract("sanctuary_county"), rego_library(), never)
    try:
        assert released_changes(engine, CATALOG.classes(), never) == {}
    finally:
        engine.close()


def test_a_bundle_not_reviewed_with_the_catalog_is_refused(tmp_path: Path) -> None:
    new = load_catalog(catalog_with_ssn(tmp_path)).classes()
    data = sanctuary_bundle(tmp_path)
    with pytest.raises(BundleError) as refused:
        load_bundle(data, [KEY.public_key()], new)
    assert refused.value.reason == "catalog"
    assert "ssn (new -> identity)" in str(refused.value)
    assert "--acknowledge" in str(refused.value)
    # The same bundle under the catalog it was reviewed with is fine.
    load_bundle(data, [KEY.public_key()], CATALOG.classes()).close()
    # Acknowledged in the signed manifest: accepted.
    load_bundle(sanctuary_bundle(tmp_path, "ssn"), [KEY.public_key()], new).close()


def test_a_node_starts_without_a_contract_rather_than_release_the_new_field(
    tmp_path: Path,
) -> None:
    records = tmp_path / "records.jsonl"
    write_jsonl(generate_agency_records(DEMO_AGENCIES[0], count=20, seed=4), records)
    spec = NodeSpec("kcso", "kcso", None, records)
    import_records(spec, tmp_path)
    save_public_key(KEY.public_key(), tmp_path / "policy.pub.pem")
    bundle = tmp_path / "active.bundle.tar.gz"
    bundle.write_bytes(sanctuary_bundle(tmp_path))
    config = dataclasses.replace(
        node_config(spec, tmp_path),
        catalog=catalog_with_ssn(tmp_path),
        rego_library=None,
        policy=PolicyConfig(bundle=bundle, bundle_keys=(tmp_path / "policy.pub.pem",)),
    )
    node = build_node(config, MemoryDisclosureLog())
    try:
        assert isinstance(node.contract, MissingContract)
        assert not node.ready
        assert "ssn" in node.contract.reason
        assert "catalog" in node.contract.reason
    finally:
        node.store.close()


def test_every_audit_entry_names_the_catalog_version(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    write_jsonl(generate_agency_records(DEMO_AGENCIES[0], count=30, seed=6), records)
    spec = NodeSpec("kcso", "kcso", shipped_contract("sanctuary_county"), records)
    import_records(spec, tmp_path)
    audit = AuditStore.open(
        tmp_path / "kcso.audit.sqlite", node_id="kcso", key=ensure_key(tmp_path / "k.pem")
    )
    node = build_node(node_config(spec, tmp_path), audit)
    query = validate_query(
        common_pb2.PersonQuery(
            surname=DEMO_SUBJECT.surname, given_name=DEMO_SUBJECT.given_name, dob=DEMO_SUBJECT.dob
        )
    )
    try:
        assert node.search("cat-1", validate_requester(DETECTIVE.to_message()), query)
        node.search("cat-2", validate_requester(DETECTIVE.to_message()), query)
    finally:
        node.contract.close()
        node.store.close()
        audit.close()
    with AuditReader(tmp_path / "kcso.audit.sqlite") as reader:
        searches = [row.document()["data"] for row in reader.entries("search")]
    assert len(searches) == 2
    for data in searches:
        assert data["catalog_version"] == CATALOG.version
        assert data["contract_version"]
    assert verify_log(tmp_path / "kcso.audit.sqlite").ok


def test_the_catalog_version_is_its_content_not_its_formatting(tmp_path: Path) -> None:
    text = default_catalog_path().read_text()
    reformatted = tmp_path / "same.toml"
    reformatted.write_text("# a comment\n" + text)
    assert load_catalog(reformatted).version == CATALOG.version
    assert load_catalog(catalog_with_ssn(tmp_path)).version != CATALOG.version
    assert tomllib.loads(text)  # the file itself is untouched
