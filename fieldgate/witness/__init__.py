"""An independent witness of nodes' audit logs (``fieldgate witness serve``).

Run by someone other than the agency — the county auditor, a neighbouring
agency, the federation — it cosigns a node's checkpoint only if it is
consistent with the last one it cosigned for that log (C2SP ``tlog-witness``),
so a rewrite of history, even by whoever holds the node's key, cannot be
cosigned twice.

- :mod:`fieldgate.witness.service`: check each checkpoint against the last one cosigned, then cosign
  or refuse.
"""
