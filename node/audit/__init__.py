"""The tamper-evident audit log of a node (issue 4).

Part of :mod:`fieldgate.node` (its errors are drawn in the node's tree). One
concern per module:

- :mod:`fieldgate.node.audit.canonical`: canonical JSON and the SHA-256 hash chain.
- :mod:`fieldgate.node.audit.entries`: what an audit entry says (from a disclosure entry).
- :mod:`fieldgate.node.audit.entries_v1`: format 1 of a search entry, as older builds wrote it.
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
- :mod:`fieldgate.node.audit.accounts`: the account review, per person or per agency.
- :mod:`fieldgate.node.audit.basis`: what a report stands on: whether its log verified, and
  to where.
- :mod:`fieldgate.node.audit.reference_lookup`: which record and disclosure a reference names.
- :mod:`fieldgate.node.audit.retention`: disposal of expired fields, records and audit entries.
- :mod:`fieldgate.node.audit.initialise`: ``fieldgate node audit-init``: the explicit, recorded way
  to start or adopt a lo.
- :mod:`fieldgate.node.audit.last_head`: The log's last known head, kept beside the signing key, not
  on the log's volume.
- :mod:`fieldgate.node.audit.merkle`: RFC 9162 (Certificate Transparency v2) Merkle tree hashing,
  inclusion and consis.
- :mod:`fieldgate.node.audit.note`: C2SP signed notes: the log's tree heads as ``tlog-checkpoint``
  notes, and witnes.
- :mod:`fieldgate.node.audit.proofs`: Inclusion and consistency proofs an auditor outside the
  agency can check with one public key.
- :mod:`fieldgate.node.audit.tree`: The audit log as an RFC 9162 Merkle tree: tree heads and proofs
  read from the da.
- :mod:`fieldgate.node.audit.witness_checks`: Checking a log against the checkpoints its witnesses
  cosigned (``audit verify --.
- :mod:`fieldgate.node.audit.witnessing`: Pushing each checkpoint to the node's witnesses and
  keeping their cosignatures.
- :mod:`fieldgate.node.audit.writer_view`: The writer's own view of its log: it never adopts what it
  did not write.
  - :mod:`fieldgate.node.audit.searched_for`: Every search for one person, found through the
    deployment's digest key.

See ``docs/audit.md``.
"""
