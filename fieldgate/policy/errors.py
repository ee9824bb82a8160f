"""Errors of the decision path (catalog, records, contracts, bundles).

::

    FieldgateError                                  (fieldgate.core.errors)
    └── PolicyError                                 root of the decision path's errors
        ├── CatalogError                            the field catalog file is wrong
        ├── RecordError                             one record does not fit the record model
        ├── ContractError                           the contract cannot be loaded or run
        │   └── BundleError (contract_bundle)       a signed contract bundle is refused
        ├── OutboundPolicyError                     an outbound policy cannot be loaded or used
        └── BundleStateError (contract_bundle_state)  the bundle state file is unusable

Every error's message says what was wrong and where (file, key, line, field),
in words an operator can act on; the details are also attributes.
"""

from __future__ import annotations

from pathlib import Path

from fieldgate.core.errors import FieldgateError


class PolicyError(FieldgateError):
    """Root of every error the decision path raises on purpose."""


class CatalogError(PolicyError):
    """A field catalog that cannot be loaded.

    Attributes:
        path: the catalog file (or a label such as ``<catalog>`` for in-memory data).
        key: dotted key that is wrong, e.g. ``fields.dob.type``; "" for the whole file.
        reason: what is wrong with it.
    """

    def __init__(self, path: str | Path, key: str, reason: str) -> None:
        where = f"{path}: {key}" if key else str(path)
        super().__init__(f"{where}: {reason}")
        self.path = str(path)
        self.key = key
        self.reason = reason


class RecordError(PolicyError):
    """A record that does not fit the record model or the catalog.

    Attributes:
        reason: what is wrong, naming the field, e.g. ``dob: '1980-13-01' is not a valid date``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ContractError(PolicyError):
    """The agency's data-sharing contract could not be loaded or evaluated."""


class OutboundPolicyError(PolicyError):
    """The requesting agency's outbound policy cannot be read, parsed or used."""
