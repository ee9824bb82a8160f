"""How the broker's refusals leave it as gRPC statuses, and how a node's status reads.

======================================  ==================  =====================================
Refusal                                 gRPC status         Message
======================================  ==================  =====================================
:class:`VerificationError`              UNAUTHENTICATED     ``search refused (reason): detail``
… its reason ``outside_reach``          PERMISSION_DENIED   ``search refused (outside_reach): …``
:class:`InvalidRequestError`            INVALID_ARGUMENT    the field and what is wrong with it
:class:`LimitExceeded`                  RESOURCE_EXHAUSTED  ``search refused (reason): message``
:class:`UnaryTooLarge`                  FAILED_PRECONDITION ``search refused (unary_audience): …``
caller's certificate role not admitted  PERMISSION_DENIED   this broker answers investigators
======================================  ==================  =====================================

The ``reason`` in a refusal's message is a stable code (the verifier's
reasons, :data:`fieldgate.broker.limits.LIMIT_REASONS`): clients and
dashboards match on it. A node's failure never ends the search: the other way
round, the status a node's call ended with is read into the agency's outcome
(unreachable, timed out, error) with the sets below. No other module of the
broker names a status code (``tests/architecture/test_status_mapping.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn, assert_never

import grpc

from fieldgate.broker.errors import LimitExceeded, UnaryTooLarge
from fieldgate.core.errors import InvalidRequestError
from fieldgate.trust.verify import VerificationError

Refused = VerificationError | InvalidRequestError | LimitExceeded | UnaryTooLarge
"""The errors a search is refused with at the broker."""

NODE_UNREACHABLE = frozenset({grpc.StatusCode.UNAVAILABLE})
"""A node's statuses that mean it could not be reached."""
NODE_TIMED_OUT = frozenset({grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED})
"""A node's statuses that mean it did not answer in time."""
NODE_INTERNAL = frozenset(
    {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.DATA_LOSS}
)
"""A node's statuses that mean it failed inside (its message is not passed on)."""


@dataclass(frozen=True)
class Status:
    """A gRPC status a call ends with."""

    code: grpc.StatusCode
    """The status code."""
    message: str
    """The details, in words the caller can act on."""


CALLER_ROLE_REFUSED = Status(
    grpc.StatusCode.PERMISSION_DENIED,
    "this broker answers only investigators' certificates (role investigator)",
)
"""A caller whose certificate binds a role the broker does not answer (a node's, say)."""


def status_for(error: Refused) -> Status:
    """The status a search refused with ``error`` ends with."""
    if isinstance(error, VerificationError) and error.reason == "outside_reach":
        # Authenticated, but addressed where the requester's own agency forbids.
        return Status(
            grpc.StatusCode.PERMISSION_DENIED,
            f"search refused ({error.reason}): {error.detail[:300]}",
        )
    if isinstance(error, VerificationError):
        return Status(
            grpc.StatusCode.UNAUTHENTICATED,
            # A requester-sent detail is quoted at a bounded length.
            f"search refused ({error.reason}): {error.detail[:300]}",
        )
    if isinstance(error, InvalidRequestError):
        return Status(grpc.StatusCode.INVALID_ARGUMENT, str(error)[:500])
    if isinstance(error, LimitExceeded):
        return Status(
            grpc.StatusCode.RESOURCE_EXHAUSTED, f"search refused ({error.reason}): {error.message}"
        )
    if isinstance(error, UnaryTooLarge):
        # Nothing wrong with the search: this RPC cannot carry its answer; the stream can.
        return Status(
            grpc.StatusCode.FAILED_PRECONDITION, f"search refused ({error.reason}): {error.message}"
        )
    assert_never(error)


async def abort(context: grpc.aio.ServicerContext[Any, Any], status: Status) -> NoReturn:
    """End the call with ``status`` (raises, as ``context.abort`` does)."""
    await context.abort(status.code, status.message)
