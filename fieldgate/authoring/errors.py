"""Errors of the contract authoring tools.

::

    FieldgateError                          (fieldgate.core.errors)
    ├── InputFileError (inputs)             a persona, record or warrant file that cannot be used
    ├── AuditReplayError (impact_replay)    an audit log that cannot be replayed
    └── NodeError                           (fieldgate.node.errors)
        └── EntryNotExplainable (explain_audit)  an audit entry that is absent or not a search

``EntryNotExplainable`` derives from the node's root: it is a fault of the
node's audit log found while reading it, a sibling of the node's own
``AuditReadError``. Each class lives beside the code that raises it; this
drawing is the map.
"""
