"""The compiled record decoder accepts only what validate_record accepts, and makes the same record.

:mod:`fieldgate.policy.record_decoder` is a fast path: whatever it accepts
must equal :func:`validate_record` 's record for the same input; whatever
it is unsure of (None) goes to :func:`validate_record`, which names the
error. Checked on the synthetic records (which it must accept, or it buys
nothing) and on generated records with every kind of awkward value.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldgate.devkit.synthetic import KCSO, generate_agency_records
from fieldgate.node.changes import UPSERT, change_or_reason, upsert_from_line
from fieldgate.node.store_rows import record_row
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.errors import RecordError
from fieldgate.policy.record_decoder import _UNUSUAL, record_decoder
from fieldgate.policy.records import Record, validate_record

CATALOG = load_catalog(default_catalog_path())


def _slow(raw: dict[str, Any]) -> Record | None:
    try:
        return validate_record(raw, CATALOG)
    except RecordError:
        return None


def _same(fast: tuple[Record, tuple[object, ...]] | None, raw: dict[str, Any]) -> None:
    """The fast path is unsure, or it made exactly validate_record's record."""
    if fast is not None:
        slow = _slow(raw)
        assert slow is not None, f"fast path accepted what validate_record refuses: {raw!r}"
        assert fast[0] == slow
        assert record_row(fast[0]) == record_row(slow)


@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_synthetic_records_take_the_fast_path_and_equal_the_judged_ones(
    ensure_ascii: bool,
) -> None:
    records = generate_agency_records(KCSO, count=400, seed=7)
    decoder = record_decoder(CATALOG)
    fast = 0
    for raw in records:
        line = json.dumps(raw, ensure_ascii=ensure_ascii).encode()
        decoded = decoder.decode(line)
        _same(decoded, raw)
        _same(decoder.convert(raw), raw)
        fast += decoded is not None
    # Names with letters beyond ASCII may go the slow way; nearly all others must not.
    assert fast >= 0.9 * len(records)


def test_a_repeated_key_is_never_taken_by_the_fast_path() -> None:
    line = b'{"record_id": "R-1", "record_kind": "booking", "surname": "DOE", "surname": "ROE"}'
    assert record_decoder(CATALOG).decode(line) is None
    assert upsert_from_line(line, CATALOG) is None  # the reader then names the repeated key


def test_an_upsert_line_gives_the_same_change_either_way() -> None:
    raw = {"op": "UPSERT", "record_id": "R-1", "record_kind": "booking", "surname": "Doe"}
    fast = upsert_from_line(json.dumps(raw).encode(), CATALOG)
    assert fast is not None
    assert fast.op == UPSERT
    assert fast == change_or_reason(raw, CATALOG)
    seal = json.dumps({"op": "seal", "record_id": "R-1"}).encode()
    assert upsert_from_line(seal, CATALOG) is None


def test_every_whitespace_beyond_ascii_is_unusual() -> None:
    spaces = [chr(c) for c in range(0x80, sys.maxunicode + 1) if chr(c).isspace()]
    assert spaces
    assert all(_UNUSUAL.search(c) for c in spaces)


_AWKWARD = st.sampled_from(
    ["", " ", "\t", "\n", "\r", "\r\n", "\x00", "\x1b", "\x7f", "\x85", "\xa0", "\u2028",
     "\u202e", "\u3000", '"', "\\", "\\n", "é", "Đ", "'", ",", "\ufeff", "\U0001f642"]
)  # fmt: skip
_TEXT = st.one_of(
    st.text(max_size=12),
    st.tuples(_AWKWARD, st.sampled_from(["DOE", "Nguyen Van", "A", ""]), _AWKWARD).map("".join),
    st.sampled_from(["DOE", "SMITH, JOHN", "Đặng", "O'Brien", "2020-02-30", "1980-04-21"]),
)
_VALUE = st.one_of(
    _TEXT,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**54), max_value=2**54),
    st.floats(allow_nan=False),
    st.lists(st.one_of(_TEXT, st.none()), max_size=4),
    st.dictionaries(
        st.sampled_from(["street", "city", "state", "postal_code", "zip"]),
        st.one_of(_TEXT, st.none()),
        max_size=4,
    ),
)
_KEYS = st.sampled_from(
    ["record_id", "record_kind", "sealed", "juvenile", "surname", "given_name", "dob",
     "aliases", "height_cm", "state_id", "fbi_number", "address", "charges", "unknown"]
)  # fmt: skip


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(generate_agency_records(KCSO, count=30, seed=3)),
    changes=st.dictionaries(_KEYS, _VALUE, max_size=4),
)
def test_whatever_the_fast_path_accepts_validate_record_accepts_alike(
    base: dict[str, Any], changes: dict[str, Any]
) -> None:
    raw = {**base, **changes}
    decoder = record_decoder(CATALOG)
    _same(decoder.convert(raw), raw)
    for ensure_ascii in (True, False):
        try:
            line = json.dumps(raw, ensure_ascii=ensure_ascii).encode()
        except UnicodeEncodeError:  # a lone surrogate cannot be written as UTF-8
            continue
        _same(decoder.decode(line), raw)


@settings(max_examples=300, deadline=None)
@given(text=st.text(), items=st.lists(st.text(), max_size=3))
def test_bodies_are_the_text_older_stores_hold(text: str, items: list[str]) -> None:
    # Bodies are compared as text with what earlier builds wrote with json.dumps.
    record = Record("R", "booking", False, False, False, {"summary": text, "charges": items})
    expected = json.dumps(record.fields, ensure_ascii=False, separators=(",", ":"))
    assert record_row(record)[5] == expected
