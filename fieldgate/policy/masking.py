"""The standard masks a contract may ask for.

A mask turns a field's value into a less identifying form. Each mask fits
certain field types only; asked of any other type, or of a value that does not
have the expected shape, it yields ``None`` and the field is withheld: a mask
that cannot be applied must never fall back to the whole value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

FieldValue = object
"""A record field's value: str, int, list of str, or an address dict."""


def _year(value: FieldValue) -> FieldValue | None:
    if isinstance(value, str) and len(value) == 10 and value[:4].isdigit():
        return value[:4]
    return None


def _address(value: FieldValue, *, zip3: bool) -> FieldValue | None:
    if not isinstance(value, Mapping):
        return None
    city, state = value.get("city"), value.get("state")
    if not isinstance(city, str) or not isinstance(state, str):
        return None
    masked: dict[str, str] = {"city": city, "state": state}
    if zip3:
        postal = value.get("postal_code")
        if not isinstance(postal, str) or len(postal) < 3:
            return None
        masked["postal_code"] = postal[:3]
    return masked


def _last4(value: FieldValue) -> FieldValue | None:
    if not isinstance(value, str):
        return None
    kept = [c for c in value if c.isalnum()]
    if len(kept) < 6:
        # Too short to hide anything by showing four characters.
        return None
    return "***-***-" + "".join(kept[-4:])


def _initial(name: str) -> str:
    return " ".join(f"{word[0]}." for word in name.replace(",", " ").split())


def _initials(value: FieldValue) -> FieldValue | None:
    if isinstance(value, str) and value.strip():
        return _initial(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [_initial(v) for v in value if v.strip()]
    return None


MASKS: Mapping[str, tuple[frozenset[str], Callable[[FieldValue], FieldValue | None]]] = {
    "year": (frozenset({"date"}), _year),
    "city": (frozenset({"address"}), lambda v: _address(v, zip3=False)),
    "zip3": (frozenset({"address"}), lambda v: _address(v, zip3=True)),
    "last4": (frozenset({"string"}), _last4),
    "initials": (frozenset({"string", "string_list"}), _initials),
}
"""Mask name → (field types it fits, function)."""


def apply_mask(mask: str, field_type: str, value: FieldValue) -> FieldValue | None:
    """Return ``value`` masked by ``mask``, or ``None`` if the field must be withheld.

    Args:
        mask: the mask's name, as the contract gave it.
        field_type: the field's type in the catalog.
        value: the field's stored value.
    """
    entry = MASKS.get(mask)
    if entry is None:
        return None
    types, function = entry
    if field_type not in types:
        return None
    return function(value)
