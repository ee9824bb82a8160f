"""Errors the broker raises on purpose.

::

    FieldgateError                          (fieldgate.core.errors)
    └── BrokerError                         root of the broker's errors
        ├── LimitExceeded                   a search over an abuse limit (``reason``)
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
