"""Person matching: realistic variants match, different people do not."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldgate.names import normalize_identifier, normalize_name
from fieldgate.query import PersonQuery
from node.matching import (
    MATCH_THRESHOLD,
    CandidateName,
    Match,
    phonetic_keys,
    score_candidate,
    transposed_dob,
)


def query(
    surname: str = "",
    given_name: str = "",
    dob: str | None = None,
    identifiers: tuple[tuple[str, str], ...] = (),
) -> PersonQuery:
    return PersonQuery(
        surname=normalize_name(surname),
        given_name=normalize_name(given_name),
        dob=dt.date.fromisoformat(dob) if dob else None,
        identifiers=identifiers,
        max_hits=25,
    )


def names(
    *pairs: tuple[str, str], aliases: tuple[tuple[str, str], ...] = ()
) -> list[CandidateName]:
    return [CandidateName(s, g) for s, g in pairs] + [CandidateName(s, g, True) for s, g in aliases]


DOB = dt.date(1980, 4, 12)


@pytest.mark.parametrize(
    ("wanted", "held"),
    [
        (("HERNANDEZ", "JOSE"), ("HERNANDES", "JOSE")),
        (("JOHNSON", "MIGUEL"), ("JONSON", "MIGUEL")),
        (("GARCIA", "MIGUEL"), ("GARCIA", "MIGEL")),
        (("SMITH", "CATHERINE"), ("SMITH", "KATHERINE")),
        (("JOHNSON", "MIGUEL"), ("JONSON", "MIGEL")),
        (("GARCIA", "ANA"), ("GARCIA LOPEZ", "ANA")),
        (("SMITH", "J"), ("SMITH", "JOHN")),
    ],
)
def test_spelling_variants_match_with_and_without_dob(
    wanted: tuple[str, str], held: tuple[str, str]
) -> None:
    with_dob = score_candidate(query(*wanted, dob="1980-04-12"), names(held), DOB)
    without = score_candidate(query(*wanted), names(held), DOB)
    assert with_dob is not None
    assert without is not None
    assert with_dob.score >= 0.9
    assert without.score >= MATCH_THRESHOLD
    assert with_dob.score < 1.0  # a variant never looks exact


def test_phonetic_and_similarity_reasons_are_given() -> None:
    match = score_candidate(
        query("HERNANDEZ", "JOSE", "1980-04-12"), names(("HERNANDES", "JOSE")), DOB
    )
    assert match is not None
    assert match.reasons == (
        "surname similarity 0.96 (Jaro-Winkler)",
        "surname sounds alike (NYSIIS HARNAND, metaphone HRNNTS)",
        "given name exact",
        "date of birth exact",
    )


def test_alias_hit_scores_as_the_alias() -> None:
    held = names(("HERNANDEZ", "MIGUEL"), aliases=(("GOMEZ", "MIKE"),))
    match = score_candidate(query("Gomez", "Mike", "1980-04-12"), held, DOB)
    assert match is not None
    assert match.score == 1.0
    assert match.reasons[0] == "name matches alias 'GOMEZ, MIKE'"
    # Without the alias the same query names someone else.
    assert score_candidate(query("Gomez", "Mike", "1980-04-12"), held[:1], DOB) is None


def test_primary_name_wins_a_tie_with_an_alias() -> None:
    held = names(("DOE", "JOHN"), aliases=(("DOE", "JOHN"),))
    match = score_candidate(query("DOE", "JOHN"), held, None)
    assert match is not None
    assert not any("alias" in reason for reason in match.reasons)


def test_transposed_dob_keeps_most_credit() -> None:
    match = score_candidate(
        query("SMITH", "JOHN", "1980-04-12"), names(("SMITH", "JOHN")), dt.date(1980, 12, 4)
    )
    assert match is not None
    assert "date of birth with day and month transposed" in match.reasons
    assert 0.9 < match.score < 1.0


@pytest.mark.parametrize(
    ("held", "reason"),
    [
        ("1980-04-13", "date of birth one digit different"),
        ("1990-04-12", "date of birth one digit different"),
        ("1980-04-21", "date of birth with two adjacent digits swapped"),
        ("1980-09-30", "date of birth in the same year"),
    ],
)
def test_dob_near_misses_still_match_an_exact_name(held: str, reason: str) -> None:
    match = score_candidate(
        query("SMITH", "JOHN", "1980-04-12"), names(("SMITH", "JOHN")), dt.date.fromisoformat(held)
    )
    assert match is not None
    assert reason in match.reasons
    assert match.score < 0.95


def test_conflicting_dob_pulls_an_exact_name_well_below_threshold() -> None:
    match = score_candidate(
        query("SMITH", "JOHN", "1980-04-12"),
        names(("SMITH", "JOHN")),
        dt.date(1975, 1, 1),
        threshold=0.0,
    )
    assert match is not None
    assert match.score <= MATCH_THRESHOLD - 0.2
    assert "date of birth differs" in match.reasons


@pytest.mark.parametrize(
    ("wanted", "held", "held_dob"),
    [
        (("SMITH", "JOHN", "1980-04-12"), ("SMYTHE", "JANE"), dt.date(1975, 1, 1)),
        (("SMITH", "JOHN", None), ("SMYTHE", "JANE"), None),
        (("SMITH", "JOHN", None), ("SMITH", "JANE"), None),
        (("SMITH", "JOHN", "1980-04-12"), ("JONES", "JOHN"), DOB),
        (("SMITH", "", "1980-04-12"), ("JONES", "JOHN"), DOB),
        (("SMITH", "J", None), ("SMITH", "ROBERT"), None),
        (("SMITH", "JOHN", "1980-04-12"), ("", ""), DOB),
    ],
)
def test_different_people_are_rejected(
    wanted: tuple[str, str, str | None], held: tuple[str, str], held_dob: dt.date | None
) -> None:
    assert score_candidate(query(*wanted), names(held), held_dob) is None


def test_missing_record_evidence_counts_less_than_agreement() -> None:
    exact = score_candidate(query("SMITH", "JOHN", "1980-04-12"), names(("SMITH", "JOHN")), DOB)
    no_dob = score_candidate(query("SMITH", "JOHN", "1980-04-12"), names(("SMITH", "JOHN")), None)
    variant_no_dob = score_candidate(
        query("SMITH", "JOHN", "1980-04-12"), names(("SMYTHE", "JOHN")), None
    )
    assert exact is not None
    assert no_dob is not None
    assert exact.score == 1.0
    assert MATCH_THRESHOLD <= no_dob.score < exact.score
    assert "no date of birth on record" in no_dob.reasons
    assert variant_no_dob is None


def test_exact_identifier_scores_one_whatever_the_names() -> None:
    wanted = query("NOBODY", "AT ALL", "1901-01-01", identifiers=(("state_id", "WA123456"),))
    match = score_candidate(wanted, names(("SMITH", "JOHN")), DOB, [("state_id", "WA123456")])
    assert match == Match(1.0, ("state_id exact",))
    # The same value under another kind is not a hit.
    assert (
        score_candidate(wanted, names(("SMITH", "JOHN")), DOB, [("fbi_number", "WA123456")]) is None
    )


def test_identifier_only_query_without_a_hit_is_no_match() -> None:
    wanted = query(identifiers=(("fbi_number", "12345AB"),))
    assert score_candidate(wanted, names(("SMITH", "JOHN")), DOB, threshold=0.0) is None


def test_phonetic_keys_ignore_spaces_and_transposition_rules() -> None:
    assert phonetic_keys("DE LA CRUZ") == phonetic_keys("DELACRUZ")
    spaced = score_candidate(query("DE LA CRUZ", "ANA"), names(("DELACRUZ", "ANA")), None)
    assert spaced is not None
    assert spaced.reasons[0] == "surname exact"
    assert phonetic_keys("") == ("", "")
    assert transposed_dob(dt.date(1980, 4, 12)) == dt.date(1980, 12, 4)
    assert transposed_dob(dt.date(1980, 4, 13)) is None  # no 13th month
    assert transposed_dob(dt.date(1980, 4, 4)) is None  # the same date


# --- properties -------------------------------------------------------------

NAME_TEXT = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdeéñöü' -", min_size=1, max_size=20)
SURNAMES = NAME_TEXT.filter(lambda s: len(normalize_name(s).replace(" ", "")) >= 2)
DATES = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31))


@given(surname=SURNAMES, given_name=NAME_TEXT, dob=DATES)
def test_a_record_always_matches_its_own_name_and_dob(
    surname: str, given_name: str, dob: dt.date
) -> None:
    held = [CandidateName(normalize_name(surname), normalize_name(given_name))]
    match = score_candidate(query(surname, given_name, dob.isoformat()), held, dob)
    assert match is not None
    assert match.score >= 0.99


@given(
    surname=SURNAMES,
    given_name=NAME_TEXT,
    other_surname=SURNAMES,
    other_given=NAME_TEXT,
    wanted_dob=DATES,
    held_dob=DATES,
)
def test_score_is_bounded_and_exact_dob_never_scores_lower(
    surname: str,
    given_name: str,
    other_surname: str,
    other_given: str,
    wanted_dob: dt.date,
    held_dob: dt.date,
) -> None:
    wanted = query(surname, given_name, wanted_dob.isoformat())
    held = [CandidateName(normalize_name(other_surname), normalize_name(other_given))]
    some = score_candidate(wanted, held, held_dob, threshold=0.0)
    exact = score_candidate(wanted, held, wanted_dob, threshold=0.0)
    assert some is not None
    assert exact is not None
    assert 0.0 <= some.score <= exact.score <= 1.0


@given(st.text(max_size=40))
def test_normalisation_is_idempotent(text: str) -> None:
    assert normalize_name(normalize_name(text)) == normalize_name(text)
    assert normalize_identifier(normalize_identifier(text)) == normalize_identifier(text)
