"""``fieldgate contract diff OLD NEW --audit``: replay a node's audited searches, two contracts.

Every ``search`` entry of the node's audit log since a date is read back
(:func:`fieldgate.authoring.explain_audit.explain_entry`): who asked (subject,
agency, agency type, purpose, credential id, the warrants the node verified)
and, per matching record, what the answer actually carried. Each matching
record is looked up in the node's record store as it is now and decided again
under OLD and NEW through the node's own path
(:func:`fieldgate.policy.evaluate.evaluate_record`), with warrants judged as on the day of the
search. Per requester — and per agency type and purpose — the report lists
the fields (by sensitivity class) the requester would **lose** or **gain**
under NEW compared with OLD, on how many queries and records, and whether the
requester actually **used** that access: for a loss, received the field in
the audited answer at a level NEW would no longer give (whole where NEW masks,
anything where NEW withholds); for a gain or a change of mask, received it at
all.

What the replay cannot know, it says:

- a record the store no longer holds (purged, deleted) is **not replayable**,
  counted and listed, never silently skipped;
- a record that lost fields since the search (retention blanks fields) is
  replayed as it is now and counted as **changed since**;
- the log never names the person a warrant covers (by design); instead each
  matching record's entry lists the ids of the warrants that applied to it
  (``warrants_applied``), and the contracts are told exactly that. Entries
  written before that key was logged cannot be re-checked: by default the
  replay assumes each warrant named the person of every record its query
  matched (``assume-named``: expiry and record kinds are still checked, as on
  the day); ``never`` assumes no warrant applied. Queries with warrants are
  counted per requester, and so are the records replayed with logged and
  with guessed warrant applicability;
- how far the replay of OLD reproduces what was audited is counted: when the
  node ran OLD at the time, a difference points at a changed record or the
  warrant assumption.

Gains for a requester in an immigration context (agency type or purpose
``civil_immigration``) are a widening, flagged as in the persona diff.

OLD and NEW each come with their catalog (``--old-catalog``/``--new-catalog``,
both the node's by default): a catalog change is replayed like a contract
change, and any gain of a field the new catalog adds or moves to another class
is flagged too, whoever gains it (:mod:`fieldgate.policy.catalog_review`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fieldgate.authoring.diff import EXISTENCE, compare_verdicts, outcome_rank
from fieldgate.authoring.explain_audit import EntryExplanation, RecordExplanation, explain_entry
from fieldgate.authoring.session import ContractSession
from fieldgate.core.claims import LegalAuthority, RequesterClaims
from fieldgate.core.errors import FieldgateError
from fieldgate.node.audit.entries import SEARCH
from fieldgate.node.audit.reports import Period
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit.verify import VerifyReport, verify_log
from fieldgate.node.store import RecordStore
from fieldgate.policy.catalog_review import catalog_changes
from fieldgate.policy.evaluate import evaluate_record
from fieldgate.policy.records import Record
from fieldgate.policy.verdict import RecordVerdict

WarrantMode = Literal["assume-named", "never"]
WARRANT_MODES: tuple[WarrantMode, ...] = ("assume-named", "never")
"""How warrants are replayed (see the module docstring)."""

Change = Literal["lost", "gained", "changed"]
_CHANGE_OF: dict[str, Change] = {"narrower": "lost", "wider": "gained", "changed": "changed"}

NOT_HELD = "record no longer held (purged or deleted since the search)"
BAD_REQUESTER = "the entry's requester cannot be read back"


class AuditReplayError(FieldgateError):
    """The audit log cannot be replayed: unreadable, or its chain fails verification."""


def verified_chain(path: Path, public_key: Ed25519PublicKey | None = None) -> VerifyReport:
    """Verify the audit log at ``path``; refuse it, naming why, unless it is intact.

    Raises:
        AuditReplayError: the file is missing or unreadable, or verification fails.
    """
    if not path.is_file():
        raise AuditReplayError(f"{path}: no such audit database")
    report = verify_log(path, public_key=public_key)
    if report.ok:
        return report
    first = report.first_entry_problem() or report.problems[0]
    where = f" at entry {first.seq}" if first.seq is not None else ""
    more = len(report.problems) - 1
    raise AuditReplayError(
        f"{path}: the audit log fails verification{where} ({first.kind}: {first.message})"
        + (f" and {more} more problem(s)" if more > 0 else "")
        + "; refusing to replay a log that may have been altered "
        "(see `fieldgate audit verify`)"
    )


@dataclass(frozen=True, order=True)
class AuditedRequester:
    """Who asked, as the audit entry names them."""

    subject: str
    agency: str
    agency_type: str
    purpose: str
    credential_id: str

    @property
    def immigration_context(self) -> bool:
        """True when the agency type or the purpose is civil immigration."""
        return "civil_immigration" in (self.agency_type, self.purpose)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready identity."""
        return {
            "subject": self.subject,
            "agency": self.agency,
            "agency_type": self.agency_type,
            "purpose": self.purpose,
            "credential_id": self.credential_id,
            "immigration_context": self.immigration_context,
        }


@dataclass
class FieldTally:
    """How often one field moved one way for a requester (or a group of them)."""

    queries: set[int] = field(default_factory=set)
    records: int = 0
    used_queries: set[int] = field(default_factory=set)
    used_records: int = 0
    requesters: set[AuditedRequester] = field(default_factory=set)
    used_by: set[AuditedRequester] = field(default_factory=set)

    @property
    def used(self) -> bool:
        """Whether the requester received the field in any audited answer counted here."""
        return self.used_records > 0


TallyKey = tuple[Change, str, str, str, str]
"""(change, class, field, old, new)."""


@dataclass
class Impact:
    """What NEW changes for one requester, or for one agency type and purpose."""

    queries: set[int] = field(default_factory=set)
    records: int = 0
    not_replayable: int = 0
    changed_since: int = 0
    warrant_queries: set[int] = field(default_factory=set)
    warrants_logged: int = 0
    """Records replayed with the warrant applicability their entry logged."""
    warrants_guessed: int = 0
    """Records replayed with warrants presented but their applicability not
    logged (an older entry): guessed by the ``--warrants`` mode."""
    requesters: set[AuditedRequester] = field(default_factory=set)
    tallies: dict[TallyKey, FieldTally] = field(default_factory=dict)

    def count(self, change: Change) -> int:
        """How many distinct fields move this way."""
        return len({(cls, name) for (c, cls, name, _, _) in self.tallies if c == change})

    def classes(self, change: Change) -> dict[str, list[tuple[str, str, str, FieldTally]]]:
        """Class → [(field, old, new, tally)] for one kind of change, sorted."""
        grouped: dict[str, list[tuple[str, str, str, FieldTally]]] = {}
        for (c, cls, name, old, new), tally in sorted(self.tallies.items()):
            if c == change:
                grouped.setdefault(cls, []).append((name, old, new, tally))
        return grouped

    def to_json(self) -> dict[str, Any]:
        """Counts and the changes by kind and class."""
        return {
            "queries": len(self.queries),
            "records": self.records,
            "not_replayable": self.not_replayable,
            "changed_since": self.changed_since,
            "queries_with_warrants": len(self.warrant_queries),
            "warrant_applicability": {
                "logged": self.warrants_logged,
                "guessed": self.warrants_guessed,
            },
            **{
                change: {
                    cls: [
                        {
                            "field": name,
                            "old": old,
                            "new": new,
                            "queries": len(t.queries),
                            "records": t.records,
                            "used": t.used,
                            "used_queries": len(t.used_queries),
                            "used_records": t.used_records,
                            "requesters": len(t.requesters),
                            "requesters_who_used": len(t.used_by),
                        }
                        for name, old, new, t in rows
                    ]
                    for cls, rows in self.classes(change).items()
                }
                for change in ("lost", "gained", "changed")
            },
        }


@dataclass(frozen=True)
class Unreplayable:
    """One matching record of one audited query that could not be decided again."""

    seq: int
    request_id: str
    record_id: str
    reason: str


@dataclass
class AuditDiffReport:
    """The impact of NEW over OLD on the searches the node actually answered."""

    old: str
    new: str
    old_version: str
    new_version: str
    audit: str
    node_id: str
    since: dt.date | None
    warrants: WarrantMode
    chain: VerifyReport
    requesters: dict[AuditedRequester, Impact] = field(default_factory=dict)
    groups: dict[tuple[str, str], Impact] = field(default_factory=dict)
    unreplayable: list[Unreplayable] = field(default_factory=list)
    queries: int = 0
    records: int = 0
    changed_since: int = 0
    warrants_logged: int = 0
    warrants_guessed: int = 0
    old_agrees: int = 0
    old_differs: int = 0
    audited_versions: Counter[str] = field(default_factory=Counter)
    catalog_changes: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Fields NEW's catalog adds or moves to another class: field → (old class, new class)."""

    def catalog_gains(self) -> list[str]:
        """Fields a catalog change adds that some audited requester would gain."""
        gained = {
            key[2]
            for impact in self.requesters.values()
            for key in impact.tallies
            if key[0] == "gained"
        }
        return sorted(gained & set(self.catalog_changes))

    def flagged_requesters(self) -> list[AuditedRequester]:
        """Immigration-context requesters who would gain anything."""
        return [
            r
            for r, impact in sorted(self.requesters.items())
            if r.immigration_context and impact.count("gained")
        ]

    @property
    def flagged(self) -> bool:
        """True when NEW would widen release to a civil immigration requester, or a catalog
        change would release a field to anyone."""
        return bool(self.flagged_requesters()) or bool(self.catalog_gains())

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready object."""
        flagged = set(self.flagged_requesters())
        return {
            "schema": "fieldgate.contract-diff-audit/v1",
            "old": self.old,
            "new": self.new,
            "old_version": self.old_version,
            "new_version": self.new_version,
            "audit": self.audit,
            "node_id": self.node_id,
            "since": self.since.isoformat() if self.since else None,
            "warrants": self.warrants,
            "chain": {
                "verified": self.chain.ok,
                "entries": self.chain.entries,
                "key_source": self.chain.key_source,
                "uncovered_entries": self.chain.uncovered,
            },
            "queries": self.queries,
            "records": self.records,
            "changed_since": self.changed_since,
            "warrant_applicability": {
                "logged": self.warrants_logged,
                "guessed": self.warrants_guessed,
            },
            "not_replayable": {
                "records": len(self.unreplayable),
                "queries": len({u.seq for u in self.unreplayable}),
                "items": [u.__dict__ for u in self.unreplayable],
            },
            "old_reproduces_audit": {
                "agree": self.old_agrees,
                "differ": self.old_differs,
                "audited_contract_versions": dict(self.audited_versions),
            },
            "catalog_changes": {
                name: {"old_class": old, "new_class": new}
                for name, (old, new) in sorted(self.catalog_changes.items())
            },
            "catalog_gains": self.catalog_gains(),
            "flagged": self.flagged,
            "requesters": [
                {**r.to_json(), "flagged": r in flagged, **impact.to_json()}
                for r, impact in sorted(self.requesters.items())
            ],
            "by_agency_type_purpose": [
                {
                    "agency_type": agency_type,
                    "purpose": purpose,
                    "requesters": len(impact.requesters),
                    **impact.to_json(),
                }
                for (agency_type, purpose), impact in sorted(self.groups.items())
            ],
        }


def _requester(data: dict[str, Any]) -> AuditedRequester:
    return AuditedRequester(
        str(data.get("subject", "")),
        str(data.get("agency", "")),
        str(data.get("agency_type", "")),
        str(data.get("purpose", "")),
        str(data.get("credential_id", "")),
    )


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list, not {value!r}")
    return tuple(str(v) for v in value)


def claims_for_record(
    requester: dict[str, Any], record: Record, warrants: WarrantMode
) -> RequesterClaims:
    """The claims an audited requester searched with, as the contract saw them for ``record``.

    The log keeps each warrant's kind, id, court, coverage and expiry but not
    whom it names: with ``assume-named`` it is rebuilt as naming ``record``'s
    person, with ``never`` as naming nobody. (When the entry logged which
    warrants applied, the replay passes those ids to the contract instead and
    the mode does not matter.)

    Raises:
        ValueError: the logged requester is malformed.
    """
    names = record.names()
    dob = record.dob()
    named = warrants == "assume-named" and bool(names) and dob is not None
    authority = tuple(
        LegalAuthority(
            kind=str(a["kind"]),
            id=str(a["id"]),
            court=str(a["court"]),
            subject_surname=names[0].surname if named else "",
            subject_given_name=names[0].given_name if named else "",
            subject_dob=dob if named and dob is not None else dt.date.min,
            covers=_strings(a.get("covers", [])),
            record_kinds=_strings(a.get("record_kinds", [])),
            expires=dt.date.fromisoformat(str(a["expires"])[:10]),
        )
        for a in requester.get("authority", [])
    )
    for key in ("subject", "agency", "agency_type", "purpose"):
        if not isinstance(requester.get(key), str) or not requester[key]:
            raise ValueError(f"requester.{key} is missing")
    return RequesterClaims(
        subject=requester["subject"],
        agency=requester["agency"],
        agency_type=requester["agency_type"],
        roles=_strings(requester.get("roles", [])),
        purpose=requester["purpose"],
        case_number=str(requester.get("case_number", "")),
        authority=authority,
        credential_id=str(requester.get("credential_id", "")),
        issuer=str(requester.get("issuer", "")),
        allowed_purposes=_strings(requester.get("allowed_purposes", [])),
    )


def _decided_on(entry: EntryExplanation, decided_at: object) -> dt.date:
    """The day the search was decided (UTC): warrants are judged as on that day."""
    for text in (decided_at, entry.time):
        if isinstance(text, str):
            try:
                return dt.datetime.fromisoformat(text).astimezone(dt.UTC).date()
            except ValueError:
                continue
    return dt.date.today()


def _labels(disclose: bool, fields: Iterable[tuple[str, str, str]]) -> dict[str, str]:
    """Field → outcome label (``masked:MASK``), and the record's existence."""
    labels = {EXISTENCE: "disclosed" if disclose else "withheld"}
    for name, outcome, mask in fields:
        labels[name] = f"masked:{mask}" if outcome == "masked" else outcome
    return labels


def _audited_labels(audited: RecordExplanation) -> dict[str, str]:
    return _labels(audited.disclose, ((f["name"], f["outcome"], f["mask"]) for f in audited.fields))


def _replayed_labels(verdict: RecordVerdict) -> dict[str, str]:
    return _labels(verdict.disclose, ((f.name, f.outcome, f.mask) for f in verdict.fields))


def _used(change: Change, received: str, new: str) -> bool:
    """Whether the audited answer used the access that changes.

    A loss was used when the requester received the field at a level NEW no
    longer gives (whole where NEW masks, anything where NEW withholds); a gain
    or a change of mask, when the requester received the field at all.
    """
    if change == "lost":
        return outcome_rank(received) > outcome_rank(new)
    return received != "withheld"


class _Replay:
    """One replay run: the two contracts, the store and the report being filled."""

    def __init__(
        self,
        report: AuditDiffReport,
        old: ContractSession,
        new: ContractSession,
        store: RecordStore,
    ) -> None:
        self.report = report
        self.old = old
        self.new = new
        self.store = store

    def entry(self, entry: EntryExplanation, decided_at: object) -> None:
        report = self.report
        who = _requester(entry.requester)
        impacts = (
            report.requesters.setdefault(who, Impact()),
            report.groups.setdefault((who.agency_type, who.purpose), Impact()),
        )
        report.queries += 1
        report.audited_versions[entry.contract_version] += 1
        for impact in impacts:
            impact.queries.add(entry.seq)
            impact.requesters.add(who)
            if entry.requester.get("authority"):
                impact.warrant_queries.add(entry.seq)
        today = _decided_on(entry, decided_at)
        for audited in entry.records:
            record = self.store.get(audited.record_id)
            reason = NOT_HELD if record is None else ""
            claims = None
            applied = audited.warrants_applied
            if record is not None:
                # Logged applicability is exact: the warrants name nobody and the
                # contract is told which applied, as the node told it.
                mode: WarrantMode = "never" if applied is not None else report.warrants
                try:
                    claims = claims_for_record(entry.requester, record, mode)
                except (KeyError, TypeError, ValueError) as exc:
                    reason = f"{BAD_REQUESTER}: {exc}"
            if record is None or claims is None:
                report.unreplayable.append(
                    Unreplayable(entry.seq, entry.request_id, audited.record_id, reason)
                )
                for impact in impacts:
                    impact.not_replayable += 1
                continue
            logged, guessed = applied is not None, applied is None and bool(claims.authority)
            report.warrants_logged += logged
            report.warrants_guessed += guessed
            for impact in impacts:
                impact.warrants_logged += logged
                impact.warrants_guessed += guessed
            self.record(entry.seq, who, impacts, audited, record, claims, today)

    def record(
        self,
        seq: int,
        who: AuditedRequester,
        impacts: tuple[Impact, ...],
        audited: RecordExplanation,
        record: Record,
        claims: RequesterClaims,
        today: dt.date,
    ) -> None:
        report = self.report
        old, new = (
            evaluate_record(
                s.engine,
                claims,
                record,
                s.catalog,
                node_id=report.node_id,
                today=today,
                applied=audited.warrants_applied,
            ).verdict
            for s in (self.old, self.new)
        )
        report.records += 1
        audited_labels = _audited_labels(audited)
        if _replayed_labels(old) == audited_labels:
            report.old_agrees += 1
        else:
            report.old_differs += 1
        changed = bool(set(audited_labels) - set(_replayed_labels(old)))
        if changed:
            report.changed_since += 1
        changes = compare_verdicts(who.subject, record, old, new)
        for impact in impacts:
            impact.records += 1
            impact.changed_since += changed
            for c in changes:
                change = _CHANGE_OF[c.direction]
                key = (change, c.sensitivity, c.field, c.old, c.new)
                tally = impact.tallies.setdefault(key, FieldTally())
                tally.queries.add(seq)
                tally.records += 1
                tally.requesters.add(who)
                got = audited_labels.get(c.field, "withheld") if audited.sent else "withheld"
                if _used(change, got, c.new):
                    tally.used_queries.add(seq)
                    tally.used_records += 1
                    tally.used_by.add(who)


def replay_audit(
    reader: AuditReader,
    store: RecordStore,
    old: ContractSession,
    new: ContractSession,
    *,
    chain: VerifyReport,
    since: dt.date | None = None,
    node_id: str | None = None,
    warrants: WarrantMode = "assume-named",
    progress: Callable[[int, int], None] | None = None,
) -> AuditDiffReport:
    """Replay every audited search since ``since`` under OLD and NEW.

    Args:
        reader: the node's audit log, already verified (``chain``: see
            :func:`verified_chain`).
        store: the node's record store, looked up for every matching record.
        old: the contract in force (or the one to compare from).
        new: the proposed contract.
        chain: the verification report of ``reader``'s log.
        since: first day (UTC) of searches to replay; None replays them all.
        node_id: ``input.record.agency``; default the node id the log names.
        warrants: how warrants are replayed where the entry did not log which
            applied (:data:`WARRANT_MODES`).
        progress: called with (entries done, entries in all) after each entry.
    """
    report = AuditDiffReport(
        old=str(old.path),
        new=str(new.path),
        old_version=old.version,
        new_version=new.version,
        audit=str(reader.path),
        node_id=node_id or reader.meta().get("node_id", "") or old.node_id,
        since=since,
        warrants=warrants,
        chain=chain,
        catalog_changes=catalog_changes(old.catalog.classes(), new.catalog.classes()),
    )
    period = Period(since=since)
    rows = [row for row in reader.entries(SEARCH) if period.contains(row.time)]
    replay = _Replay(report, old, new, store)
    for done, row in enumerate(rows, start=1):
        data = row.document().get("data", {})
        decided_at = data.get("decided_at") if isinstance(data, dict) else None
        replay.entry(explain_entry(reader, row.seq), decided_at)
        if progress is not None:
            progress(done, len(rows))
    return report
