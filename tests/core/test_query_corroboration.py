"""The query's corroboration (sex, age range): validated, turned into dates, digested and signed.

Corroboration is evidence only (``fieldgate.matching.evidence``); here the
checks that bad values are refused naming the field, that an age range
becomes the right birth dates, that a query without corroboration digests and
signs exactly as before, and that a signed query carries it (so a broker
cannot add or change it).
"""

from __future__ import annotations

import datetime as dt

import pytest

from fieldgate.core.errors import InvalidRequestError
from fieldgate.core.query import PersonQuery, query_digest, validate_query
from fieldgate.trust.tokens import query_from_payload, query_payload
from fieldgate.v2 import common_pb2

TODAY = dt.date(2026, 12, 3)


def wire(**extra: object) -> common_pb2.PersonQuery:
    return common_pb2.PersonQuery(surname="Quixano", given_name="Alonso", **extra)  # type: ignore[arg-type]


def test_an_age_range_becomes_the_birth_dates_it_allows() -> None:
    query = validate_query(wire(age_min=30, age_max=40, sex="f"), today=TODAY)
    assert query.sex == "F"
    # 30 today at the latest: born on or before 1996-12-03. 40 at most: born
    # after 1985-12-03 (who was born that day turns 41 today).
    assert (query.born_from, query.born_to) == (dt.date(1985, 12, 4), dt.date(1996, 12, 3))
    only_min = validate_query(wire(age_min=18), today=dt.date(2024, 2, 29))
    assert (only_min.born_from, only_min.born_to) == (None, dt.date(2006, 2, 28))


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ({"sex": "male"}, "query.sex", "M, F, X"),
        ({"age_min": 50, "age_max": 20}, "query.age_min", "min <= max"),
        ({"age_max": 300}, "query.age_max", "plausible age"),
        ({"age_min": 126}, "query.age_min", "plausible age"),
    ],
)
def test_bad_corroboration_names_the_field(
    extra: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        validate_query(wire(**extra), today=TODAY)
    assert raised.value.field == field
    assert words in str(raised.value)


def test_corroboration_alone_does_not_make_a_query() -> None:
    with pytest.raises(InvalidRequestError, match="too broad"):
        validate_query(common_pb2.PersonQuery(surname="Quixano", sex="M", age_min=30), today=TODAY)


def test_a_query_without_corroboration_digests_as_before_and_with_it_differently() -> None:
    plain = PersonQuery("QUIXANO", "ALONSO", None, (), 25)
    # Pinned before corroboration existed (same canonical form as test_query_digest).
    before = query_digest(plain)
    assert before == query_digest(validate_query(wire(), today=TODAY))
    with_sex = validate_query(wire(sex="M"), today=TODAY)
    with_age = validate_query(wire(age_max=40), today=TODAY)
    assert len({before, query_digest(with_sex), query_digest(with_age)}) == 3


def test_years_of_birth_are_checked_digested_and_signed() -> None:
    one = validate_query(wire(birth_year_min=1984, birth_year_max=1984), today=TODAY)
    assert one.birth_years == (1984, 1984)
    assert validate_query(wire(birth_year_min=1980), today=TODAY).birth_years == (1980, 0)
    plain = validate_query(wire(), today=TODAY)
    assert plain.birth_years == (0, 0)
    assert query_digest(one) != query_digest(plain)
    for extra, field in (
        ({"birth_year_min": 1990, "birth_year_max": 1980}, "query.birth_year_min"),
        ({"birth_year_min": 1899}, "query.birth_year_min"),
        ({"birth_year_max": TODAY.year + 1}, "query.birth_year_max"),
    ):
        with pytest.raises(InvalidRequestError) as raised:
            validate_query(wire(**extra), today=TODAY)
        assert raised.value.field == field, extra
    signed = query_payload(wire(birth_year_min=1980, birth_year_max=1985))
    assert (signed["birth_year_min"], signed["birth_year_max"]) == (1980, 1985)
    assert query_from_payload(signed) == wire(birth_year_min=1980, birth_year_max=1985)
    with pytest.raises(ValueError, match="wrong types"):
        query_from_payload({**signed, "birth_year_min": "1980"})


def test_the_signed_query_carries_corroboration_only_when_given() -> None:
    assert set(query_payload(wire())) == {
        "surname",
        "given_name",
        "dob",
        "identifiers",
        "max_hits",
    }
    signed = query_payload(wire(sex="X", age_min=20, age_max=29))
    assert (signed["sex"], signed["age_min"], signed["age_max"]) == ("X", 20, 29)
    assert query_from_payload(signed) == wire(sex="X", age_min=20, age_max=29)
    for bad in ({"sex": 1}, {"age_min": "20"}, {"age_max": True}):
        with pytest.raises(ValueError, match="wrong types"):
            query_from_payload({**query_payload(wire()), **bad})
