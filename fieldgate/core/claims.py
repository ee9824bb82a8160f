"""Validation of the requester's claims: who asks, for what, under which authority.

A node with a trust bundle takes these claims only from a signed search it has
verified (:mod:`fieldgate.trust.verify`, :mod:`fieldgate.node.trust_gate`); an
``insecure`` development node takes them as stated. Either way they pass these
checks before the node hands them to its contract. Every value that a
contract compares against comes from a fixed vocabulary, so a typo is refused
here instead of silently failing to match a rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fieldgate.core.errors import InvalidRequestError
from fieldgate.core.names import normalize_name
from fieldgate.core.query import parse_date
from fieldgate.core.vocabulary import AGENCY_TYPES, AUTHORITY_KINDS, PURPOSES, RECORD_KINDS
from fieldgate.v2 import common_pb2

MAX_CLAIM_LENGTH = 128
"""Longest subject, agency, role, case number or authority id accepted."""

MAX_ROLES = 16
MAX_AUTHORITIES = 8
MAX_COVERS = 64


@dataclass(frozen=True)
class LegalAuthority:
    """A legal instrument the requester presents (a criminal judicial warrant).

    Attributes:
        kind: instrument kind from :data:`fieldgate.core.vocabulary.AUTHORITY_KINDS`.
        id: the instrument's number.
        court: issuing court.
        subject_surname: normalised surname of the person it covers.
        subject_given_name: normalised given name of the person it covers.
        subject_dob: date of birth of the person it covers.
        covers: field names or sensitivity classes it covers.
        record_kinds: record kinds it covers; empty means all.
        expires: last day it is valid.
    """

    kind: str
    id: str
    court: str
    subject_surname: str
    subject_given_name: str
    subject_dob: dt.date
    covers: tuple[str, ...]
    record_kinds: tuple[str, ...]
    expires: dt.date


@dataclass(frozen=True)
class RequesterClaims:
    """Validated claims of one requester for one search.

    ``credential_id``, ``issuer`` and ``allowed_purposes`` (all the purposes
    the credential allows) are set when the claims come from a verified signed
    search (see :mod:`fieldgate.trust.verify`), empty when a development node
    took them as stated.
    """

    subject: str
    agency: str
    agency_type: str
    roles: tuple[str, ...]
    purpose: str
    case_number: str
    authority: tuple[LegalAuthority, ...]
    credential_id: str = ""
    issuer: str = ""
    allowed_purposes: tuple[str, ...] = ()


def _text(value: str, field: str, *, required: bool) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidRequestError(field, "is required")
    if len(value) > MAX_CLAIM_LENGTH:
        raise InvalidRequestError(field, f"is longer than {MAX_CLAIM_LENGTH} characters")
    return value


def _name(value: str, field: str, *, required: bool) -> str:
    """A name in normalised form; one that normalises to nothing is refused, not ignored.

    An empty given name on a warrant means "any given name"; a name written in
    letters the normaliser cannot read must not silently become that.
    """
    text = _text(value, field, required=required)
    normalised = normalize_name(text)
    if text and not normalised:
        raise InvalidRequestError(field, "must be written in Latin letters")
    return normalised


def _record_kind(value: str, field: str) -> str:
    if value not in RECORD_KINDS:
        raise InvalidRequestError(
            field,
            f"unknown record kind {value[:40]!r}; use one of " + ", ".join(sorted(RECORD_KINDS)),
        )
    return value


def _authority(message: common_pb2.LegalAuthority, where: str) -> LegalAuthority:
    if message.kind not in AUTHORITY_KINDS:
        raise InvalidRequestError(
            f"{where}.kind",
            f"unknown authority kind {message.kind[:40]!r}; use one of "
            + ", ".join(sorted(AUTHORITY_KINDS)),
        )
    if len(message.covers) > MAX_COVERS or len(message.record_kinds) > MAX_COVERS:
        raise InvalidRequestError(where, f"covers at most {MAX_COVERS} fields and kinds")
    surname = _name(message.subject_surname, f"{where}.subject_surname", required=True)
    return LegalAuthority(
        kind=message.kind,
        id=_text(message.id, f"{where}.id", required=True),
        court=_text(message.court, f"{where}.court", required=True),
        subject_surname=surname,
        subject_given_name=_name(
            message.subject_given_name, f"{where}.subject_given_name", required=False
        ),
        subject_dob=parse_date(
            _text(message.subject_dob, f"{where}.subject_dob", required=True),
            f"{where}.subject_dob",
        ),
        covers=tuple(_text(c, f"{where}.covers", required=True) for c in message.covers),
        record_kinds=tuple(_record_kind(k, f"{where}.record_kinds") for k in message.record_kinds),
        expires=parse_date(
            _text(message.expires, f"{where}.expires", required=True), f"{where}.expires"
        ),
    )


def validate_requester(message: common_pb2.Requester) -> RequesterClaims:
    """Check the wire claims and return them validated.

    Raises:
        InvalidRequestError: naming the first claim that is missing or wrong.
    """
    if message.purpose not in PURPOSES:
        raise InvalidRequestError(
            "requester.purpose",
            f"unknown purpose {message.purpose[:40]!r}; use one of " + ", ".join(sorted(PURPOSES)),
        )
    if message.agency_type not in AGENCY_TYPES:
        raise InvalidRequestError(
            "requester.agency_type",
            f"unknown agency type {message.agency_type[:40]!r}; use one of "
            + ", ".join(sorted(AGENCY_TYPES)),
        )
    if len(message.roles) > MAX_ROLES:
        raise InvalidRequestError("requester.roles", f"at most {MAX_ROLES} roles are accepted")
    if len(message.authority) > MAX_AUTHORITIES:
        raise InvalidRequestError(
            "requester.authority", f"at most {MAX_AUTHORITIES} instruments are accepted"
        )
    authority = tuple(
        _authority(a, f"requester.authority[{i}]") for i, a in enumerate(message.authority)
    )
    first_of: dict[str, int] = {}
    for i, instrument in enumerate(authority):
        # Audit entries name the instruments that applied by id: two with one id
        # would leave an auditor unable to tell which was relied on.
        earlier = first_of.setdefault(instrument.id, i)
        if earlier != i:
            raise InvalidRequestError(
                f"requester.authority[{i}].id",
                f"repeats the id of requester.authority[{earlier}]; each instrument needs its own",
            )
    return RequesterClaims(
        subject=_text(message.subject, "requester.subject", required=True),
        agency=_text(message.agency, "requester.agency", required=True),
        agency_type=message.agency_type,
        roles=tuple(_text(r, "requester.roles", required=True) for r in message.roles),
        purpose=message.purpose,
        case_number=_text(message.case_number, "requester.case_number", required=False),
        authority=authority,
    )
