"""Errors shared by the broker, the nodes and the client.

::

    FieldgateError                      root of every error Fieldgate raises on purpose
    ├── InvalidRequestError             bad query or claims (gRPC INVALID_ARGUMENT)
    ├── ConfigError         (config)    a configuration file or override that cannot be used
    ├── DigestKeyError      (digests)   the deployment's digest key file cannot be used
    └── TLSError            (tls)       TLS files that cannot be used

Each error carries what was wrong as attributes (``field``, ``key``), and a
message a person can act on. Every package above this one draws its own
errors, rooted here, in its ``errors.py``; ``tests/architecture`` checks the
drawings against the code.
"""

from __future__ import annotations


class FieldgateError(Exception):
    """Root of every error Fieldgate raises on purpose."""


class InvalidRequestError(FieldgateError):
    """A search request that cannot be answered as asked.

    Attributes:
        field: dotted path of the offending request field, e.g. ``query.dob``.
        reason: what is wrong with it, in words.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
