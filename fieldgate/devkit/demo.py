"""``fieldgate demo``: three agencies, three requesters, one search, side by side.

The demo starts on loopback a broker and three agency nodes, each with its own
SQLite database of synthetic records and its own contract:

* King County Sheriff's Office — the **sanctuary county** contract;
* Seattle Police Department — the **pointer-only** contract;
* Pierce County Sheriff's Department — the **permissive** contract;

then runs the same search for one person as a detective, a civil immigration
officer and a federal criminal investigator holding a criminal judicial
warrant, and prints what each one saw from each agency.

It fails loudly (:class:`~fieldgate.devkit.demo_checks.DemoFailed`) rather than
show empty tables: when a node is not SERVING (no usable contract, say), when
the detective is shown no record, or when an audit log does not verify.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import signal
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID

from fieldgate.client.answer_check import AnswerCheck
from fieldgate.client.broker_client import AsyncSearchClient, Requester, Warrant
from fieldgate.client.render import comparison_table
from fieldgate.client.results import SearchResult
from fieldgate.core.tls import DevPKI, TLSFiles
from fieldgate.devkit.demo_broker import (
    BrokerLog,
    BrokerSaw,
    BrokerTap,
    broker_saw,
    forgery_caught,
    secrets_of,
)
from fieldgate.devkit.demo_checks import (
    DemoFailed,
    check_audit,
    check_disclosed,
    check_serving,
    records_disclosed,
)
from fieldgate.devkit.dev_trust import DevTrust
from fieldgate.devkit.local_federation import (
    BROKER_NAME,
    LocalFederation,
    NodeSpec,
    import_records,
    start_federation,
)
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.node.audit.verify import VerifyReport, verify_log
from fieldgate.policy.shipped import shipped_contract
from fieldgate.trust.config import build_store
from fieldgate.trust.tokens import Identity

CONTRACT_OF = {"kcso": "sanctuary_county", "spd": "pointer_only", "pcso": "permissive"}
"""Which shipped contract each demo agency runs."""


@dataclass(frozen=True)
class Persona:
    """A requester the demo searches as."""

    label: str
    requester: Requester


def demo_personas(today: dt.date) -> list[Persona]:
    """The three requesters of the demo."""
    warrant = Warrant(
        id="2:26-mj-00417",
        court="U.S. District Court, W.D. Washington",
        subject_surname=DEMO_SUBJECT.surname,
        subject_given_name=DEMO_SUBJECT.given_name,
        subject_dob=DEMO_SUBJECT.dob,
        # The warrant also names citizenship: the sanctuary contract still withholds it.
        covers=("location", "custody_status", "biometric", "contact", "citizenship"),
        expires=(today + dt.timedelta(days=30)).isoformat(),
    )
    return [
        Persona(
            "Detective\n(criminal investigation)",
            Requester(
                subject="det-4711",
                agency="bellevue-pd",
                agency_type="local_law_enforcement",
                purpose="criminal_investigation",
                case_number="BPD-2026-018233",
                roles=("detective",),
            ),
        ),
        Persona(
            "Immigration officer\n(civil immigration)",
            Requester(
                subject="ero-0917",
                agency="ice-ero-seattle",
                agency_type="civil_immigration",
                purpose="civil_immigration",
                case_number="A-2026-55310",
                roles=("deportation_officer",),
            ),
        ),
        Persona(
            "Federal investigator\n(criminal, with warrant)",
            Requester(
                subject="sa-2231",
                agency="fbi-seattle",
                agency_type="federal_law_enforcement",
                purpose="criminal_investigation",
                case_number="FBI-SE-2026-0042",
                roles=("special_agent",),
                warrants=(warrant,),
            ),
        ),
    ]


@dataclass(frozen=True)
class SignedPersona:
    """A persona's credential, key and signed warrants, as a real client holds them."""

    persona: Persona
    identity: Identity
    warrant_tokens: tuple[str, ...]


def sign_personas(personas: list[Persona], kit: DevTrust) -> list[SignedPersona]:
    """Give each persona's agency an issuer, and each persona a credential and warrants.

    The credential allows exactly the persona's purpose; each warrant becomes a
    court-signed attestation.
    """
    signed: list[SignedPersona] = []
    for persona in personas:
        r = persona.requester
        if r.agency not in kit.issuers:
            kit.add_issuer(r.agency, r.agency_type)
        identity = kit.identity(r.agency, r.subject, [r.purpose], roles=r.roles)
        tokens = tuple(
            kit.warrant(
                w.id, w.subject_surname, w.subject_given_name, w.subject_dob, w.covers,
                dt.date.fromisoformat(w.expires), record_kinds=w.record_kinds,
                applicant_agency=r.agency, case_number=r.case_number,
            )
            for w in r.warrants
        )  # fmt: skip
        signed.append(SignedPersona(persona, identity, tokens))
    kit.write()
    return signed


def prepare_nodes(
    workdir: Path,
    records_per_agency: int,
    seed: int,
    console: Console,
    contracts: Mapping[str, Path] | None = None,
) -> list[NodeSpec]:
    """Generate each agency's records, import them into its own database.

    ``contracts`` replaces the shipped contract of the agencies it names (a
    test gives a node a broken one).
    """
    specs: list[NodeSpec] = []
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as progress:
        for agency in DEMO_AGENCIES:
            records = generate_agency_records(agency, count=records_per_agency, seed=seed)
            path = workdir / f"{agency.node_id}.jsonl"
            write_jsonl(records, path)
            contract_name = CONTRACT_OF[agency.node_id]
            contract = shipped_contract(contract_name)
            if contracts and agency.node_id in contracts:
                contract = contracts[agency.node_id]
                contract_name = str(contract)
            spec = NodeSpec(
                node_id=agency.node_id,
                agency_name=agency.name,
                contract=contract,
                records=path,
                unit=agency.unit,
                phone=agency.phone,
            )
            task = progress.add_task(f"loading {agency.name}", total=path.stat().st_size)

            def advance(done: int, total: int, task: TaskID = task) -> None:
                progress.update(task, completed=done, total=total)

            imported = import_records(spec, workdir, advance)
            console.print(
                f"  {agency.name}: {imported:,} records, contract [bold]{contract_name}[/]"
            )
            specs.append(spec)
    return specs


def answer_check(kit: DevTrust) -> AnswerCheck:
    """The client's check of every answer against the node keys in ``kit``'s bundle."""
    return AnswerCheck(build_store(kit.config()))


async def run_searches(
    federation: LocalFederation,
    personas: list[SignedPersona],
    tls: TLSFiles,
    answers: AnswerCheck | None = None,
    address: str | None = None,
) -> list[SearchResult]:
    """Run the demo search once per persona through the broker, signed, over mTLS.

    With ``answers`` every agency's signed answer is verified. ``address``: the
    broker's (default: the federation's own).
    """
    client = AsyncSearchClient(address or federation.broker_address, tls, answers=answers)
    try:
        return [
            await client.search(
                p.persona.requester,
                surname=DEMO_SUBJECT.surname,
                given_name=DEMO_SUBJECT.given_name,
                dob=DEMO_SUBJECT.dob,
                identity=p.identity,
                warrant_tokens=p.warrant_tokens,
            )
            for p in personas
        ]
    finally:
        await client.close()


def answers_summary(results: list[SearchResult]) -> str:
    """One line: how many answers the client opened and verified."""
    statuses = [a.status for r in results for a in r.agencies]
    verified = statuses.count("answered")
    failed = statuses.count("failed_verification")
    return (
        f"answers: {verified} sealed to the requester, signed by their node and verified by "
        f"the client (node, search, time); {failed} failed verification"
    )


def broker_summary(saw: BrokerSaw) -> str:
    """One line: what the broker held, and that the person was not in it."""
    held = (
        f"{saw.received_bytes:,} bytes received, {saw.relayed_bytes:,} relayed, "
        f"{saw.log_lines} log lines, {saw.log_rows} search-log rows"
    )
    if saw.found:
        return f"broker: {held}: FOUND {len(saw.found)} of the person's values"
    return (
        f"broker: saw who asked, why and which agencies; in {held}: no name, no date of "
        f"birth, none of the {saw.secrets_checked} values searched for or released (all sealed)"
    )


def forgery_summary(caught: bool, agency: str) -> str:
    """One line: the tampering broker's forged answer, and whether the client caught it."""
    if caught:
        return (
            f"tampering broker: forged {agency}'s answer (its own key, sealed to the detective): "
            "the client showed FAILED VERIFICATION, no data and not 'no record'"
        )
    return f"tampering broker: the forged answer of {agency} was NOT caught"


async def _broker_checks(
    federation: LocalFederation,
    persona: SignedPersona,
    pki: DevPKI,
    answers: AnswerCheck,
    tap: BrokerTap,
) -> bool:
    """Search as ``persona`` through a tampering broker; whether the forgery was caught."""
    tap.forge = DEMO_AGENCIES[0].node_id
    client_log = logging.getLogger("fieldgate.client")
    level = client_log.level
    client_log.setLevel(logging.ERROR)  # the demo says it in its own words
    try:
        (forged,) = await run_searches(
            federation, [persona], pki.files("investigator"), answers, tap.address
        )
    finally:
        tap.forge = ""
        client_log.setLevel(level)
    return forgery_caught(forged, DEMO_AGENCIES[0].node_id)


def audit_summary(reports: list[VerifyReport]) -> str:
    """One line: how many audit entries the nodes wrote, and whether every log verifies."""
    entries = sum(r.entries for r in reports)
    if all(r.ok for r in reports):
        return (
            f"audit: {entries} entries written at {len(reports)} nodes before any answer left, "
            "hash chains and signed checkpoints verified"
        )
    bad = ", ".join(r.node_id for r in reports if not r.ok)
    return f"audit: {entries} entries written; VERIFICATION FAILED for {bad}"


async def _run_federation(
    console: Console,
    personas: list[Persona],
    records_per_agency: int,
    seed: int,
    interrupted: asyncio.Event,
    contracts: Mapping[str, Path] | None,
) -> tuple[list[SearchResult], list[VerifyReport], dict[str, object]] | None:
    """Load, start, check, search, stop; None if interrupted on the way.

    Raises:
        DemoFailed: a node does not report SERVING.
    """
    with tempfile.TemporaryDirectory(prefix="fieldgate-demo-") as tmp:
        workdir = Path(tmp)
        specs = prepare_nodes(workdir, records_per_agency, seed, console, contracts)
        kit = DevTrust(workdir / "trust")
        for spec in specs:
            kit.add_node(spec.node_id)  # each node signs its answers; the bundle lists its key
        signed = sign_personas(personas, kit)
        pki = DevPKI.create(
            workdir / "pki", [BROKER_NAME, *(s.node_id for s in specs), "investigator"]
        )
        console.print(
            "  Each requester holds a credential from their agency, bound to their own key,\n"
            "  and signs every search, addressed to the agencies it is for and sealed to each\n"
            "  of them (the broker cannot read whom it is about); the court signed the\n"
            "  warrant for the requester's own case; each node signs its answer and seals it\n"
            "  to the requester, who verifies every one; every hop is mutual TLS."
        )
        if interrupted.is_set():
            return None
        # ops: each node's real health service, which check_serving asks.
        federation = await start_federation(
            specs, workdir, trust=kit.config(), pki=pki, audit=True, ops=True
        )
        completed = False
        # What the broker's operator has: a tap with the broker's own certificate.
        tap = BrokerTap(
            federation.broker_address, pki.files("investigator"), pki.files(BROKER_NAME)
        )
        broker_log = BrokerLog()
        broker_logger = logging.getLogger("fieldgate.broker")
        # Every line the broker writes, INFO included, is collected (and not printed).
        saved = broker_logger.level, broker_logger.propagate
        broker_logger.setLevel(logging.INFO)
        broker_logger.propagate = False
        broker_logger.addHandler(broker_log)
        try:
            await tap.start()
            await check_serving(federation.nodes)
            console.print(
                f"\nbroker on {federation.broker_address}; nodes on "
                + ", ".join(f"{n} {r.address}" for n, r in federation.nodes.items())
            )
            console.print(
                f"\nSearching for [bold]{DEMO_SUBJECT.surname}, {DEMO_SUBJECT.given_name}[/] "
                f"born {DEMO_SUBJECT.dob} as three different requesters...\n"
            )
            searches = asyncio.ensure_future(
                run_searches(
                    federation, signed, pki.files("investigator"), answer_check(kit), tap.address
                )
            )
            stop = asyncio.ensure_future(interrupted.wait())
            await asyncio.wait({searches, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if not searches.done():
                searches.cancel()
                await asyncio.gather(searches, return_exceptions=True)
                return None
            completed = True
            results = searches.result()
            console.print(answers_summary(results))
            subject = (DEMO_SUBJECT.surname, DEMO_SUBJECT.given_name, DEMO_SUBJECT.dob)
            saw = broker_saw(
                tap,
                broker_log,
                workdir / "broker-searches.sqlite",  # local_federation's search log
                secrets_of(subject, results),
            )
            console.print(broker_summary(saw))
            caught = await _broker_checks(federation, signed[0], pki, answer_check(kit), tap)
            console.print(forgery_summary(caught, DEMO_AGENCIES[0].name))
            if saw.found or not caught:
                raise DemoFailed(
                    "the broker held the person's data"
                    if saw.found
                    else "a forged answer was not caught"
                )
        finally:
            broker_logger.removeHandler(broker_log)
            broker_logger.setLevel(saved[0])
            broker_logger.propagate = saved[1]
            await tap.stop()
            await federation.stop()
        reports = [verify_log(workdir / f"{s.node_id}.audit.sqlite") for s in specs]
        if completed:
            console.print(audit_summary(reports))
        broker: dict[str, object] = {
            "bytes_received": saw.received_bytes,
            "bytes_relayed": saw.relayed_bytes,
            "log_lines": saw.log_lines,
            "values_checked": saw.secrets_checked,
            "values_found": len(saw.found),
            "forged_answer_caught": caught,
        }
        return results, reports, broker


async def run_demo(
    console: Console,
    *,
    records_per_agency: int = 3000,
    seed: int = 2026,
    contracts: Mapping[str, Path] | None = None,
) -> dict[str, object] | None:
    """The whole demo; every server is stopped on the way out, Ctrl-C included.

    Returns a summary for ``fieldgate demo --json`` (see :func:`demo_summary`),
    or None when interrupted. ``contracts`` replaces shipped contracts by node id.

    Raises:
        DemoFailed: a node is not SERVING, the detective was shown no record,
            or an audit log does not verify.
    """
    console.print(
        Panel.fit(
            "Three agencies share records through Fieldgate. Each keeps its records in its "
            "own database and decides, field by field, what each requester may see.\n\n"
            "Requesters: a Bellevue PD detective on a criminal case; an ICE deportation "
            "officer on a civil immigration case; an FBI special agent on a criminal case "
            "holding a federal criminal judicial warrant that covers the subject's location, "
            "custody, photo, contact and citizenship.",
            title="Fieldgate demo",
        )
    )
    personas = demo_personas(dt.date.today())
    # Ctrl-C (or SIGTERM) only sets a flag: the demo then stops its servers
    # itself, rather than having a cancellation land inside a server's start.
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted.set)
    try:
        outcome = await _run_federation(
            console, personas, records_per_agency, seed, interrupted, contracts
        )
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if outcome is None:
        console.print("Interrupted: every server stopped, temporary databases removed.")
        return None
    results, reports, broker = outcome
    labels = [p.label for p in personas]
    for agency in DEMO_AGENCIES:
        title = f"{agency.name} — {CONTRACT_OF[agency.node_id]} contract"
        console.print(comparison_table(agency.name, labels, results, title))
    console.print(
        Panel(
            "— withheld (the requester cannot tell it exists)   (city)/(last4) masked\n"
            "Sanctuary county: detectives get identity, description, criminal history; the "
            "immigration officer gets nothing at all — the same answer as for a person the "
            "county does not hold; the warrant unlocks only what it covers, and citizenship "
            "never leaves.\n"
            "Pointer-only city: criminal investigators learn only whom to call.\n"
            "Permissive county: every sworn officer, immigration included, gets everything but "
            "citizenship — the all-or-nothing exchange Fieldgate lets an agency leave behind.",
            title="How to read this",
        )
    )
    # demo_personas lists the detective first; every shipped contract discloses to them.
    check_disclosed(personas[0].label, results[0])
    check_audit(reports)
    summary = demo_summary(personas, results, reports)
    summary["broker"] = broker
    return summary


def demo_summary(
    personas: list[Persona], results: list[SearchResult], reports: list[VerifyReport]
) -> dict[str, object]:
    """What each requester was shown per agency, and the audit outcome, for ``--json``."""
    return {
        "requesters": [
            {
                "requester": p.requester.subject,
                "agency": p.requester.agency,
                "purpose": p.requester.purpose,
                "records_disclosed": records_disclosed(r),
                "agencies": [
                    {
                        "node_id": a.node_id,
                        "status": a.status,
                        "records": len(a.hits),
                        "fields_released": sum(len(h.fields) for h in a.hits),
                    }
                    for a in r.agencies
                ],
            }
            for p, r in zip(personas, results, strict=True)
        ],
        "audit": {
            "entries": sum(r.entries for r in reports),
            "verified": all(r.ok for r in reports),
        },
    }
