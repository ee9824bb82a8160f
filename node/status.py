"""How the node's errors and refusals leave it as gRPC statuses: the one mapping.

======================================  ==================  =====================================
Error or refusal                        gRPC status         Message
======================================  ==================  =====================================
caller is not an allowed broker         PERMISSION_DENIED   this node answers only its brokers
(by name, or by its certificate's role)
:class:`InvalidRequestError`            INVALID_ARGUMENT    the field and what is wrong with it
:class:`DisclosureLogError`             UNAVAILABLE         cannot record disclosures; try later
:class:`DuplicateRequestId`             ALREADY_EXISTS      the id was used here; send a new one
development node that cannot decide     FAILED_PRECONDITION not answering — <reason> (readiness)
anything else                           INTERNAL            the operator has the details
======================================  ==================  =====================================

A search that fails verification is not here: it gets the answer for a person
the agency does not hold (see :mod:`fieldgate.node.trust_gate`), so denied
looks like absent. The disclosure-log refusal is raised for every search
alike, so it says nothing about whether a record exists; the INTERNAL message
tells nothing internal. No other module of the node names a status code to
abort with (``tests/architecture/test_status_mapping.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

import grpc

from fieldgate.core.errors import InvalidRequestError
from fieldgate.core.vocabulary import not_answering_words
from fieldgate.node.audit_budget import AuditBudgetExceeded
from fieldgate.node.errors import DisclosureLogError
from fieldgate.node.limits import NodeLimitExceeded
from fieldgate.node.request_ids import DuplicateRequestId


@dataclass(frozen=True)
class Status:
    """A gRPC status a call ends with."""

    code: grpc.StatusCode
    """The status code."""
    message: str
    """The details, in words the caller can act on."""


CALLER_NOT_ALLOWED = Status(
    grpc.StatusCode.PERMISSION_DENIED, "this node answers only its federation's brokers"
)
"""A caller whose TLS certificate names no allowed client (``allowed_clients``)."""

DISCLOSURE_LOG_UNAVAILABLE = Status(
    grpc.StatusCode.UNAVAILABLE,
    "this node cannot record disclosures right now, so it answers nothing; "
    "try again later or call the agency",
)
"""No disclosure without its log entry: the node answers nothing."""

INTERNAL = Status(
    grpc.StatusCode.INTERNAL, "the node failed to answer; its operator has the details"
)
"""Whatever else went wrong: nothing is released and nothing internal is told."""


def not_answering_status(reason: str) -> Status:
    """A development node (no signed answer) that cannot decide any search: ``reason``
    from :mod:`fieldgate.node.readiness`, the node's state and never the person's."""
    words = not_answering_words(reason)
    return Status(grpc.StatusCode.FAILED_PRECONDITION, f"this node is {words} ({reason})")


def status_for(error: BaseException) -> Status:
    """The status a search that raised ``error`` ends with."""
    if isinstance(error, InvalidRequestError):
        return Status(grpc.StatusCode.INVALID_ARGUMENT, str(error))
    if isinstance(error, DisclosureLogError):
        return DISCLOSURE_LOG_UNAVAILABLE
    if isinstance(error, DuplicateRequestId):
        # Decided by the ids the broker sent, before any record was looked at.
        return Status(grpc.StatusCode.ALREADY_EXISTS, str(error))
    if isinstance(error, NodeLimitExceeded):
        # The requester's own history decided this, never the store.
        return Status(
            grpc.StatusCode.RESOURCE_EXHAUSTED, f"search refused ({error.reason}): {error.message}"
        )
    if isinstance(error, AuditBudgetExceeded):
        # Decided by the requester's own past searches, never by what this node holds.
        return Status(grpc.StatusCode.RESOURCE_EXHAUSTED, error.message)
    return INTERNAL


async def abort(context: grpc.aio.ServicerContext[Any, Any], status: Status) -> NoReturn:
    """End the call with ``status`` (raises, as ``context.abort`` does)."""
    await context.abort(status.code, status.message)
