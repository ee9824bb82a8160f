"""Errors of the search client.

::

    FieldgateError                          (fieldgate.core.errors)
    ├── AudienceError (audience)            a search addressed outside the credential's reach
    ├── LoginFailed (login)                 the credential issuer refused or could not be reached
    ├── SearchError                         the broker refused or failed a search
    └── StreamProtocolError (stream)        the broker's stream broke its documented order

Each class lives beside the code that raises it (``SearchError``, raised by
several modules, here); this drawing is the map. ``SearchError`` keeps the
gRPC status code and the broker's message as attributes.
"""

from __future__ import annotations

import grpc

from fieldgate.core.errors import FieldgateError


class SearchError(FieldgateError):
    """The broker refused or failed a search.

    Attributes:
        code: the gRPC status code.
        details: the broker's message.
    """

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details
