"""Request ids: a short, plain token, so no id can forge a log line or collide by design.

A request id travels from the broker into every node's log lines and audit
entries. One that held a newline forged lines in node logs (issue 16); so an
id is 1–64 characters from ``A–Z a–z 0–9 . _ : -`` and anything else is
refused with INVALID_ARGUMENT naming ``request_id``.
"""

from __future__ import annotations

import re

from fieldgate.core.errors import InvalidRequestError

MAX_REQUEST_ID_LENGTH = 64
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]+")


def validate_request_id(value: str) -> str:
    """Return ``value`` if it is a well-formed request id.

    Raises:
        InvalidRequestError: naming ``request_id`` and what is wrong with it.
    """
    if not value:
        raise InvalidRequestError("request_id", "is empty")
    if len(value) > MAX_REQUEST_ID_LENGTH:
        raise InvalidRequestError(
            "request_id", f"is longer than {MAX_REQUEST_ID_LENGTH} characters"
        )
    if not _REQUEST_ID.fullmatch(value):
        raise InvalidRequestError(
            "request_id", "may hold only letters, digits and . _ : - (no spaces or line breaks)"
        )
    return value
