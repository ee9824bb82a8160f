"""Running a server in production: listening, metrics, health and reflection endpoints.

Layer 3 (see README "Layout"): imports :mod:`fieldgate.trust` and below.

Modules:

- :mod:`fieldgate.ops.errors`: the operations layer's error tree.
- :mod:`fieldgate.ops.serving`: binding a gRPC server to its configured address.
- :mod:`fieldgate.ops.metrics`: Prometheus plumbing shared by nodes and the broker.
- :mod:`fieldgate.ops.endpoints`: the metrics and health ports (and reflection), and their config.
- :mod:`fieldgate.ops.clean_errors`: Clean errors at the gRPC edge: no hostile input gets UNKNOWN
  with internal text.
- :mod:`fieldgate.ops.server_options`: Bounded pre-authentication cost: the gRPC server options of
  the broker and every.
"""
