"""Running a server in production: listening, metrics, health and reflection endpoints.

Layer 3 (see README "Layout"): imports :mod:`fieldgate.trust` and below.

Modules:

- :mod:`fieldgate.ops.errors`: the operations layer's error tree.
- :mod:`fieldgate.ops.serving`: binding a gRPC server to its configured address.
- :mod:`fieldgate.ops.metrics`: Prometheus plumbing shared by nodes and the broker.
- :mod:`fieldgate.ops.endpoints`: the metrics and health ports (and reflection), and their config.
"""
