"""The record model: what one record a node holds looks like, and its checks.

A raw record is a JSON object. Five keys are the record's own, not catalog
fields:

- ``record_id``: required, a non-empty string of at most 64 characters;
- ``record_kind``: required, one of :data:`fieldgate.core.vocabulary.RECORD_KINDS`;
- ``sealed``, ``juvenile``, ``expunged``: optional booleans, false when absent.

Every other key must be a field of the agency's catalog, and its value must fit
the field's type. Empty strings, empty lists and nulls mean "absent" and are
dropped, so an exported spreadsheet's blank cells do not become values.
Strings are trimmed, line ends become ``\\n``, and other control characters
are refused: records are shown on investigators' terminals, and an escape
sequence smuggled into a record must not be able to rewrite that screen.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from fieldgate.core.names import normalize_identifier, normalize_name, split_full_name
from fieldgate.core.vocabulary import IDENTIFIER_KINDS, RECORD_KINDS
from fieldgate.matching.matcher import CandidateName
from fieldgate.policy.catalog import (
    ADDRESS_KEYS,
    ADDRESS_REQUIRED_KEYS,
    RESERVED_KEYS,
    FieldCatalog,
)
from fieldgate.policy.errors import RecordError

MAX_RECORD_ID_LENGTH = 64
"""Longest record_id accepted, in characters."""

MAX_STRING_LENGTH = 2000
"""Longest string value accepted, in characters."""

MAX_LIST_ITEMS = 200
"""Most entries in one string_list field."""

MAX_INTEGER = 2**53
"""Integers must lie strictly within ±this, so every JSON reader keeps them exact."""

FieldValue = str | int | list[str] | dict[str, str]
"""A field's value: string or date (YYYY-MM-DD) text, integer, list of strings, address."""

_FLAGS = ("sealed", "juvenile", "expunged")
# C0/C1 controls except tab and newline, the bidirectional overrides that can
# make text display in another order than it is stored, and lone surrogates
# (from JSON escapes such as "\\ud800"), which cannot be stored as UTF-8.
CONTROL_CHARACTERS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
"""Characters no string value may hold (a CR is first turned into a newline)."""
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_IDENTIFIER_ORDER = tuple(sorted(IDENTIFIER_KINDS))


@dataclass(frozen=True)
class Record:
    """A checked record.

    Attributes:
        record_id: the holding agency's identifier for the record.
        kind: one of :data:`fieldgate.core.vocabulary.RECORD_KINDS`.
        sealed: sealed by a court; never disclosed.
        juvenile: about a juvenile; never disclosed.
        expunged: expunged; never disclosed.
        fields: catalog field → value, only fields present, in catalog order.
    """

    record_id: str
    kind: str
    sealed: bool
    juvenile: bool
    expunged: bool
    fields: dict[str, FieldValue]

    def to_raw(self) -> dict[str, object]:
        """Return the raw JSON form; :func:`validate_record` turns it back into this record."""
        raw: dict[str, object] = {"record_id": self.record_id, "record_kind": self.kind}
        raw.update({flag: getattr(self, flag) for flag in _FLAGS})
        raw.update(self.fields)
        return raw

    # names() and identifiers() are computed once per record (the check, the
    # index rows and a change set's comparison each ask; the fields never
    # change after validation) and kept in the instance's __dict__, beside the
    # frozen fields (functools.cached_property takes a lock per first access).

    def names(self) -> tuple[CandidateName, ...]:
        """Return the person's names, normalised: the primary name first, then aliases."""
        names: tuple[CandidateName, ...] | None = self.__dict__.get("_names")
        if names is None:
            surname, given = self.fields.get("surname"), self.fields.get("given_name")
            aliases = self.fields.get("aliases")
            names = self.__dict__["_names"] = _names_of(
                surname if isinstance(surname, str) else None,
                given if isinstance(given, str) else "",
                tuple(aliases) if isinstance(aliases, list) else (),
            )
        return names

    def dob(self) -> dt.date | None:
        """Return the date of birth, if the record has one."""
        value = self.fields.get("dob")
        return dt.date.fromisoformat(value) if isinstance(value, str) else None

    def identifiers(self) -> tuple[tuple[str, str], ...]:
        """Return (kind, normalised value) for each identifier field present."""
        found: tuple[tuple[str, str], ...] | None = self.__dict__.get("_identifiers")
        if found is None:
            found = self.__dict__["_identifiers"] = tuple(
                (kind, normalize_identifier(value))
                for kind in _IDENTIFIER_ORDER
                if isinstance(value := self.fields.get(kind), str)
            )
        return found


@lru_cache(maxsize=1 << 16)
def _names_of(
    surname: str | None, given: str, aliases: tuple[str, ...]
) -> tuple[CandidateName, ...]:
    """A record's names (see :meth:`Record.names`); cached: names repeat across records."""
    found: list[CandidateName] = []
    if surname is not None:
        found.append(CandidateName(normalize_name(surname), normalize_name(given)))
    for alias in aliases:
        alias_surname, alias_given = split_full_name(alias)
        name = CandidateName(normalize_name(alias_surname), normalize_name(alias_given), True)
        if name.surname and all(name[:2] != known[:2] for known in found):
            found.append(name)
    return tuple(found)


def validate_record(raw: Mapping[str, object], catalog: FieldCatalog) -> Record:
    """Check a raw record against the record model and ``catalog``.

    Raises:
        RecordError: naming the first key that is wrong and why.
    """
    record_id = _record_id(raw.get("record_id"))
    kind = raw.get("record_kind")
    if kind is None or kind == "":
        raise RecordError("record_kind: is missing")
    if not isinstance(kind, str) or kind not in RECORD_KINDS:
        raise RecordError(
            f"record_kind: {_show(kind)} is not a record kind; use one of "
            + ", ".join(sorted(RECORD_KINDS))
        )
    flags: dict[str, bool] = {}
    for flag in _FLAGS:
        value = raw.get(flag)
        if value is not None and not isinstance(value, bool):
            raise RecordError(f"{flag}: must be true or false, not {_show(value)}")
        flags[flag] = bool(value)
    unknown = [key for key in raw if key not in RESERVED_KEYS and key not in catalog.fields]
    if unknown:
        raise RecordError(f"{_show(unknown[0])} is not a field of this node's catalog")
    fields: dict[str, FieldValue] = {}
    for name, spec in catalog.fields.items():  # catalog order, whatever the input's
        if name in raw and (value := _field_value(name, spec.type, raw[name])) is not None:
            fields[name] = value
    record = Record(
        record_id,
        kind,
        sealed=flags["sealed"],
        juvenile=flags["juvenile"],
        expunged=flags["expunged"],
        fields=fields,
    )
    check_findable(record)
    return record


def _record_id(value: object) -> str:
    if value is None or value == "":
        raise RecordError("record_id: is missing")
    if not isinstance(value, str):
        raise RecordError(f"record_id: must be a string, not {_show(value)}")
    text = value.strip()
    if not text or len(text) > MAX_RECORD_ID_LENGTH or CONTROL_CHARACTERS.search(text):
        raise RecordError(
            f"record_id: {_show(value)} must be 1 to {MAX_RECORD_ID_LENGTH} printable characters"
        )
    return text


def check_findable(record: Record) -> None:
    """Refuse records no search could ever find, and names the store cannot index.

    Raises:
        RecordError: naming the field that makes the record unfindable.
    """
    surname = record.fields.get("surname")
    if isinstance(surname, str) and not normalize_name(surname):
        raise RecordError(f"surname: {_show(surname)} has no letters")
    for kind, value in record.identifiers():
        if not value:
            raise RecordError(f"{kind}: {_show(record.fields[kind])} has no letters or digits")
    aliases = record.fields.get("aliases")
    for index, alias in enumerate(aliases if isinstance(aliases, list) else []):
        if not _alias_surname(alias):
            raise RecordError(
                f"aliases[{index}]: {_show(alias)} has no surname; write 'SURNAME, GIVEN'"
            )
    if not record.names() and not record.identifiers():
        raise RecordError(
            "the record has no surname, alias or identifier, so no search could find it"
        )


@lru_cache(maxsize=1 << 14)
def _alias_surname(alias: str) -> str:
    """The normalised surname of an alias ("" when it has none); aliases repeat."""
    return normalize_name(split_full_name(alias)[0])


def _field_value(name: str, field_type: str, value: object) -> FieldValue | None:
    """Return the checked value, or None when it is empty (absent)."""
    if value is None:
        return None
    if field_type in ("string", "date"):
        text = _string(name, value)
        if text and field_type == "date":
            check_date(name, text)
        return text or None
    if field_type == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            raise RecordError(f"{name}: must be a whole number, not {_show(value)}")
        if abs(value) >= MAX_INTEGER:
            raise RecordError(f"{name}: {value} is out of range")
        return value
    if field_type == "string_list":
        if not isinstance(value, list):
            raise RecordError(f"{name}: must be a list of strings, not {_show(value)}")
        items = [_string(f"{name}[{i}]", item) for i, item in enumerate(value) if item is not None]
        items = [item for item in items if item]
        if len(items) > MAX_LIST_ITEMS:
            raise RecordError(f"{name}: has {len(items)} entries; at most {MAX_LIST_ITEMS}")
        return items or None
    if field_type == "address":
        return _address(name, value)
    raise RecordError(f"{name}: the catalog gives it unknown type {field_type!r}")


def _address(name: str, value: object) -> dict[str, str] | None:
    if not isinstance(value, Mapping):
        raise RecordError(f"{name}: must be an object with {', '.join(ADDRESS_KEYS)}")
    unknown = [key for key in value if key not in ADDRESS_KEYS]
    if unknown:
        raise RecordError(f"{name}.{unknown[0]}: not an address key; use {', '.join(ADDRESS_KEYS)}")
    address: dict[str, str] = {}
    for key in ADDRESS_KEYS:
        item = value.get(key)
        if item is not None and (text := _string(f"{name}.{key}", item)):
            address[key] = text
    if not address:
        return None
    missing = sorted(ADDRESS_REQUIRED_KEYS - set(address))
    if missing:
        raise RecordError(f"{name}.{missing[0]}: is missing; an address needs a city and a state")
    return address


def _string(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise RecordError(f"{name}: must be a string, not {_show(value)}")
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(text) > MAX_STRING_LENGTH:
        raise RecordError(
            f"{name}: is {len(text)} characters long; at most {MAX_STRING_LENGTH} are accepted"
        )
    if CONTROL_CHARACTERS.search(text):
        raise RecordError(f"{name}: contains control or unpaired surrogate characters")
    return text


def check_date(name: str, text: str) -> None:
    """Refuse ``text`` unless it is a real date written YYYY-MM-DD (field ``name``).

    Raises:
        RecordError: naming the field.
    """
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError(text)
        dt.date.fromisoformat(text)
    except ValueError:
        raise RecordError(f"{name}: {_show(text)} is not a valid date; use YYYY-MM-DD") from None


def _show(value: object) -> str:
    """Quote a value for a message, shortened so a huge bad value cannot flood it."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
