"""Records decoded and checked in compiled code, with :func:`validate_record` as the judge.

:func:`validate_record` reads a record in Python, value by value, and names
the first thing wrong: about 40 µs a record, most of the cost of applying a
change file. A :class:`RecordDecoder` is built once per catalog: a
``msgspec`` Struct type with one field per record key and catalog field, of
the field's type (string, integer within ±2**53, list of strings, address
object; unknown keys forbidden), so that ``msgspec`` decodes a JSON line
straight from its bytes, or converts a mapping (a synced row), and checks
every type in C. What types cannot say is then checked once per record, not
once per value: control characters (one search over all of the record's
strings), trimming, empty values, lengths, dates and findability
(:func:`fieldgate.policy.records.check_findable`).

The fast path only ever accepts: whenever ``msgspec`` refuses a line, or a
value needs more than trimming (a CR, a control character, an overlong
string), or a JSON line could hold a repeated key, the caller is told "not
sure" (None) and reads it with :func:`validate_record`, which accepts it or
names what is wrong exactly as before. A repeated key is ruled out without
a tokenizer: in a line with no escaped quote, every ``"`` opens or closes a
key or a string value, so the line has twice as many as the keys and
strings decoded, and fewer decoded means a key was repeated (its earlier
value overwritten). ``tests/policy/test_record_decoder.py`` checks that
whatever the fast path accepts equals what :func:`validate_record` makes of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec

from fieldgate.core.vocabulary import RECORD_KINDS
from fieldgate.policy.catalog import ADDRESS_KEYS, ADDRESS_REQUIRED_KEYS, FieldCatalog
from fieldgate.policy.errors import RecordError
from fieldgate.policy.records import (
    CONTROL_CHARACTERS,
    MAX_INTEGER,
    MAX_LIST_ITEMS,
    MAX_RECORD_ID_LENGTH,
    MAX_STRING_LENGTH,
    FieldValue,
    Record,
    check_date,
    check_findable,
)

_UNSET = msgspec.UNSET
_Str = str | None | msgspec.UnsetType
_Integer = Annotated[int, msgspec.Meta(gt=-MAX_INTEGER, lt=MAX_INTEGER)] | None | msgspec.UnsetType
_Flag = bool | None | msgspec.UnsetType


class _Address(msgspec.Struct, forbid_unknown_fields=True):
    """An address object: the keys of :data:`ADDRESS_KEYS`, each optional."""

    street: _Str = _UNSET
    city: _Str = _UNSET
    state: _Str = _UNSET
    postal_code: _Str = _UNSET


assert tuple(_Address.__struct_fields__) == ADDRESS_KEYS  # the check below relies on the order

_TYPES: Mapping[str, Any] = {
    "string": _Str,
    "date": _Str,
    "integer": _Integer,
    "string_list": list[str | None] | None | msgspec.UnsetType,
    "address": _Address | None | msgspec.UnsetType,
}
_RESERVED = (("record_id", _Str), ("record_kind", _Str))
_FLAGS = ("sealed", "juvenile", "expunged")


class RecordDecoder:
    """Decodes and checks records of one catalog in compiled code; see the module docstring.

    Attributes:
        extra_keys: keys beside the record's own and the catalog's (``op`` in
            change files), returned as they are, never checked.
    """

    def __init__(self, catalog: FieldCatalog, extra_keys: tuple[str, ...] = ()) -> None:
        """Build the Struct type and decoder for ``catalog`` (a few milliseconds; reuse it)."""
        self.extra_keys = extra_keys
        # Attribute names are positional (a catalog field may be any name, a
        # Python keyword included); ``rename`` gives each its key.
        keys: list[tuple[str, Any]] = [
            *_RESERVED,
            *((flag, _Flag) for flag in _FLAGS),
            *((key, _Str) for key in extra_keys),
            *((name, _TYPES.get(spec.type)) for name, spec in catalog.fields.items()),
        ]
        names = [key for key, _ in keys]
        # A type the record model does not know, or an extra key that is also
        # a field: validate_record alone decides.
        if any(kind is None for _, kind in keys) or len(set(names)) != len(names):
            self._type: Any = None
            return
        attributes = [(f"k{i}", kind, _UNSET) for i, (_, kind) in enumerate(keys)]
        self._type = msgspec.defstruct(
            "RawRecord",
            attributes,
            forbid_unknown_fields=True,
            rename={f"k{i}": key for i, (key, _) in enumerate(keys)},
        )
        self._json = msgspec.json.Decoder(self._type)
        self._first_field = len(_RESERVED) + len(_FLAGS) + len(extra_keys)
        self._fields = [(name, spec.type) for name, spec in catalog.fields.items()]

    def decode(self, line: bytes) -> tuple[Record, tuple[object, ...]] | None:
        """The record on one JSON line and its extra keys' values, or None: not sure.

        None means "read it with :func:`validate_record`", which names what
        is wrong if anything is: never a reason by itself.
        """
        if self._type is None or b'\\"' in line:
            return None
        try:
            values = msgspec.structs.astuple(self._json.decode(line))
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        return self._checked(values, line.count(b'"'))

    def convert(self, raw: Mapping[str, object]) -> tuple[Record, tuple[object, ...]] | None:
        """:meth:`decode` for a mapping (a CSV row or a synced row); None: not sure."""
        if self._type is None:
            return None
        try:
            values = msgspec.structs.astuple(msgspec.convert(raw, self._type))
        except msgspec.ValidationError:
            return None
        return self._checked(values, None)

    def _checked(
        self, values: tuple[Any, ...], quotes: int | None
    ) -> tuple[Record, tuple[object, ...]] | None:
        """The record, when every value is plainly valid; ``quotes``: the line's ``"`` count."""
        record_id, kind = values[0], values[1]
        if not isinstance(record_id, str) or kind not in RECORD_KINDS:
            return None
        texts: list[str] = [record_id]  # every string, for one control-character search
        keys = sum(value is not _UNSET for value in values[: self._first_field])
        strings = 2 + sum(isinstance(value, str) for value in values[2 : self._first_field])
        fields: dict[str, FieldValue] = {}
        given = values[self._first_field :]
        for (name, field_type), value in zip(self._fields, given, strict=True):
            if value is _UNSET:
                continue
            keys += 1
            if value is None:
                continue
            if isinstance(value, str):
                strings += 1
                texts.append(value)
                text = value.strip()
                if not text:
                    continue
                if len(text) > MAX_STRING_LENGTH:
                    return None
                if field_type == "date":
                    try:
                        check_date(name, text)
                    except RecordError:
                        return None
                fields[name] = text
            elif isinstance(value, list):
                strings += len(value) - value.count(None)
                texts.extend(item for item in value if item is not None)
                items = [text for item in value if item is not None and (text := item.strip())]
                if len(items) > MAX_LIST_ITEMS or any(len(t) > MAX_STRING_LENGTH for t in items):
                    return None
                if items:
                    fields[name] = items
            elif isinstance(value, _Address):
                address: dict[str, str] = {}
                for key, item in zip(ADDRESS_KEYS, msgspec.structs.astuple(value), strict=True):
                    if item is _UNSET:
                        continue
                    keys += 1
                    if item is None:
                        continue
                    strings += 1
                    texts.append(item)
                    if text := item.strip():
                        if len(text) > MAX_STRING_LENGTH:
                            return None
                        address[key] = text
                if address:
                    if not address.keys() >= ADDRESS_REQUIRED_KEYS:
                        return None
                    fields[name] = address
            else:  # an integer, its range checked by the type
                fields[name] = value
        if quotes is not None and quotes != 2 * (keys + strings):
            return None  # a repeated key (or a line this count cannot judge)
        rid = record_id.strip()
        if not rid or len(rid) > MAX_RECORD_ID_LENGTH:
            return None
        if CONTROL_CHARACTERS.search("\n".join(texts)):
            return None
        flags = values[2 : 2 + len(_FLAGS)]
        record = Record(
            rid,
            kind,
            sealed=flags[0] is True,
            juvenile=flags[1] is True,
            expunged=flags[2] is True,
            fields=fields,
        )
        try:
            check_findable(record)
        except RecordError:
            return None
        return record, values[2 + len(_FLAGS) : self._first_field]


_DECODERS: dict[tuple[int, tuple[str, ...]], tuple[FieldCatalog, RecordDecoder]] = {}


def record_decoder(catalog: FieldCatalog, extra_keys: tuple[str, ...] = ()) -> RecordDecoder:
    """The :class:`RecordDecoder` of ``catalog`` (and ``extra_keys``), built once per process."""
    cached = _DECODERS.get((id(catalog), extra_keys))
    if cached is not None and cached[0] is catalog:
        return cached[1]
    if len(_DECODERS) >= 32:  # catalogs reloaded many times (tests): keep the cache small
        _DECODERS.clear()
    decoder = RecordDecoder(catalog, extra_keys)
    _DECODERS[(id(catalog), extra_keys)] = (catalog, decoder)
    return decoder
