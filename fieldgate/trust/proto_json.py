"""The proto3 JSON mapping of a message, as ``json_format.MessageToDict`` makes it, faster.

A node signs its hits in the proto3 JSON mapping (original field names;
:mod:`fieldgate.trust.answers`). ``MessageToDict`` costs ≈ 85 µs per hit on
the development machine, more than the Ed25519 signature over the whole
answer (``python -m bench.sealing``); :func:`message_dict` returns the same
values — strings, booleans and doubles as they are, ``google.protobuf.Value``
as plain JSON — at a fraction of the cost. Anything it does not map itself
(integers, enums, bytes, non-finite numbers, maps, other well-known types)
goes to ``MessageToDict`` whole, so the result is always the library's:
``tests/trust/test_proto_json.py`` checks both give the same dict (and the
same JSON text) for every hit shape the node builds.
"""

from __future__ import annotations

import math
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

_VALUE = "google.protobuf.Value"
_STRING = FieldDescriptor.CPPTYPE_STRING
_BOOL = FieldDescriptor.CPPTYPE_BOOL
_DOUBLE = FieldDescriptor.CPPTYPE_DOUBLE
_MESSAGE = FieldDescriptor.CPPTYPE_MESSAGE
_BYTES = FieldDescriptor.TYPE_BYTES


_NotMapped = LookupError
"""Raised for a part :func:`message_dict` leaves to ``MessageToDict`` (a built-in
class: nothing the fast path calls raises one otherwise, and no new error class is
needed for a signal that never leaves this module)."""


def message_dict(message: Message) -> dict[str, Any]:
    """``MessageToDict(message, preserving_proto_field_name=True)``, the same dict."""
    try:
        return _message(message)
    except _NotMapped:
        return dict(json_format.MessageToDict(message, preserving_proto_field_name=True))


_PLAIN, _FLOAT, _JSON_VALUE, _NESTED = range(4)
_Plan = tuple[tuple[str, int, bool, bool], ...]
_plans: dict[Any, _Plan] = {}
"""Per message type, worked out once: each field's name, how it maps, whether it
repeats and whether it tracks presence, in field-number order (``ListFields``'
order). ``ListFields`` itself and reading descriptors cost more than the mapping."""


def _plan(descriptor: Any) -> _Plan:
    plan = _plans.get(descriptor)
    if plan is not None:
        return plan
    if descriptor.full_name.startswith("google.protobuf."):
        raise _NotMapped  # well-known types have mappings of their own
    fields = []
    for field in sorted(descriptor.fields, key=lambda f: f.number):
        kind, message_type = field.cpp_type, field.message_type
        if (kind == _STRING and field.type != _BYTES) or kind == _BOOL:
            how = _PLAIN
        elif kind == _DOUBLE:
            how = _FLOAT
        elif kind == _MESSAGE and message_type is not None and message_type.full_name == _VALUE:
            how = _JSON_VALUE
        elif kind == _MESSAGE and message_type and not message_type.GetOptions().map_entry:
            how = _NESTED
        else:
            raise _NotMapped  # integers, enums, bytes, maps: the library's rules
        fields.append((field.name, how, field.is_repeated, field.has_presence))
    plan = _plans[descriptor] = tuple(fields)
    return plan


def _message(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, how, repeated, presence in _plan(message.DESCRIPTOR):
        if repeated:
            items = getattr(message, name)
            if items:
                out[name] = [_single(how, item) for item in items]
        elif presence:
            if message.HasField(name):
                out[name] = _single(how, getattr(message, name))
        else:
            value = getattr(message, name)
            # Without presence a scalar is sent unless it is its default; protobuf
            # compares bits, so -0.0 is sent (and == 0.0 in Python would drop it).
            if value or (how == _FLOAT and math.copysign(1.0, value) < 0):
                out[name] = _single(how, value)
    return out


def _single(plan: int, value: Any) -> Any:
    if plan == _PLAIN:
        return value
    if plan == _FLOAT:
        if not math.isfinite(value):
            raise _NotMapped  # "NaN" / "Infinity" as strings: the library's own rule
        return value
    if plan == _JSON_VALUE:
        return _value(value)
    return _message(value)


def _value(value: Any) -> Any:
    """A ``google.protobuf.Value`` as plain JSON (unset and null_value alike: None)."""
    which = value.WhichOneof("kind")
    if which is None or which == "null_value":
        return None
    if which == "string_value":
        return value.string_value
    if which == "bool_value":
        return value.bool_value
    if which == "number_value":
        number = value.number_value
        if not math.isfinite(number):
            raise _NotMapped  # the library refuses it: let it say so
        return number
    if which == "list_value":
        return [_value(item) for item in value.list_value.values]
    fields = value.struct_value.fields
    return {key: _value(fields[key]) for key in fields}
