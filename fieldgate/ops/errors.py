"""Errors of the operations layer (listening sockets, metrics endpoint).

::

    FieldgateError                          (fieldgate.core.errors)
    ├── ListenError (serving)               a server could not listen where its config says
    └── MetricsError (metrics)              the metrics endpoint could not listen

Each class lives beside the code that raises it; this drawing is the map.
"""
