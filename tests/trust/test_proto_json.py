"""The fast proto3 JSON mapping of hits gives exactly ``MessageToDict``'s dict and JSON text.

A node signs its hits' JSON and the Node.js client parses it (docs/protocol.md):
a difference here would change what is signed, so every hit shape the node can
build is compared with the library's own mapping.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldgate.policy.verdict import fill_value
from fieldgate.trust.answers import hit_json
from fieldgate.trust.proto_json import message_dict
from fieldgate.v2 import common_pb2


def _library(message: Any) -> dict[str, Any]:
    return dict(json_format.MessageToDict(message, preserving_proto_field_name=True))


def _same(message: Any) -> None:
    fast, library = message_dict(message), _library(message)
    assert fast == library
    # Same keys in the same order, same number spellings: the signed bytes match.
    assert json.dumps(fast, separators=(",", ":")) == json.dumps(library, separators=(",", ":"))


_scalars = (
    st.text(max_size=12)
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)


@st.composite
def _hits(draw: st.DrawFn) -> common_pb2.Hit:
    hit = common_pb2.Hit(
        record_id=draw(st.sampled_from(["", "KC-1"])),
        record_kind=draw(st.sampled_from(["", "booking", "warrant"])),
        score=draw(st.sampled_from([0.0, -0.0, 1.0, 0.9731, 1e-300])),
        match_reasons=draw(st.lists(st.text(max_size=20), max_size=3)),
        reference=draw(st.text(max_size=30)),
    )
    if draw(st.booleans()):
        hit.contact.SetInParent()  # an empty contact is still sent as {}
        hit.contact.unit = draw(st.sampled_from(["", "Records"]))
    for _ in range(draw(st.integers(0, 4))):
        field = hit.fields.add(
            name=draw(st.text(max_size=10)),
            sensitivity=draw(st.sampled_from(["", "identity", "restricted"])),
            mask=draw(st.sampled_from(["", "year", "last4"])),
        )
        if draw(st.booleans()):
            fill_value(field.value, draw(_values))
    return hit


@settings(max_examples=300, deadline=None)
@given(_hits())
def test_every_hit_shape_maps_as_the_library_maps_it(hit: common_pb2.Hit) -> None:
    _same(hit)
    assert hit_json(hit) == _library(hit)


def test_an_unset_value_and_a_null_value_are_both_null() -> None:
    hit = common_pb2.Hit(record_kind="booking")
    hit.fields.add(name="unset").value.SetInParent()
    hit.fields.add(name="null").value.null_value = struct_pb2.NULL_VALUE
    _same(hit)
    assert [f["value"] for f in message_dict(hit)["fields"]] == [None, None]


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_a_non_finite_number_is_left_to_the_library(number: float) -> None:
    """The library refuses a non-finite Value and spells a non-finite double as a string;
    the fast path gives way to it in both cases, so the outcome is the library's."""
    hit = common_pb2.Hit(score=number)
    assert message_dict(hit) == _library(hit)
    assert message_dict(hit)["score"] in ("NaN", "Infinity", "-Infinity")
    hit = common_pb2.Hit()
    hit.fields.add(name="n").value.number_value = number
    with pytest.raises(json_format.SerializeToJsonError):
        json_format.MessageToDict(hit)
    with pytest.raises(json_format.SerializeToJsonError):
        message_dict(hit)


def test_other_messages_fall_back_to_the_library() -> None:
    """Types the fast path does not map itself (a well-known type at the top) still map."""
    struct = struct_pb2.Struct()
    struct.update({"a": 1, "b": [True, "x"]})
    assert message_dict(struct) == _library(struct) == {"a": 1.0, "b": [True, "x"]}
