"""Checks on each node's answer before it joins the search's result.

A node is an agency's own process, and a hostile or broken one must not sink
the search for everyone else. A sealed answer the broker cannot read: it
checks only its sizes (an HPKE encapsulated key of 32 bytes and a ciphertext
of an answer bucket plus the tag, :mod:`fieldgate.trust.sealing`); the
requester verifies the rest. A development node's clear answer over the
protocol's caps (hits, fields, value nesting: :mod:`fieldgate.core.answer_caps`)
or one whose hits name another agency is refused whole, and the node is marked
as failed with a short reason; every other agency's hits are kept. Size is capped earlier, by the
broker's receive limit on node channels (see :mod:`fieldgate.broker.node_client`).
"""

from __future__ import annotations

from google.protobuf import struct_pb2

from fieldgate.core.answer_caps import MAX_FIELDS_PER_HIT, MAX_HITS_PER_ANSWER, MAX_VALUE_DEPTH
from fieldgate.trust.sealing import ANSWER_BUCKETS, ENC_BYTES, TAG_BYTES
from fieldgate.v2 import node_pb2

SEALED_SIZES = frozenset(size + TAG_BYTES for size in ANSWER_BUCKETS)
"""The ciphertext sizes a sealed answer may have."""

__all__ = ["answer_problem"]


def _depth(value: struct_pb2.Value, limit: int) -> int:
    """Nesting depth of ``value``, counting no further than ``limit + 1``."""
    if limit < 0:
        return 1
    kind = value.WhichOneof("kind")
    if kind == "list_value":
        inner = [_depth(v, limit - 1) for v in value.list_value.values]
    elif kind == "struct_value":
        inner = [_depth(v, limit - 1) for v in value.struct_value.fields.values()]
    else:
        return 0
    return 1 + max(inner, default=0)


def answer_problem(answer: node_pb2.NodeServiceSearchResponse, agency_name: str) -> str | None:
    """What is wrong with ``answer`` from the node registered as ``agency_name``, or None.

    The text is for the requester and the broker's log: it names the cap, never
    the node's data.
    """
    sealed = answer.answer
    if sealed.enc or sealed.ciphertext:
        if len(sealed.enc) != ENC_BYTES or len(sealed.ciphertext) not in SEALED_SIZES:
            return (
                f"sealed answer of {len(sealed.enc)}+{len(sealed.ciphertext)} bytes "
                "is not a padded answer size"
            )
        if answer.hits:
            return "answer carries clear hits beside its sealed answer"
    if len(answer.hits) > MAX_HITS_PER_ANSWER:
        return f"answer has {len(answer.hits)} hits; the protocol allows {MAX_HITS_PER_ANSWER}"
    for number, hit in enumerate(answer.hits):
        if hit.contact.agency and hit.contact.agency != agency_name:
            return f"hit {number} names another agency as its holder"
        if len(hit.fields) > MAX_FIELDS_PER_HIT:
            return f"hit {number} has {len(hit.fields)} fields; at most {MAX_FIELDS_PER_HIT}"
        for field in hit.fields:
            if _depth(field.value, MAX_VALUE_DEPTH) > MAX_VALUE_DEPTH:
                return f"hit {number} has a value nested deeper than {MAX_VALUE_DEPTH} levels"
    return None
