"""Canonical JSON of audit entries (node/audit/canonical.py).

Every entry takes a fast check; only a refused one is walked again to name the place.
"""

from __future__ import annotations

import enum
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldgate.node.audit.canonical import NotCanonicalError, _check, canonical_json


class Level(enum.IntEnum):
    LOW = 1


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=5),
    st.floats(allow_nan=False),
    st.just(Level.LOW),  # an int subclass: JSON has a spelling for it
    st.sets(st.integers(), max_size=2),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=3), st.integers()), inner, max_size=3),
    ),
    max_leaves=12,
)


def full_check_refusal(document: dict[str, object]) -> str | None:
    """The full, path-naming walk's refusal of ``document``, or None."""
    try:
        _check(document, "$")
    except NotCanonicalError as exc:
        return str(exc)
    return None


@given(st.dictionaries(st.text(max_size=3), VALUES, max_size=4))
def test_canonical_json_refuses_exactly_what_the_full_check_refuses(
    document: dict[str, object],
) -> None:
    expected = full_check_refusal(document)
    if expected is None:
        text = canonical_json(document)
        assert json.loads(text) == json.loads(json.dumps(document, sort_keys=True))
    else:
        with pytest.raises(NotCanonicalError) as refused:
            canonical_json(document)
        assert str(refused.value) == expected  # the same place named


def test_a_float_deep_in_an_entry_is_refused_with_its_place() -> None:
    with pytest.raises(NotCanonicalError, match=r"\$\.records\[1\]\.score: floats"):
        canonical_json({"records": [{"score": 1}, {"score": 0.5}]})
