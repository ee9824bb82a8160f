"""Names as people carry them, and evidence tiers: the matcher alone (pure functions)."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldgate.core.names import normalize_name
from fieldgate.core.query import PersonQuery
from fieldgate.matching.matcher import (
    CandidateName,
    dob_evidence,
    near_miss_dobs,
    score_candidate,
    transposed_dob,
)
from fieldgate.matching.name_forms import expand_names, given_forms, surname_forms

DOB = dt.date(1980, 4, 12)


def query(surname: str, given_name: str = "", dob: dt.date | None = DOB) -> PersonQuery:
    return PersonQuery(normalize_name(surname), normalize_name(given_name), dob, (), 25)


def filed(surname: str, given_name: str) -> tuple[CandidateName, ...]:
    return expand_names([CandidateName(normalize_name(surname), normalize_name(given_name))])


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("ĐẶNG", "DANG"),
        ("ĐỖ", "DO"),
        ("SØRENSEN", "SORENSEN"),
        ("Łukasz", "LUKASZ"),
        ("Æbelø", "AEBELO"),
        ("Straße", "STRASSE"),
        ("Nguyễn Văn Tuấn", "NGUYEN VAN TUAN"),
        ("O'Brien", "OBRIEN"),
        ("Smith-Jones", "SMITHJONES"),
        ("🙂", ""),  # symbols are not spelt out as words
    ],
)
def test_letters_are_transliterated_before_normalising(text: str, normalised: str) -> None:
    assert normalize_name(text) == normalised


# The Latin letters of the languages of the people served: ASCII, Latin-1,
# Latin Extended-A (Polish, Czech, Turkish, ...), Latin Extended-B's Romanian
# and Croatian letters, and Vietnamese. (A few phonetic letters of Extended-B,
# such as the reversed ezh, have no ASCII reading at all.)
LATIN_LETTERS = st.one_of(
    st.characters(min_codepoint=0x41, max_codepoint=0x17F, categories=["Lu", "Ll"]),
    st.characters(min_codepoint=0x1C4, max_codepoint=0x21B, categories=["Lu", "Ll", "Lt"]),
    st.characters(min_codepoint=0x1EA0, max_codepoint=0x1EF9, categories=["Lu", "Ll"]),
)


@given(st.text(alphabet=LATIN_LETTERS, min_size=1, max_size=20))
def test_a_latin_script_word_never_becomes_empty_or_spaced_out(word: str) -> None:
    """Every Latin letter has an ASCII reading: a word stays one non-empty word."""
    assert all(unicodedata.category(c).startswith("L") for c in word)
    result = normalize_name(word)
    assert result
    assert " " not in result
    assert result.isascii()
    assert result.isupper()


@pytest.mark.parametrize(
    ("wanted", "held"),
    [
        # A person known by the middle name.
        (("SMITH", "PAUL"), ("SMITH", "JOHN PAUL")),
        # Vietnamese middle name filed as the given name.
        (("NGUYEN", "TUAN"), ("NGUYEN", "VAN TUAN")),
        (("TRAN", "LAN"), ("TRAN", "THI LAN")),
        # Adopted English given name.
        (("NGUYEN", "TONY"), ("NGUYEN", "TUAN")),
        # Spanish hypocorisms.
        (("GARCIA", "PEPE"), ("GARCIA", "JOSE")),
        (("RAMIREZ", "BETO"), ("RAMIREZ", "ALBERTO")),
        (("LOPEZ", "CHUY"), ("LOPEZ", "JESUS")),
        # The paternal surname filed as a middle name.
        (("HERNANDEZ", "MIGUEL"), ("LOPEZ", "MIGUEL HERNANDEZ")),
        # Particles, spaced, joined, dropped.
        (("DE LA CRUZ", "ANA"), ("CRUZ", "ANA")),
        (("DELA CRUZ", "ANA"), ("DE LA CRUZ", "ANA")),
        (("CRUZ", "ANA"), ("DELACRUZ", "ANA")),
        (("DELACRUZ", "ANA"), ("CRUZ", "ANA")),
        (("VAN DER BERG", "PIET"), ("BERG", "PIET")),
        # Either surname alone, and a full name in natural order.
        (("LOPEZ", "MIGUEL"), ("HERNANDEZ LOPEZ", "MIGUEL")),
        (("HERNANDEZ LOPEZ", "MIGUEL A"), ("HERNANDEZ", "MIGUEL")),
        # Chinese and Korean romanisations.
        (("CHANG", "MIN"), ("JANG", "MIN")),
        (("IM", "SOO"), ("LIM", "SOO")),
        (("WONG", "WEI"), ("HUANG", "WEI")),
        # Letters the old normaliser turned into spaces.
        (("DANG", "MINH"), ("ĐẶNG", "MINH")),
        (("DO", "HUNG"), ("ĐỖ", "HUNG")),
        (("SORENSEN", "LARS"), ("SØRENSEN", "LARS")),
        # Arabic / Somali and Slavic transliterations.
        (("WARSAME", "MOHAMED"), ("WARSAME", "MAXAMED")),
        (("PETRENKO", "OLEKSANDR"), ("PETRENKO", "ALEKSANDR")),
    ],
)
def test_each_tradition_is_a_strong_match_with_the_date_of_birth(
    wanted: tuple[str, str], held: tuple[str, str]
) -> None:
    match = score_candidate(query(*wanted), filed(*held), DOB)
    assert match is not None, (wanted, held)
    assert match.tier == "strong", (wanted, held, match)


def test_a_namesake_is_not_an_equivalent() -> None:
    # JOSE is not ALBERTO, LIM is not PARK: no strong match, whatever the date.
    for wanted, held in [
        (("GARCIA", "PEPE"), ("GARCIA", "ALBERTO")),
        (("LIM", "SOO"), ("PARK", "SOO")),
    ]:
        match = score_candidate(query(*wanted), filed(*held), DOB)
        assert match is None or match.tier != "strong", (wanted, held)


def test_surname_and_given_forms() -> None:
    assert surname_forms("DE LA CRUZ") == ("DE LA CRUZ", "CRUZ")
    assert surname_forms("HERNANDEZ LOPEZ") == ("HERNANDEZ LOPEZ", "HERNANDEZ", "LOPEZ")
    assert surname_forms("DELACRUZ") == ("DELACRUZ", "CRUZ")
    assert surname_forms("DENNIS") == ("DENNIS",)  # no prefix folded off a real surname
    assert surname_forms("") == ()
    assert given_forms("VAN TUAN") == ("VAN TUAN", "TUAN")
    assert given_forms("JOHN P") == ("JOHN P",)  # an initial never stands alone


NAME_WORDS = st.sampled_from(
    ["DE", "LA", "CRUZ", "VAN", "THI", "TUAN", "HERNANDEZ", "LOPEZ", "A", "JOHN", "DELACRUZ", "AL"]
)
NAMES = st.lists(NAME_WORDS, min_size=0, max_size=4).map(" ".join)


@given(surname=NAMES.filter(bool), given_name=NAMES, alias=st.booleans())
def test_expanded_names_keep_the_filed_name_first_and_never_an_empty_surname(
    surname: str, given_name: str, alias: bool
) -> None:
    name = CandidateName(surname, given_name, alias)
    expanded = expand_names([name])
    assert expanded[0] == name
    assert all(n.surname and n.derived and n.alias == alias for n in expanded[1:])
    assert len({(n.surname, n.given_name) for n in expanded}) == len(expanded)


DATES = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31))
WORDS = st.sampled_from(["SMITH", "SMYTH", "JOHN", "JON", "GARCIA LOPEZ", "DE LA CRUZ", "CRUZ"])


@given(surname=WORDS, given_name=WORDS, wanted=DATES, data=st.data())
def test_never_strong_when_the_year_of_birth_differs(
    surname: str, given_name: str, wanted: dt.date, data: st.DataObject
) -> None:
    # Dates close to the query's (typos, other years) are the interesting ones.
    held = data.draw(st.one_of(DATES, st.sampled_from(near_miss_dobs(wanted))))
    match = score_candidate(query(surname, given_name, wanted), filed(surname, given_name), held)
    if wanted.year != held.year:
        assert match is None or match.tier != "strong"
    # Only the date itself, or day and month swapped, is strong evidence.
    assert dob_evidence(wanted, held).strong == (held in (wanted, transposed_dob(wanted)))


@given(surname=WORDS, given_name=WORDS, held=st.one_of(st.none(), DATES))
def test_a_name_only_query_is_possible_at_most(
    surname: str, given_name: str, held: dt.date | None
) -> None:
    match = score_candidate(query(surname, given_name, None), filed(surname, given_name), held)
    assert match is not None  # the person's own name is always at least possible
    assert match.tier == "possible"


def test_no_date_on_file_or_only_the_same_year_is_not_strong() -> None:
    for held in (None, dt.date(1980, 9, 30), dt.date(1981, 4, 12), dt.date(1950, 4, 12)):
        match = score_candidate(query("SMITH", "JOHN"), filed("SMITH", "JOHN"), held)
        assert match is not None
        assert match.tier == "possible"
    assert (
        score_candidate(query("SMITH", "JOHN"), filed("SMITH", "JOHN"), dt.date(1975, 1, 1)) is None
    )
