"""The field catalog: every field a node may hold, its type and sensitivity class.

An agency's catalog is a TOML file (see ``fieldgate/policy/catalogs/standard.toml``)::

    version = 1

    [fields.dob]
    class = "identity"          # sensitivity class, what contracts reason about
    type = "date"               # string, date, integer, string_list or address
    description = "Date of birth"

    [classes.immigration_status]
    retention_days = 365        # optional: fields of this class are disposed of
                                # this many days after the record's event date

A class without ``retention_days`` is kept until the record is removed by
other means. ``fieldgate node purge`` applies the retention periods (see
:mod:`fieldgate.node.audit.retention`).

A field missing from the catalog is never imported and never released, so the
loader is strict: an unknown key, type or class is an error naming the key
rather than something silently ignored.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType

from fieldgate.core.vocabulary import IDENTIFIER_KINDS
from fieldgate.policy.errors import CatalogError
from fieldgate.policy.shipped import standard_catalog_path

CATALOG_VERSION = 1
"""The catalog format version this build reads."""

FIELD_TYPES: tuple[str, ...] = ("string", "date", "integer", "string_list", "address")
"""Every field type a catalog may use."""

ADDRESS_KEYS: tuple[str, ...] = ("street", "city", "state", "postal_code")
"""Keys of an address value, in the order they are kept."""

ADDRESS_REQUIRED_KEYS: frozenset[str] = frozenset({"city", "state"})
"""Keys an address must have; street and postal code are optional."""

SENSITIVITY_CLASSES: frozenset[str] = frozenset(
    {
        "identity",
        "physical_description",
        "biometric",
        "location",
        "contact",
        "criminal_history",
        "custody_status",
        "immigration_status",
        "agency_contact",
    }
)
"""Sensitivity classes contracts know; a misspelt class would silently escape every rule."""

RESERVED_KEYS: frozenset[str] = frozenset(
    {"record_id", "record_kind", "sealed", "juvenile", "expunged"}
)
"""Record keys that are not catalog fields (see :mod:`fieldgate.policy.records`)."""

# The node itself reads these fields (to match names, dates of birth and
# identifiers), so when a catalog has them they must have the type the code expects.
_WELL_KNOWN_TYPES: Mapping[str, str] = {
    "surname": "string",
    "given_name": "string",
    "middle_name": "string",
    "aliases": "string_list",
    "dob": "date",
    "contact_unit": "string",
    "contact_phone": "string",
    **{kind: "string" for kind in IDENTIFIER_KINDS},
}

_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_FIELD_KEYS = frozenset({"class", "type", "description"})


@dataclass(frozen=True)
class FieldSpec:
    """One catalog field.

    Attributes:
        name: the field name, e.g. ``dob``.
        sensitivity: its sensitivity class (the ``class`` key), e.g. ``identity``.
        type: one of :data:`FIELD_TYPES`.
        description: free text for people.
    """

    name: str
    sensitivity: str
    type: str
    description: str


@dataclass(frozen=True)
class FieldCatalog:
    """A loaded field catalog.

    Attributes:
        fields: field name → spec, in catalog file order (read-only).
        source: where it was loaded from, for messages.
        retention_days: sensitivity class → retention period in days.
    """

    fields: Mapping[str, FieldSpec]
    source: str = "<catalog>"
    retention_days: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Sensitivity class → days its fields are kept; classes not named are kept."""

    def classes(self) -> dict[str, str]:
        """Return field name → sensitivity class, the contract's ``data.catalog``."""
        return {name: spec.sensitivity for name, spec in self.fields.items()}

    @cached_property
    def version(self) -> str:
        """SHA-256 (hex) of what the catalog says: every field's class, type and description,
        and the retention periods; not of the file's formatting or comments.

        Audit entries record it beside the contract's version: a catalog change
        changes what a contract releases by class as surely as a contract edit.
        """
        canonical = json.dumps(
            {
                "fields": {
                    name: [spec.sensitivity, spec.type, spec.description]
                    for name, spec in self.fields.items()
                },
                "retention_days": dict(self.retention_days),
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    @cached_property
    def field_names(self) -> tuple[str, ...]:
        """Every field name, sorted: what a field-local contract is told a record holds."""
        return tuple(sorted(self.fields))

    def __contains__(self, name: object) -> bool:
        return name in self.fields


def default_catalog_path() -> Path:
    """Return the path of the shipped standard catalog."""
    return standard_catalog_path()


def load_catalog(path: str | Path) -> FieldCatalog:
    """Read and check a catalog TOML file.

    Raises:
        CatalogError: the file cannot be read, is not TOML, or a key is wrong;
            the message names the file and the dotted key.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise CatalogError(path, "", f"cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(path, "", f"not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise CatalogError(path, "", f"not valid UTF-8: {exc.reason}") from exc
    return parse_catalog(data, source=str(path))


def parse_catalog(data: Mapping[str, object], *, source: str = "<catalog>") -> FieldCatalog:
    """Check already-parsed catalog data (the TOML document as a mapping).

    Raises:
        CatalogError: naming ``source`` and the first wrong key.
    """
    unknown = sorted(set(data) - {"version", "fields", "classes"})
    if unknown:
        raise CatalogError(
            source, unknown[0], "unknown key; a catalog has 'version', 'fields' and 'classes'"
        )
    version = data.get("version")
    if version != CATALOG_VERSION or isinstance(version, bool):
        raise CatalogError(
            source, "version", f"is {version!r}; this build reads version {CATALOG_VERSION}"
        )
    fields = data.get("fields")
    if not isinstance(fields, Mapping) or not fields:
        raise CatalogError(source, "fields", "a catalog must define at least one field")
    specs: dict[str, FieldSpec] = {}
    for name, table in fields.items():
        specs[name] = _parse_field(source, str(name), table)
    retention = _parse_classes(source, data.get("classes", {}))
    return FieldCatalog(
        fields=MappingProxyType(specs), source=source, retention_days=MappingProxyType(retention)
    )


def _parse_classes(source: str, classes: object) -> dict[str, int]:
    """Read ``[classes.<class>]`` tables: per-class settings (today ``retention_days``)."""
    if not isinstance(classes, Mapping):
        raise CatalogError(source, "classes", "must be a table of [classes.<class>] tables")
    retention: dict[str, int] = {}
    for name, table in classes.items():
        key = f"classes.{name}"
        if name not in SENSITIVITY_CLASSES:
            raise CatalogError(
                source,
                key,
                f"unknown class {name!r}; use one of {', '.join(sorted(SENSITIVITY_CLASSES))}",
            )
        if not isinstance(table, Mapping):
            raise CatalogError(source, key, "must be a table, e.g. retention_days = 365")
        unknown = sorted(set(table) - {"retention_days"})
        if unknown:
            raise CatalogError(source, f"{key}.{unknown[0]}", "unknown key; use retention_days")
        if "retention_days" in table:
            days = table["retention_days"]
            if not isinstance(days, int) or isinstance(days, bool) or days < 1:
                raise CatalogError(
                    source,
                    f"{key}.retention_days",
                    f"must be a whole number of days ≥ 1, not {days!r}",
                )
            retention[str(name)] = days
    return retention


def _parse_field(source: str, name: str, table: object) -> FieldSpec:
    key = f"fields.{name}"
    if not _FIELD_NAME.fullmatch(name):
        raise CatalogError(
            source,
            key,
            "a field name is lower-case letters, digits and '_', starting with a letter",
        )
    if name in RESERVED_KEYS:
        raise CatalogError(source, key, "is a reserved record key, not a field")
    if not isinstance(table, Mapping):
        raise CatalogError(source, key, "must be a table with 'class' and 'type'")
    unknown = sorted(set(table) - _FIELD_KEYS)
    if unknown:
        raise CatalogError(
            source, f"{key}.{unknown[0]}", "unknown key; use class, type and description"
        )
    for required in ("class", "type"):
        if required not in table:
            raise CatalogError(source, f"{key}.{required}", "is missing")
    sensitivity, field_type = table["class"], table["type"]
    description = table.get("description", "")
    if not isinstance(sensitivity, str) or sensitivity not in SENSITIVITY_CLASSES:
        raise CatalogError(
            source,
            f"{key}.class",
            f"unknown class {sensitivity!r}; use one of {', '.join(sorted(SENSITIVITY_CLASSES))}",
        )
    if not isinstance(field_type, str) or field_type not in FIELD_TYPES:
        raise CatalogError(
            source,
            f"{key}.type",
            f"unknown type {field_type!r}; use one of {', '.join(FIELD_TYPES)}",
        )
    expected = _WELL_KNOWN_TYPES.get(name)
    if expected is not None and field_type != expected:
        raise CatalogError(
            source, f"{key}.type", f"the node reads {name} as a {expected}, not a {field_type}"
        )
    if not isinstance(description, str):
        raise CatalogError(source, f"{key}.description", "must be a string")
    return FieldSpec(name=name, sensitivity=sensitivity, type=field_type, description=description)
