"""Fieldgate: federated person search under per-field data-sharing contracts.

This package holds what the broker, the nodes and investigators share: the
generated wire code (``fieldgate.v1``), the request vocabulary and query
validation, the investigator's client library and the ``fieldgate`` command.
"""

__version__ = "0.1.0"
