"""An agency's node: it holds the agency's records and answers searches under its contract.

Imported as ``fieldgate.node`` (this directory is linked into the package).
Layer 6 (see README "Layout"), beside the broker and the client, which it
never imports. The node enforces the contract, the limits and verification
itself; whatever fails, it releases nothing.

Modules:

- :mod:`fieldgate.node.errors`: the node's error tree (the audit log's errors included).
- :mod:`fieldgate.node.config`: a node's configuration, one TOML file with a ``[node]`` table.
- :mod:`fieldgate.node.store`: the record store, one SQLite file searched by index only.
- :mod:`fieldgate.node.store_rows`: the rows the store writes for a record, and change-set batches.
- :mod:`fieldgate.node.importer`: bulk import from JSON Lines or CSV, all or nothing.
- :mod:`fieldgate.node.trust_gate`: whom the node is talking to: verified (or stated) claims.
- :mod:`fieldgate.node.search`: search the store, ask the contract, log, disclose.
- :mod:`fieldgate.node.references`: the opaque reference a hit carries instead of the record id.
- :mod:`fieldgate.node.request_ids`: each request id once: a reused id is refused first.
- :mod:`fieldgate.node.requester_view`: withheld fields never shape an answer: hits filtered and
  ranked on what the requester knows.
- :mod:`fieldgate.node.disclosure_log`: the audit seam every answer passes before it leaves.
- :mod:`fieldgate.node.audit`: the tamper-evident audit log (a package of its own).
- :mod:`fieldgate.node.servicer`: the gRPC face: validate, search off the event loop.
- :mod:`fieldgate.node.status`: every gRPC status the node ends a call with, and why.
- :mod:`fieldgate.node.health`: whether the node can answer, for probes and metrics.
- :mod:`fieldgate.node.readiness`: why a node cannot decide any search, as one bounded reason.
- :mod:`fieldgate.node.metrics`: the node's Prometheus metrics (``fieldgate_node_*``).
- :mod:`fieldgate.node.server`: starting and stopping the node's gRPC server.
- :mod:`fieldgate.node.change_files`: Change files: a change set in JSON Lines or CSV, checked
  whole, then applied who.
- :mod:`fieldgate.node.changes`: Change sets: upserts, deletions, sealing and expungement orders,
  applied all or .
- :mod:`fieldgate.node.sync`: Sync from the agency's own database: the node follows the system of
  record, batc.
- :mod:`fieldgate.node.sync_config`: ``[node.sync]``: how a node reads its records from the agency's
  own database.
  - :mod:`fieldgate.node.reindex`: Rebuilding a record store's name index to this build's version,
    resumably.
    - :mod:`fieldgate.node.audit_budget`: Audit storage no requester can exhaust: a per-requester
      and per-agency budget of.
      - :mod:`fieldgate.node.answer_timing`: Every answer leaves at a fixed time after its request
        arrived: timing tells noth.
      - :mod:`fieldgate.node.limits`: The owner's limits: each node refuses sweeps, polling and
        floods itself, durably.
"""
