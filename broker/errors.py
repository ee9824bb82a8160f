"""Errors the broker raises on purpose.

::

    FieldgateError                          (fieldgate.core.errors)
    └── BrokerError                         root of the broker's errors
        ├── LimitExceeded                   a search over an abuse limit (``reason``)
        ├── UnaryTooLarge                   a unary Search addressed to too many agencies
        ├── FileLimitTooLow                 RLIMIT_NOFILE's hard limit is below what the nodes need
        └── BrokerLogError (audit_log)      the broker's search log cannot be opened or written

How each leaves the broker as a gRPC status is decided in one place,
:mod:`fieldgate.broker.status`.
"""

from __future__ import annotations

from fieldgate.core.errors import FieldgateError


class BrokerError(FieldgateError):
    """Root of every error the broker raises on purpose."""


class LimitExceeded(BrokerError):
    """A search over a limit.

    Attributes:
        reason: one of :data:`fieldgate.broker.limits.LIMIT_REASONS` (a stable
            code: it labels ``fieldgate_broker_rejected_total`` and is quoted in
            the refusal's message).
        message: what was exceeded, in words.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class UnaryTooLarge(BrokerError):
    """A unary ``Search`` addressed to more agencies than its one answer may hold.

    Attributes:
        reason: ``unary_audience`` (a stable code, as :class:`LimitExceeded`'s).
        message: how many were addressed, the limit, and to stream instead.
    """

    reason = "unary_audience"

    def __init__(self, addressed: int, limit: int) -> None:
        self.message = (
            f"addressed to {addressed} agencies; a unary Search answers at most {limit} "
            "(its one answer holds every agency's): use SearchStream"
        )
        super().__init__(self.message)
        self.addressed = addressed
        self.limit = limit


class FileLimitTooLow(BrokerError):
    """The process may not open a file descriptor per node: RLIMIT_NOFILE's hard limit is low.

    Attributes:
        needed: descriptors the broker needs (one per node address and a margin).
        soft: the soft limit found.
        hard: the hard limit found.
        addresses: node addresses routed to.
    """

    def __init__(self, needed: int, soft: int, hard: int, addresses: int) -> None:
        super().__init__(
            f"RLIMIT_NOFILE hard limit is {hard} (soft {soft}); routing to {addresses} node "
            f"addresses needs {needed} file descriptors. Raise it (systemd: LimitNOFILE={needed}; "
            f"shell: ulimit -Hn {needed}; Kubernetes: the container runtime's nofile limit)"
        )
        self.needed = needed
        self.soft = soft
        self.hard = hard
        self.addresses = addresses
