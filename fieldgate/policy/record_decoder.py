"""Records decoded and checked in compiled code, with :func:`validate_record` as the judge.

:func:`validate_record` reads a record in Python, value by value, and names
the first thing wrong: about 40 µs a record, most of the cost of applying a
change file. A :class:`RecordDecoder` is built once per catalog: a
``msgspec`` Struct type with one field per record key and catalog field, of
the field's type, so that ``msgspec`` decodes a JSON line straight from its
bytes (or converts a synced row) and checks it in C: strings already in the
form :func:`validate_record` would leave them in (trimmed, not empty, at
most :data:`~fieldgate.policy.records.MAX_STRING_LENGTH` characters, no
control character: one regular expression), real dates, integers within
±2**53, lists of 1 to 200 such strings, addresses with a city and a state,
a known record kind, unknown keys forbidden. Only the findability check
(:func:`~fieldgate.policy.records.check_findable`) is left to Python.

The fast path only ever accepts. A line it refuses (a null, an empty or
untrimmed string, a CR, anything wrong) is handed back as "not sure"
(None) and read by :func:`validate_record`, which accepts it or names what
is wrong exactly as before. A repeated key (JSON allows one; the import
refuses it, and ``msgspec`` would keep the last value) is ruled out without
a tokenizer: in a line with no escaped quote (backslash-quote or
``\\u0022``), every ``"`` opens or closes a key or a string, so re-encoding
what was decoded gives as many ``"`` as the line unless a key was repeated.
``tests/property/test_record_decoder.py`` checks that whatever the fast path
accepts equals what :func:`validate_record` makes of it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec

from fieldgate.core.vocabulary import RECORD_KINDS
from fieldgate.policy.catalog import ADDRESS_KEYS, FieldCatalog
from fieldgate.policy.errors import RecordError
from fieldgate.policy.records import (
    MAX_INTEGER,
    MAX_LIST_ITEMS,
    MAX_RECORD_ID_LENGTH,
    MAX_STRING_LENGTH,
    Record,
    check_findable,
)

_UNSET = msgspec.UNSET
_Unset = msgspec.UnsetType
_Text = Annotated[str, msgspec.Meta(max_length=MAX_STRING_LENGTH)]
_RecordId = Annotated[str, msgspec.Meta(max_length=MAX_RECORD_ID_LENGTH)]
_Integer = Annotated[int, msgspec.Meta(gt=-MAX_INTEGER, lt=MAX_INTEGER)]
_TextList = Annotated[list[_Text], msgspec.Meta(min_length=1, max_length=MAX_LIST_ITEMS)]

# What validate_record would change or refuse in a string, as it shows in
# compact JSON (msgspec's: no space outside strings, a quote inside one
# escaped, controls escaped): an empty string, a space just inside a quote,
# DEL; and, only in a text with a backslash at all, a newline or tab just
# inside a quote and the other control characters. One substring search each.
_MARKS = ('""', '" ', ' "', "\x7f")
_ESCAPED_MARKS = ('"\\n', '"\\t', '\\n"', '\\t"', "\\u", "\\r", "\\b", "\\f")
# Beyond ASCII: what str.strip() removes, C1 controls, bidirectional controls,
# surrogates (tests/property/test_record_decoder.py derives the whitespace from
# str.isspace). Anywhere in the text, not only at a string's ends: "not sure".
_UNUSUAL = re.compile(
    "[\x80-\x9f\xa0\u1680\u2000-\u200a\u2028\u2029\u202a-\u202f\u205f\u2066-\u2069"
    "\u3000\ud800-\udfff]"
)


class _Address(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An address object: city and state required (``ADDRESS_REQUIRED_KEYS``)."""

    street: _Text | _Unset = _UNSET
    city: _Text
    state: _Text
    postal_code: _Text | _Unset = _UNSET


# validate_record builds an address in this order.
assert tuple(_Address.__struct_fields__) == ADDRESS_KEYS

_TYPES: Mapping[str, Any] = {
    "string": _Text,
    "date": dt.date,  # "YYYY-MM-DD" and a real date, given back as that text
    "integer": _Integer,
    "string_list": _TextList,
    "address": _Address,
}
_FLAGS = ("sealed", "juvenile", "expunged")


class RecordDecoder:
    """Decodes and checks records of one catalog in compiled code; see the module docstring.

    Attributes:
        extra_keys: keys beside the record's own and the catalog's (``op`` in
            change files): strings, returned as they are, never checked.
    """

    def __init__(self, catalog: FieldCatalog, extra_keys: tuple[str, ...] = ()) -> None:
        """Build the Struct type and decoder for ``catalog`` (a few milliseconds; reuse it)."""
        self.extra_keys = extra_keys
        kinds = Literal[tuple(sorted(RECORD_KINDS))]  # type: ignore[valid-type]
        keys: list[tuple[str, Any, bool]] = [
            ("record_id", _RecordId, True),
            ("record_kind", kinds, True),
            *((flag, bool, False) for flag in _FLAGS),
            *((key, str, False) for key in extra_keys),
            *((name, _TYPES.get(spec.type), False) for name, spec in catalog.fields.items()),
        ]
        names = [key for key, _, _ in keys]
        self._known = frozenset(names)
        # The empty values validate_record drops as absent, per key: None for
        # every key, "" for a string or date field, [] for a list field.
        self._absent: dict[str, tuple[object, ...]] = {key: (None,) for key in names}
        for name, spec in catalog.fields.items():
            if spec.type in ("string", "date"):
                self._absent[name] = (None, "")
            elif spec.type == "string_list":
                self._absent[name] = (None, [])
        self._type: Any = None
        # A type the record model does not know, or an extra key that is also
        # a field: validate_record alone decides.
        if any(kind is None for _, kind, _ in keys) or len(self._known) != len(names):
            return
        # Attribute names are positional (a catalog field may be any name, a
        # Python keyword included); ``rename`` gives each its key.
        self._type = msgspec.defstruct(
            "RawRecord",
            [
                (f"k{i}", kind, msgspec.NODEFAULT) if required else (f"k{i}", kind | _Unset, _UNSET)
                for i, (_, kind, required) in enumerate(keys)
            ],
            forbid_unknown_fields=True,
            kw_only=True,
            rename={f"k{i}": key for i, key in enumerate(names)},
        )
        self._json = msgspec.json.Decoder(self._type)
        self._encoder = msgspec.json.Encoder()

    def decode(self, line: bytes) -> tuple[Record, tuple[object, ...]] | None:
        """The record on one JSON line and its extra keys' values, or None: not sure.

        None means "read it with :func:`validate_record`", which names what
        is wrong if anything is: never a reason by itself.
        """
        if self._type is None or b'\\"' in line or b"\\u0022" in line:
            return None
        try:
            decoded = self._json.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        encoded = self._encoder.encode(decoded)
        if encoded.count(b'"') != line.count(b'"'):
            return None  # a key repeated: validate_record says which
        return self._record(decoded, encoded)

    def convert(self, raw: Mapping[str, object]) -> tuple[Record, tuple[object, ...]] | None:
        """:meth:`decode` for a mapping (a CSV row or a synced row); None: not sure.

        Keys whose value :func:`validate_record` drops as absent (None; an
        empty string or list where the field takes one) are left out first.
        """
        if self._type is None:
            return None
        absent = self._absent
        present = {
            key: value
            for key, value in raw.items()
            if key not in absent or not _among(value, absent[key])
        }
        try:
            decoded = msgspec.convert(present, self._type)
        except msgspec.ValidationError:
            return None
        return self._record(decoded, self._encoder.encode(decoded))

    def _record(self, decoded: Any, encoded: bytes) -> tuple[Record, tuple[object, ...]] | None:
        """The record ``decoded`` holds (``encoded``: as compact JSON), if every string is plain
        and it is findable."""
        text = encoded.decode()
        if any(mark in text for mark in _MARKS):
            return None
        if "\\" in text and any(mark in text for mark in _ESCAPED_MARKS):
            return None
        if not text.isascii() and _UNUSUAL.search(text):
            return None
        fields: dict[str, Any] = msgspec.to_builtins(decoded)
        record_id, kind = fields.pop("record_id"), fields.pop("record_kind")
        flags = [fields.pop(flag, False) for flag in _FLAGS]
        extras = tuple(fields.pop(key, None) for key in self.extra_keys)
        record = Record(
            record_id, kind, sealed=flags[0], juvenile=flags[1], expunged=flags[2], fields=fields
        )
        try:
            check_findable(record)
        except RecordError:
            return None
        return record, extras


def _among(value: object, empties: tuple[object, ...]) -> bool:
    # By type and value: False == 0 == 0.0 must not pass for an empty value.
    return any(type(value) is type(empty) and value == empty for empty in empties)


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
