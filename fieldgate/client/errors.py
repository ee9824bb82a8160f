"""Errors of the search client.

::

    FieldgateError                          (fieldgate.core.errors)
    ├── AudienceError (audience)            a search addressed outside the credential's reach
    ├── LoginFailed (login)                 the credential issuer refused or could not be reached
    ├── SearchError (broker_client)         the broker refused or failed a search
    └── StreamProtocolError (stream)        the broker's stream broke its documented order

Each class lives beside the code that raises it; this drawing is the map.
``SearchError`` keeps the gRPC status code and the broker's message as
attributes.
"""
