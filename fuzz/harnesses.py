"""The harnesses: one parser each, and the only errors it may raise."""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
import tomllib
import unicodedata
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.message import DecodeError

from fieldgate.broker.answer_checks import answer_problem
from fieldgate.core.answer_caps import MAX_HITS_PER_ANSWER
from fieldgate.core.claims import validate_requester
from fieldgate.core.errors import InvalidRequestError
from fieldgate.core.inert_text import csv_safe, terminal_safe
from fieldgate.core.names import normalize_identifier, normalize_name, split_full_name
from fieldgate.core.query import parse_date, validate_query
from fieldgate.core.request_shape import check_search_shape
from fieldgate.devkit.dev_trust import DevTrust
from fieldgate.node.errors import RecordImportError
from fieldgate.node.importer import import_file
from fieldgate.node.store import RecordStore
from fieldgate.policy.catalog import default_catalog_path, load_catalog, parse_catalog
from fieldgate.policy.contract_bundle import BundleError, verify_bundle
from fieldgate.policy.errors import CatalogError
from fieldgate.trust.trust_bundle import TrustStore
from fieldgate.trust.verify import SearchVerifier, VerificationError
from fieldgate.v2 import common_pb2, node_pb2

CATALOG = load_catalog(default_catalog_path())


def search_request(data: bytes) -> None:
    """A node's request as raw bytes: decode, then validate claims and query."""
    try:
        request = node_pb2.NodeServiceSearchRequest.FromString(data)
    except DecodeError:
        return
    message = ""
    try:
        # The cheap checks the broker and nodes run before any signature.
        check_search_shape(request.requester, request.query, request.signed)
        validate_requester(request.requester)
        validate_query(request.query, today=dt.date(2026, 11, 21))
    except InvalidRequestError as exc:
        message = str(exc)
    assert len(message) < 1000, "error messages must not echo the input"


def names(data: bytes) -> None:
    """Name and date normalisation never crash and are idempotent."""
    text = data.decode("utf-8", "replace")
    # Text shown on a terminal or put in a CSV is inert, whatever it was.
    shown = terminal_safe(text)
    assert all(c == " " or c.isprintable() or unicodedata.category(c)[0] != "C" for c in shown)
    assert not str(csv_safe(text)).startswith(("=", "+", "-", "@", "\t", "\r"))
    once = normalize_name(text)
    assert normalize_name(once) == once
    assert normalize_identifier(normalize_identifier(text)) == normalize_identifier(text)
    surname, given = split_full_name(text)
    assert isinstance(surname, str)
    assert isinstance(given, str)
    with contextlib.suppress(InvalidRequestError):
        parse_date(text, "dob")


def _import(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / f"records{suffix}"
        source.write_bytes(data)
        with RecordStore.open(Path(tmp) / "store.sqlite") as store:
            try:
                import_file(store, source, CATALOG)
            except RecordImportError:
                assert store.count() == 0, "a refused import must write nothing"


def import_jsonl(data: bytes) -> None:
    """Record import from JSON Lines: loads all or nothing, never crashes."""
    _import(data, ".jsonl")


def import_csv(data: bytes) -> None:
    """Record import from CSV: loads all or nothing, never crashes."""
    _import(data, ".csv")


def catalog(data: bytes) -> None:
    """A field catalog file: parses or names what is wrong."""
    try:
        document = tomllib.loads(data.decode("utf-8", "replace"))
    except tomllib.TOMLDecodeError:
        return
    with contextlib.suppress(CatalogError):
        parse_catalog(document, source="<fuzz>")


_VERIFIER: SearchVerifier | None = None


def _verifier() -> SearchVerifier:
    global _VERIFIER  # one trust store for the whole run: keys are slow to make
    if _VERIFIER is None:
        directory = Path(tempfile.mkdtemp(prefix="fieldgate-fuzz-"))
        kit = DevTrust(directory)
        kit.add_issuer("bellevue-pd", "local_law_enforcement")
        kit.write()
        store = TrustStore(kit.bundle_path, kit.revocations_path, max_age=dt.timedelta(days=365))
        _VERIFIER = SearchVerifier(store)
    return _VERIFIER


def signed_search(data: bytes) -> None:
    """Credentials, proofs and warrants from raw bytes: verified or refused, never a crash."""
    try:
        signed = common_pb2.SignedSearch.FromString(data)
    except DecodeError:
        return
    try:
        _verifier().verify(signed)
    except VerificationError:
        return
    raise AssertionError("random bytes verified as a signed search")


_BUNDLE_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
"""A fixed policy key: the seeds are bundles it signed (fuzz/seeds.py)."""


def contract_bundle(data: bytes) -> None:
    """A signed contract bundle's bytes: verified, or refused with a reason, never a crash."""
    with contextlib.suppress(BundleError):
        bundle = verify_bundle(data, [_BUNDLE_KEY.public_key()])
        # Only the seed itself (or a change the signature does not cover) gets here.
        assert bundle.contract in bundle.files


NODE_AGENCY = "King County Sheriff's Office"
"""The agency the fuzzed answers are judged as coming from."""


def node_answer(data: bytes) -> None:
    """A node's answer as raw bytes: within the caps or refused with a short reason."""
    try:
        answer = node_pb2.NodeServiceSearchResponse.FromString(data)
    except DecodeError:
        return
    problem = answer_problem(answer, NODE_AGENCY)
    # The reason names the cap, never the node's data (it goes to the requester).
    assert problem is None or len(problem) < 200, problem
    if problem is None:
        assert len(answer.hits) <= MAX_HITS_PER_ANSWER
        assert all(h.contact.agency in ("", NODE_AGENCY) for h in answer.hits)


HARNESSES: dict[str, Callable[[bytes], None]] = {
    "search_request": search_request,
    "names": names,
    "import_jsonl": import_jsonl,
    "import_csv": import_csv,
    "catalog": catalog,
    "signed_search": signed_search,
    "contract_bundle": contract_bundle,
    "node_answer": node_answer,
}
"""Harness name → check function."""
