"""``fieldgate search``: one search through a broker, as a table or JSON.

With ``--stream`` each agency is shown as soon as it ends, under a live
"answered / pending / failed" line (or, with ``--json``, one JSON object per
line); Ctrl-C cancels the search at the broker and exits with status 130.

A search of more than :data:`~fieldgate.client.render.SUMMARY_ABOVE` agencies
is shown as a summary: the agencies that disclosed records, then how many
answered with no record, could not answer, did not answer, failed
verification or were not asked (``--show GROUP`` lists a group, ``--all``
shows every agency's table). ``--json`` always holds every agency.

Exit status: 0 when every agency answered (with or without hits);
:data:`EXIT_FAILED_VERIFICATION` (3) when some agency's answer failed
verification (this wins over 4); :data:`EXIT_SOME_DID_NOT_ANSWER` (4) when
some agency could not answer (signed ``not_answering``) or did not answer
(timed out, unreachable, error) — its empty part means "could not answer",
never "no record"; 1 for a search the broker refused or a broker that could
not be reached; 2 for bad input.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import click
from rich.console import Console
from rich.live import Live
from rich.text import Text

from fieldgate.cli.files import EXISTING_FILE, read_token
from fieldgate.client.answer_check import AnswerCheck
from fieldgate.client.audience import AudienceError
from fieldgate.client.broker_client import Requester, SearchClient, SearchError, Warrant
from fieldgate.client.render import (
    SUMMARY_ABOVE,
    SUMMARY_GROUPS,
    agency_table,
    not_asked_table,
    progress_text,
    result_group,
    summary_group,
)
from fieldgate.client.results import SearchResult
from fieldgate.client.stream import AgencyEnded, SearchFinished, SearchStarted, SearchUpdate
from fieldgate.core.certs import check_server_role
from fieldgate.core.inert_text import terminal_safe
from fieldgate.core.names import split_full_name
from fieldgate.core.tls import TLSFiles
from fieldgate.core.vocabulary import AGENCY_TYPES, IDENTIFIER_KINDS, PURPOSES
from fieldgate.trust.config import TrustConfig, build_store
from fieldgate.trust.keys import load_enc_private_key, load_private_key
from fieldgate.trust.tokens import CREDENTIAL_TYPE, WARRANT_TYPE, Identity

EXIT_FAILED_VERIFICATION = 3
"""Exit status when any agency's answer failed verification (never data, never "no record")."""
EXIT_SOME_DID_NOT_ANSWER = 4
"""Exit status when some agency could not answer (signed ``not_answering``) or did not
answer (timed out, unreachable, error), and none failed verification."""
EXIT_NOT_ANSWERING = EXIT_SOME_DID_NOT_ANSWER
"""The same status, by its protocol-v2 name."""

WARRANT_KEYS = {
    "id",
    "court",
    "subject_surname",
    "subject_given_name",
    "subject_dob",
    "covers",
    "expires",
    "record_kinds",
}


class _Query(TypedDict):
    """What is searched for, as both search methods of the client take it."""

    surname: str
    given_name: str
    dob: str
    identifiers: list[tuple[str, str]]
    max_hits: int
    sex: str
    age_range: tuple[int, int]
    birth_years: tuple[int, int]
    deadline_seconds: float
    identity: Identity | None
    warrant_tokens: list[str]


def parse_birth_years(text: str) -> tuple[int, int]:
    """``--born``: ``1984`` (one year) or ``1980-1985`` (a range, earliest first).

    Raises:
        click.BadParameter: naming ``--born`` and what is wrong.
    """
    parts = text.strip().split("-")
    if len(parts) > 2 or not all(p.strip().isdigit() and len(p.strip()) == 4 for p in parts):
        raise click.BadParameter(
            f"{text[:20]!r} is not a year (1984) or a range of years (1980-1985)",
            param_hint="--born",
        )
    low, high = int(parts[0]), int(parts[-1])
    if low > high:
        raise click.BadParameter(
            f"{low} is after {high}; give the earlier year first", param_hint="--born"
        )
    if low < 1900 or high > dt.date.today().year:
        raise click.BadParameter(
            f"{text[:20]!r} is not a plausible year of birth (1900 to this year)",
            param_hint="--born",
        )
    return low, high


def load_warrant(path: Path) -> Warrant:
    """Read a warrant description (JSON object) from ``path``."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="--warrant") from None
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})", param_hint="--warrant"
        ) from None
    if not isinstance(document, dict):
        raise click.BadParameter(f"{path}: must hold a JSON object", param_hint="--warrant")
    unknown = sorted(set(document) - WARRANT_KEYS)
    if unknown:
        raise click.BadParameter(f"{path}: unknown key {unknown[0]!r}", param_hint="--warrant")
    for key in ("covers", "record_kinds"):
        value = document.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise click.BadParameter(
                f"{path}: {key} must be a list of strings", param_hint="--warrant"
            )
    try:
        return Warrant(
            id=str(document["id"]),
            court=str(document["court"]),
            subject_surname=str(document["subject_surname"]),
            subject_given_name=str(document.get("subject_given_name", "")),
            subject_dob=str(document["subject_dob"]),
            covers=tuple(document.get("covers", [])),
            expires=str(document["expires"]),
            record_kinds=tuple(document.get("record_kinds", [])),
        )
    except KeyError as exc:
        raise click.BadParameter(
            f"{path}: missing key {exc.args[0]!r}", param_hint="--warrant"
        ) from None


def parse_identifier(text: str) -> tuple[str, str]:
    """Parse ``KIND=VALUE``."""
    kind, sep, value = text.partition("=")
    if not sep or kind not in IDENTIFIER_KINDS:
        raise click.BadParameter(
            f"{text!r}: use KIND=VALUE with KIND one of {', '.join(sorted(IDENTIFIER_KINDS))}",
            param_hint="--id",
        )
    return kind, value


@click.command()
@click.option(
    "--broker",
    "broker_address",
    envvar="FIELDGATE_BROKER",
    default="127.0.0.1:50051",
    show_default=True,
    help="Broker host:port.",
)
@click.option("--name", help='Full name, "SURNAME, GIVEN" or "Given Surname".')
@click.option("--surname", default="", help="Surname (instead of --name).")
@click.option("--given", "given_name", default="", help="Given name (instead of --name).")
@click.option("--dob", default="", help="Date of birth, YYYY-MM-DD.")
@click.option(
    "--sex",
    type=click.Choice(["M", "F", "X"], case_sensitive=False),
    default=None,
    help="Sex as you believe it: corroborates a match, never makes one.",
)
@click.option(
    "--age-min",
    type=click.IntRange(1, 125),
    default=None,
    help="Youngest age the person may be (years): corroboration only.",
)
@click.option(
    "--age-max",
    type=click.IntRange(1, 125),
    default=None,
    help="Oldest age the person may be (years): corroboration only.",
)
@click.option(
    "--born",
    "born",
    default=None,
    metavar="YEAR[-YEAR]",
    help="Year of birth, or a range of years (1980-1985): corroboration only.",
)
@click.option(
    "--id",
    "identifiers",
    multiple=True,
    metavar="KIND=VALUE",
    help="Exact identifier, e.g. state_id=WA12345678 (repeatable).",
)
@click.option(
    "--credential",
    "credential_path",
    type=EXISTING_FILE,
    help="Your credential (from your agency); signs the search.",
)
@click.option(
    "--key",
    "key_path",
    type=EXISTING_FILE,
    help="Your private key, the one your credential is bound to.",
)
@click.option(
    "--enc-key",
    "enc_key_path",
    type=EXISTING_FILE,
    help="Your X25519 private key (keygen --x25519), the one your credential's answers "
    "are sealed to.",
)
@click.option(
    "--trust-bundle",
    type=EXISTING_FILE,
    envvar="FIELDGATE_TRUST_BUNDLE",
    help="The federation's signed trust bundle: the nodes' keys (seal to, verify with).",
)
@click.option(
    "--revocations",
    type=EXISTING_FILE,
    envvar="FIELDGATE_REVOCATIONS",
    help="The federation's revocation list.",
)
@click.option(
    "--authority-key",
    type=EXISTING_FILE,
    envvar="FIELDGATE_AUTHORITY_KEY",
    help="The federation authority's public key the trust bundle must be signed by.",
)
@click.option(
    "--warrant-token",
    "warrant_tokens",
    multiple=True,
    type=EXISTING_FILE,
    help="A court-signed warrant attestation to present (repeatable).",
)
@click.option("--subject", help="Your identifier (only without --credential: insecure nodes).")
@click.option("--agency", help="Your agency (only without --credential).")
@click.option(
    "--agency-type",
    type=click.Choice(sorted(AGENCY_TYPES)),
    help="Your agency's type (only without --credential).",
)
@click.option("--purpose", required=True, type=click.Choice(sorted(PURPOSES)))
@click.option("--case", "case_number", default="", help="Your case or incident number.")
@click.option("--role", "roles", multiple=True, help="Your role (repeatable).")
@click.option(
    "--warrant",
    "warrants",
    multiple=True,
    type=EXISTING_FILE,
    help="JSON file describing a criminal judicial warrant (repeatable).",
)
@click.option(
    "--tls-ca",
    type=EXISTING_FILE,
    envvar="FIELDGATE_TLS_CA",
    help="CA certificate(s) of the federation.",
)
@click.option(
    "--tls-cert",
    type=EXISTING_FILE,
    envvar="FIELDGATE_TLS_CERT",
    help="Your client certificate.",
)
@click.option(
    "--tls-key",
    type=EXISTING_FILE,
    envvar="FIELDGATE_TLS_KEY",
    help="Your client certificate's key.",
)
@click.option(
    "--insecure", is_flag=True, help="Plaintext to a development broker (never for real data)."
)
@click.option("--deadline", type=float, default=0.0, help="Seconds to wait for agencies.")
@click.option("--max-hits", type=click.IntRange(0, 100), default=0, help="Hits per agency.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option(
    "--stream",
    is_flag=True,
    help="Show each agency as it answers, with live progress (with --json: JSON lines).",
)
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help=f"A table per agency even above {SUMMARY_ABOVE} agencies (default there: a summary).",
)
@click.option(
    "--show",
    "show",
    multiple=True,
    type=click.Choice(list(SUMMARY_GROUPS)),
    help="In a summary, list the agencies of this group (repeatable).",
)
def search(
    broker_address: str,
    name: str | None,
    surname: str,
    given_name: str,
    dob: str,
    sex: str | None,
    age_min: int | None,
    age_max: int | None,
    born: str | None,
    identifiers: tuple[str, ...],
    credential_path: Path | None,
    key_path: Path | None,
    enc_key_path: Path | None,
    trust_bundle: Path | None,
    revocations: Path | None,
    authority_key: Path | None,
    warrant_tokens: tuple[Path, ...],
    subject: str | None,
    agency: str | None,
    agency_type: str | None,
    purpose: str,
    case_number: str,
    roles: tuple[str, ...],
    warrants: tuple[Path, ...],
    tls_ca: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    insecure: bool,
    deadline: float,
    max_hits: int,
    as_json: bool,
    stream: bool,
    show_all: bool,
    show: tuple[str, ...],
) -> None:
    """Search every agency for a person; each agency's contract decides what you see.

    A signed search (--credential) is sealed to each agency's key and every answer is
    opened and verified against the trust bundle. Exit status: 0 when every agency
    answered; 3 when any answer failed verification; 4 when any agency could not
    answer; 1 when the search was refused.
    """
    if name:
        if surname or given_name:
            raise click.UsageError("give either --name or --surname/--given, not both")
        surname, given_name = split_full_name(name)
    if age_min is not None and age_max is not None and age_min > age_max:
        raise click.BadParameter(f"{age_min} is above --age-max {age_max}", param_hint="--age-min")
    birth_years = parse_birth_years(born) if born is not None else (0, 0)
    identity: Identity | None = None
    answers: AnswerCheck | None = None
    if credential_path is not None:
        if key_path is None:
            raise click.UsageError("--credential needs --key (the private key it is bound to)")
        if subject or agency or agency_type or warrants:
            raise click.UsageError(
                "with --credential your claims come from it: drop --subject, --agency, "
                "--agency-type and --warrant (use --warrant-token for signed warrants)"
            )
        # The token first: a file that is not one is named before anything else is asked.
        credential_token = read_token(credential_path, "--credential", CREDENTIAL_TYPE)
        if enc_key_path is None or trust_bundle is None or revocations is None:
            raise click.UsageError(
                "--credential needs --enc-key (answers are sealed to it), --trust-bundle and "
                "--revocations (the nodes' keys: queries are sealed to them, answers checked)"
            )
        if authority_key is None:
            raise click.UsageError(
                "--credential needs --authority-key: the trust bundle must be signed by the "
                "federation authority you pin"
            )
        identity = Identity(
            credential_token,
            load_private_key(key_path),
            load_enc_private_key(enc_key_path),
        )
        answers = AnswerCheck(
            build_store(TrustConfig(trust_bundle, revocations, authority_key=authority_key))
        )
    elif not (subject and agency and agency_type):
        raise click.UsageError(
            "give --credential and --key, or (for insecure development nodes) "
            "--subject, --agency and --agency-type"
        )
    elif warrant_tokens:
        raise click.UsageError("--warrant-token needs --credential")
    requester = Requester(
        subject=subject or "",
        agency=agency or "",
        agency_type=agency_type or "",
        purpose=purpose,
        case_number=case_number,
        roles=roles,
        warrants=tuple(load_warrant(p) for p in warrants),
    )
    tls: TLSFiles | None = None
    if tls_ca and tls_cert and tls_key:
        tls = TLSFiles(tls_ca, tls_cert, tls_key)
        # The broker's certificate must be a broker's (its role), not a node's or a person's.
        check_server_role(broker_address, tls, "broker")
    elif tls_ca or tls_cert or tls_key:
        raise click.UsageError("mutual TLS needs all of --tls-ca, --tls-cert and --tls-key")
    elif insecure:
        click.secho(
            "WARNING: --insecure: plaintext to the broker; use only with development data.",
            fg="red",
            err=True,
        )
    else:
        raise click.UsageError(
            "give --tls-ca, --tls-cert and --tls-key (or --insecure for a development broker)"
        )
    query: _Query = {
        "surname": surname,
        "given_name": given_name,
        "dob": dob,
        "identifiers": [parse_identifier(i) for i in identifiers],
        "max_hits": max_hits,
        "sex": (sex or "").upper(),
        "age_range": (age_min or 0, age_max or 0),
        "birth_years": birth_years,
        "deadline_seconds": deadline,
        "identity": identity,
        "warrant_tokens": [read_token(p, "--warrant-token", WARRANT_TYPE) for p in warrant_tokens],
    }
    try:
        with SearchClient(broker_address, tls, answers=answers) as client:
            if stream:
                view = _View(show_all, show)
                _exit_for(_show_stream(client.search_stream(requester, **query), as_json, view))
                return
            result = client.search(requester, **query)
    except SearchError as exc:
        # The broker's message is shown, never obeyed by the terminal.
        raise click.ClickException(
            f"search refused by {broker_address}: {terminal_safe(exc.details)}"
        ) from None
    except AudienceError as exc:
        raise click.ClickException(f"search not sent: {terminal_safe(str(exc))}") from None
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        console = Console()
        if _View(show_all, show).summarised(len(result.agencies)):
            console.print(summary_group(result, show))
        else:
            console.print(result_group(result))
        console.print(_summary_line(result))
    _exit_for(result)


@dataclass(frozen=True)
class _View:
    """How a person asked to see a result: every agency, or a summary listing ``show``."""

    show_all: bool
    show: tuple[str, ...]

    def summarised(self, agencies: int) -> bool:
        """True when a search of ``agencies`` is shown as a summary."""
        return agencies > SUMMARY_ABOVE and not self.show_all


def _exit_for(result: SearchResult | None) -> None:
    """Leave with the documented status (module docstring) when some agency did not answer.

    A failed verification (3) wins over any other agency that did not answer (4).
    """
    if result is None:
        return
    statuses = {a.status for a in result.agencies}
    if "failed_verification" in statuses:
        raise SystemExit(EXIT_FAILED_VERIFICATION)
    if any(status != "answered" for status in statuses):
        raise SystemExit(EXIT_SOME_DID_NOT_ANSWER)


def _summary_line(result: SearchResult) -> Text:
    summary = result.to_json()["summary"]
    line = Text(
        f"request {terminal_safe(result.request_id)}: {summary['answered']}/"
        f"{summary['agencies']} agencies answered, {summary['hits']} record(s) disclosed"
        + (f", {summary['not_asked']} not asked" if summary["not_asked"] else "")
    )
    if summary["failed_verification"]:
        line.append(
            f"; {summary['failed_verification']} answer(s) FAILED VERIFICATION "
            "(neither data nor 'no record')",
            style="bold red",
        )
    if summary["not_answering"]:
        line.append(
            f"; {summary['not_answering']} agency(ies) signed 'not answering'", style="yellow"
        )
    if summary["failed"]:
        line.append(
            f"\n{summary['failed']} agency(ies) could not answer: their records are unknown, "
            "not absent",
            style="bold red",
        )
    return line


def _show_stream(
    updates: Iterator[SearchUpdate], as_json: bool, view: _View
) -> SearchResult | None:
    """Show a streamed search as it goes; Ctrl-C cancels it (the iterator cancels the call).

    Returns the finished search (None if the stream ended without its summary).
    """
    request_id = ""
    finished: SearchResult | None = None
    try:
        if as_json:
            for update in updates:
                if isinstance(update, SearchStarted):
                    request_id = update.request_id
                if isinstance(update, SearchFinished):
                    finished = update.result
                click.echo(json.dumps(update.to_json(), ensure_ascii=False))
            return finished
        console = Console()
        waiting: dict[str, str] = {}
        summarised = False
        with Live("asking the agencies…", console=console, auto_refresh=False) as live:
            for update in updates:
                if isinstance(update, SearchStarted):
                    request_id = update.request_id
                    waiting = {a.node_id: a.agency_name for a in update.agencies}
                    summarised = view.summarised(len(waiting))
                elif isinstance(update, AgencyEnded):
                    waiting.pop(update.agency.node_id, None)
                    if update.agency.hits or not summarised:
                        # Printed above the live line, so it stays once the search is over.
                        live.console.print(agency_table(update.agency))
                live.update(progress_text(update.progress, list(waiting.values())), refresh=True)
                if isinstance(update, SearchFinished):
                    finished = update.result
        if finished is not None:
            if summarised:
                console.print(summary_group(finished, view.show, hits=False))
            elif finished.not_asked:
                console.print(not_asked_table(finished))
            console.print(_summary_line(finished))
        return finished
    except KeyboardInterrupt:
        which = f" (request {request_id})" if request_id else ""
        click.echo(f"search cancelled{which}", err=True)
        raise SystemExit(130) from None
