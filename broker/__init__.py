"""The broker: it routes a search to every agency's node and returns each agency's part.

Imported as ``fieldgate.broker`` (this directory is linked into the package).
Layer 6 (see README "Layout"), beside the node and the client, which it never
imports. The broker only routes: it checks searches to refuse junk early, but
each node decides for itself what it releases.

Modules:

- :mod:`fieldgate.broker.errors`: the broker's error tree.
- :mod:`fieldgate.broker.config`: the broker's configuration, ``[broker]`` and ``[[nodes]]``.
- :mod:`fieldgate.broker.directory`: the nodes routed to now: by hand, or the signed trust
  directory (re-read when the bundle changes).
- :mod:`fieldgate.broker.channel_pool`: channels to nodes, opened on first use, closed once idle.
- :mod:`fieldgate.broker.fd_limit`: RLIMIT_NOFILE raised at start to what the nodes need.
- :mod:`fieldgate.broker.limits`: abuse limits: rates, concurrency caps, the sweep detector.
- :mod:`fieldgate.broker.node_client`: one call to one node address and what its outcome means.
- :mod:`fieldgate.broker.straggler`: how long one agency may take; hedging to its replicas.
- :mod:`fieldgate.broker.fanout`: one search fanned out to every agency under one deadline.
- :mod:`fieldgate.broker.audit_log`: the broker's log of who asked what of which nodes.
- :mod:`fieldgate.broker.servicer`: the gRPC face: admit the search, fan it out, answer.
- :mod:`fieldgate.broker.status`: every gRPC status the broker ends a call with, and why.
- :mod:`fieldgate.broker.metrics`: the broker's Prometheus metrics (``fieldgate_broker_*``).
- :mod:`fieldgate.broker.server`: starting and stopping the broker's gRPC server.
- :mod:`fieldgate.broker.answer_checks`: Checks on each node's answer before its hits join the
  search's result.
- :mod:`fieldgate.broker.request_checks`: The broker's cheap checks, run before any signature, limit
  or nonce is spent.
"""
