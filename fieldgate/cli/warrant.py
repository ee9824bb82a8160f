"""``fieldgate warrant issue``: a court's signed criminal judicial warrant attestation."""

from __future__ import annotations

import datetime as dt
import difflib
from pathlib import Path

import click

from fieldgate.cli.files import EXISTING_FILE, emit_token
from fieldgate.core.names import split_full_name
from fieldgate.core.vocabulary import RECORD_KINDS
from fieldgate.policy.catalog import SENSITIVITY_CLASSES, default_catalog_path, load_catalog
from fieldgate.trust.keys import load_private_key
from fieldgate.trust.tokens import WarrantRequest, issue_warrant


@click.group()
def warrant() -> None:
    """Issue criminal judicial warrant attestations (a court's key)."""


@warrant.command("issue")
@click.option("--court-key", type=EXISTING_FILE, required=True)
@click.option("--court", required=True, help="Court id, as nodes' trust bundles name it.")
@click.option("--id", "warrant_id", required=True, help="The warrant's number.")
@click.option("--name", required=True, help='The person it covers, "SURNAME, GIVEN".')
@click.option("--dob", required=True, help="Their date of birth, YYYY-MM-DD.")
@click.option(
    "--covers",
    multiple=True,
    required=True,
    help="Field or sensitivity class covered (repeatable).",
)
@click.option(
    "--record-kind", "record_kinds", multiple=True, type=click.Choice(sorted(RECORD_KINDS))
)
@click.option("--expires", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option(
    "--applicant-agency", required=True, help="Agency that applied; only it may use the warrant."
)
@click.option("--case-number", required=True, help="The applicant's case it was granted for.")
@click.option("--investigator", default="", help="Credential subject who alone may present it.")
@click.option(
    "--catalog",
    "catalog_path",
    type=EXISTING_FILE,
    help="Field catalog --covers may name fields of (default: the standard catalog).",
)
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path))
def warrant_issue(
    court_key: Path, court: str, warrant_id: str, name: str, dob: str, covers: tuple[str, ...],
    record_kinds: tuple[str, ...], expires: dt.datetime, applicant_agency: str,
    case_number: str, investigator: str, catalog_path: Path | None, out: Path | None,
) -> None:  # fmt: skip
    """Sign a warrant attestation nodes can verify."""
    surname, given = split_full_name(name)
    if not surname:
        raise click.BadParameter("give the person's name", param_hint="--name")
    _check_dob(dob)
    _check_covers(covers, catalog_path or default_catalog_path())
    if expires.date() < dt.date.today():
        raise click.BadParameter(f"{expires.date()} has already passed", param_hint="--expires")
    token = issue_warrant(
        WarrantRequest(
            court=court,
            warrant_id=warrant_id,
            subject_surname=surname,
            subject_given_name=given,
            subject_dob=dob,
            covers=covers,
            expires=expires.date(),
            applicant_agency=applicant_agency,
            case_number=case_number,
            record_kinds=record_kinds,
            investigator=investigator,
        ),
        load_private_key(court_key),
    )
    emit_token(token, out)


def _check_dob(dob: str) -> None:
    """A real, plausible calendar date: a court does not sign for 1980-02-30."""
    try:
        day = dt.date.fromisoformat(dob)
    except ValueError:
        raise click.BadParameter(
            f"{dob!r} is not a calendar date in the form YYYY-MM-DD", param_hint="--dob"
        ) from None
    if day > dt.date.today() or day.year < 1900:
        raise click.BadParameter(f"{dob} is not a plausible birth date", param_hint="--dob")


def _check_covers(covers: tuple[str, ...], catalog: Path) -> None:
    """Each coverage is a sensitivity class or a field of ``catalog``, spelt right.

    A misspelt coverage ("locaton") would be signed and then silently cover nothing.
    """
    known = SENSITIVITY_CLASSES | set(load_catalog(catalog).field_names)
    for cover in covers:
        if cover not in known:
            near = difflib.get_close_matches(cover, sorted(known), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise click.BadParameter(
                f"{cover!r} is neither a sensitivity class nor a catalog field{hint}",
                param_hint="--covers",
            )
