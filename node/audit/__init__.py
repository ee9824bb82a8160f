"""The tamper-evident audit log of a node (issue 4).

One concern per module:

- :mod:`node.audit.canonical`: canonical JSON and the SHA-256 hash chain;
- :mod:`node.audit.entries`: what an audit entry says (from a disclosure entry);
- :mod:`node.audit.keys`: the node's own Ed25519 signing key;
- :mod:`node.audit.checkpoints`: signed checkpoints, their export and import;
- :mod:`node.audit.store`: the append-only SQLite store (the node's disclosure log);
- :mod:`node.audit.verify`: checking a log, naming the first thing wrong;
- :mod:`node.audit.reports`: auditor reports;
- :mod:`node.audit.retention`: disposal of expired fields, records and audit entries.

See ``docs/audit.md``.
"""
