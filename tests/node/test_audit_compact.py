"""Compact audit entries (format 2): what was decided is logged once per entry and referred to;
every field's outcome, class and reason can still be read for every record, and logs written in
format 1 still verify and report alike."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.audit_entry_size import measure
from fieldgate.core.claims import RequesterClaims
from fieldgate.node.audit.canonical import canonical_json
from fieldgate.node.audit.checkpoints import Checkpoint, checkpoint_from_body
from fieldgate.node.audit.entries import ENTRY_FORMAT, SEARCH, record_fields, search_data
from fieldgate.node.audit.entries_v1 import search_data_v1
from fieldgate.node.audit.keys import ensure_key
from fieldgate.node.audit.reports import by_purpose, subject_history
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit.store import AuditStore
from fieldgate.node.audit.verify import verify_log
from fieldgate.node.disclosure_log import DisclosureEntry, RecordOutcome
from fieldgate.policy.verdict import FieldVerdict, RecordVerdict
from tests.node.test_audit_writer import attack, rechain

CLAIMS = RequesterClaims(
    "det-1", "bellevue-pd", "local_law_enforcement", ("detective",), "criminal_investigation",
    "BPD-1", (),
)  # fmt: skip
NAMES = ("surname", "given_name", "dob", "address", "citizenship", "fbi_number")
CLASSES = {"address": "location", "citizenship": "citizenship", "fbi_number": "criminal_history"}


def _verdict(name: str, outcome: str, reason: str) -> FieldVerdict:
    mask = "city" if outcome == "masked" else ""
    return FieldVerdict(name, CLASSES.get(name, "identity"), outcome, mask, None, reason)  # type: ignore[arg-type]


_OUTCOME = st.sampled_from(("released", "masked", "withheld"))
_REASON = st.sampled_from(("released to investigators", "not released", "record not disclosed"))


@st.composite
def entries(draw: st.DrawFn) -> DisclosureEntry:
    records = []
    for number in range(draw(st.integers(0, 6))):
        names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=len(NAMES)))
        fields = tuple(_verdict(n, draw(_OUTCOME), draw(_REASON)) for n in names)
        verdict = RecordVerdict(draw(st.booleans()), fields, draw(st.sampled_from(("", "bad"))))
        records.append(RecordOutcome(f"R-{number}", verdict, ("W-1",) if number % 2 else ()))
    sent = tuple(r.record_id for r in records if r.verdict.disclose)
    return DisclosureEntry(
        "req-1", "kcso", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), CLAIMS, "ab" * 32, "cd" * 32,
        tuple(records), sent,
    )  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(entry=entries())
def test_every_field_verdict_reads_back_the_same_from_either_format(entry: DisclosureEntry) -> None:
    compact, spelt = search_data(entry), search_data_v1(entry)
    canonical_json(compact)  # no float, nothing without a canonical form
    for new, old in zip(compact["records"], spelt["records"], strict=True):
        assert record_fields(compact, new) == record_fields(spelt, old) == old["fields"]
        assert {k: v for k, v in new.items() if k != "decision"} == {
            k: v for k, v in old.items() if k != "fields"
        }
    # Records decided alike share one decision; each reason and field is written once.
    assert len(compact["decisions"]) <= len(entry.records)
    assert len(set(compact["reasons"])) == len(compact["reasons"])
    assert len({tuple(f) for f in compact["fields"]}) == len(compact["fields"])


def test_a_damaged_compact_entry_reads_as_what_can_be_read() -> None:
    data = {"fields": [["surname", "identity"]], "reasons": ["r"], "decisions": [[["x"]], 7]}
    for record in ({"decision": 0}, {"decision": 1}, {"decision": 9}, {"decision": "0"}):
        assert record_fields(data, record) == []
    broken = {"fields": "x", "reasons": None, "decisions": [[["released", 0, "", [0, 5]]]]}
    assert record_fields(broken, {"decision": 0}) == []


def test_the_demo_searches_entries_are_a_third_of_format_1() -> None:
    """The figure docs/audit.md gives (``python -m bench.audit_entry_size``), on fewer records."""
    rows = measure(records=300)
    assert [r["purpose"] for r in rows] == [
        "criminal_investigation", "civil_immigration", "criminal_investigation",
    ]  # fmt: skip
    for row in rows:
        assert row["records"] >= 1
        assert row[f"format_{ENTRY_FORMAT}_bytes"] < 0.45 * row["format_1_bytes"]
        assert row[f"format_{ENTRY_FORMAT}_per_record"] < 0.2 * row["format_1_per_record"]


def _sample() -> DisclosureEntry:
    fields = tuple(_verdict(n, "released", "released to investigators") for n in NAMES[:4])
    withheld = tuple(_verdict(n, "withheld", "not released") for n in NAMES[4:])
    records = tuple(
        RecordOutcome(f"R-{n}", RecordVerdict(True, fields + withheld), ()) for n in range(3)
    )
    return DisclosureEntry(
        "req-1", "kcso", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), CLAIMS, "ab" * 32, "cd" * 32,
        records, tuple(r.record_id for r in records),
    )  # fmt: skip


def _to_format_1(path: Path, key_path: Path) -> None:
    """The log as a build before compact entries wrote it: format 1, signed with the same key."""
    key = ensure_key(key_path)

    def change(db: sqlite3.Connection) -> None:
        for seq, body in db.execute("SELECT seq, body FROM entries").fetchall():
            document = json.loads(body)
            document["format"] = 1
            db.execute("UPDATE entries SET body = ? WHERE seq = ?", (canonical_json(document), seq))
        rechain(db, 1)
        previous = ""
        for number, text in db.execute("SELECT number, body FROM checkpoints").fetchall():
            old = checkpoint_from_body(json.loads(text), "")
            head = db.execute("SELECT hash FROM entries WHERE seq = ?", (old.seq,)).fetchone()[0]
            fresh = Checkpoint(number, old.seq, head, old.time, previous, old.node_id,
                               old.key_id).signed(key)  # fmt: skip
            db.execute("DELETE FROM checkpoints WHERE number = ?", (number,))
            db.execute("INSERT INTO checkpoints VALUES (?, ?, ?, ?)",
                       (number, old.seq, fresh.body_text(), fresh.signature))  # fmt: skip
            previous = fresh.digest()

    attack(path, change)


def test_a_log_written_in_format_1_still_verifies_and_reports_alike(tmp_path: Path) -> None:
    entry = _sample()
    reports = []
    for name, writer in (("old", search_data_v1), ("new", search_data)):
        (tmp_path / name).mkdir()
        path = tmp_path / name / "audit.sqlite"
        store = AuditStore.open(path, node_id="kcso", key=ensure_key(tmp_path / name / "k.pem"))
        store.append(SEARCH, writer(entry))
        store.close()
        if name == "old":
            _to_format_1(path, tmp_path / name / "k.pem")
            with AuditReader(path) as reader:
                assert {r.document()["format"] for r in reader.entries()} == {1}
        report = verify_log(path)
        assert report.ok, report.problems
        with AuditReader(path) as reader:
            history = [
                {k: v for k, v in row.items() if k != "time"}
                for row in subject_history(reader, {"R-0", "R-2"}).rows
            ]
            reports.append((by_purpose(reader).rows, history))
    assert reports[0] == reports[1]
    assert reports[1][1][0]["released"] == "surname,given_name,dob,address"
    # A format this build does not know is reported, not trusted.
    path = tmp_path / "new" / "audit.sqlite"

    def unknown(db: sqlite3.Connection) -> None:
        body = json.loads(db.execute("SELECT body FROM entries WHERE seq = 1").fetchone()[0])
        db.execute("UPDATE entries SET body = ? WHERE seq = 1",
                   (canonical_json({**body, "format": [2]}),))  # fmt: skip
        rechain(db, 1)

    attack(path, unknown)
    kinds = {p.kind for p in verify_log(path).problems}
    assert "altered" in kinds
    assert "unreadable" not in kinds
