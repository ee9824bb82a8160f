"""The protocol's caps on answers: what one node may send, and so what a broker answer can weigh.

The broker enforces these on every node's answer (see
:mod:`fieldgate.broker.answer_checks`) and marks a node that exceeds one as
failed, keeping every other agency's hits; the client sizes its receive limit
from them (:data:`MAX_BROKER_ANSWER_BYTES`), so one node's oversized answer can
never make the client reject the whole search.
"""

from __future__ import annotations

from fieldgate.core.query import HARD_MAX_HITS

MAX_HITS_PER_ANSWER = HARD_MAX_HITS
"""Hits one node may return for one search (the query's ``max_hits`` cap)."""

MAX_FIELDS_PER_HIT = 256
"""Released fields one hit may carry."""

MAX_VALUE_DEPTH = 8
"""Nesting of a released value (lists and structs inside lists and structs)."""

MAX_NODE_ANSWER_BYTES = 2 * 1024 * 1024 + 64 * 1024
"""Serialized size of one node's answer: the largest sealed answer (a 2 MiB bucket,
:mod:`fieldgate.trust.sealing`) and room for its ids and framing."""

MAX_UNARY_AUDIENCE = 64
"""Agencies one unary ``Search`` may be addressed to. Its one answer holds every
agency's sealed answer, so it grows with the audience (N × 8 KiB for N padded empty
answers, N × 2 MiB at the cap); a broker refuses a larger unary search
(FAILED_PRECONDITION, ``unary_audience``) and the client streams it instead
(``SearchStream``, whose every message holds one agency). A broker may serve any
number of nodes."""

MAX_BROKER_ANSWER_BYTES = MAX_UNARY_AUDIENCE * (MAX_NODE_ANSWER_BYTES + 8 * 1024) + 64 * 1024
"""Largest broker message: a unary answer with every agency at its cap plus each one's
status and detail. A streamed event holds one agency (or the list of agencies asked,
a few hundred bytes each), far below it."""
