"""The tamper-evident audit log of a node (issue 4).

Part of :mod:`fieldgate.node` (its errors are drawn in the node's tree). One
concern per module:

- :mod:`fieldgate.node.audit.canonical`: canonical JSON and the SHA-256 hash chain.
- :mod:`fieldgate.node.audit.entries`: what an audit entry says (from a disclosure entry).
- :mod:`fieldgate.node.audit.keys`: the node's own Ed25519 signing key.
- :mod:`fieldgate.node.audit.config`: the ``[node.audit]`` table of a node's config.
- :mod:`fieldgate.node.audit.schema`: the database's schema and read-only access to it.
- :mod:`fieldgate.node.audit.group_commit`: entries that arrive together share one fsync.
- :mod:`fieldgate.node.audit.store`: the append-only SQLite store (the node's disclosure log).
- :mod:`fieldgate.node.audit.checkpoints`: signed checkpoints, their export and import.
- :mod:`fieldgate.node.audit.checkpoint_checks`: checking a log's and exported checkpoints.
- :mod:`fieldgate.node.audit.findings`: what verification finds, and the report collecting it.
- :mod:`fieldgate.node.audit.verify`: checking a log, naming the first thing wrong.
- :mod:`fieldgate.node.audit.reports`: auditor reports.
- :mod:`fieldgate.node.audit.retention`: disposal of expired fields, records and audit entries.

See ``docs/audit.md``.
"""
