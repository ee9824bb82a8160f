"""Rich tables for people reading search results (``fieldgate search``, the demo).

A search of a few agencies shows one table per agency. Above
:data:`SUMMARY_ABOVE` agencies (a national search asks thousands) it shows a
summary instead: a table per agency that disclosed records, then how many
answered with no record, could not answer, did not answer, failed
verification and were not asked — each group listed on request
(:data:`SUMMARY_GROUPS`, ``fieldgate search --show GROUP``; ``--all`` for a
table per agency).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from fieldgate.client.results import AgencyView, HitView, SearchResult
from fieldgate.client.stream import Progress
from fieldgate.core.inert_text import terminal_safe as _safe

STATUS_STYLE = {
    "answered": "green",
    "timed_out": "yellow",
    "unreachable": "red",
    "error": "red",
    "failed_verification": "bold red",
    "not_answering": "yellow",
    "not_relayed": "red",
}
STATUS_LABEL = {
    "failed_verification": "FAILED VERIFICATION",
    "not_answering": "could not answer",
    "not_relayed": "did not answer",
}
"""How a status reads to a person; none of these is ever "no record"."""

SUMMARY_ABOVE = 20
"""Agencies above which a result is shown as a summary (:func:`summary_group`)."""

SUMMARY_GROUPS = {
    "no-record": "answered: no record disclosed",
    "not-answering": "could not answer (signed 'not answering')",
    "did-not-answer": "did not answer (timed out, unreachable, error)",
    "failed": "FAILED VERIFICATION (neither data nor 'no record')",
    "not-asked": "not asked (your agency's outbound policy)",
}
"""The summary's groups (as ``--show`` names them) and how each reads. The last four are
never "no record": those agencies' records are unknown."""


def format_value(value: Any) -> str:
    """A released value as one short line (an address as it is written on a letter).

    Never raises; callers make it terminal-safe (:mod:`fieldgate.core.inert_text`).
    """
    if isinstance(value, list):
        return "; ".join(format_value(v) for v in value)
    if isinstance(value, dict):
        street = value.get("street", "")
        place = " ".join(str(value[k]) for k in ("state", "postal_code") if value.get(k))
        parts = [p for p in (street, value.get("city", ""), place) if p]
        return ", ".join(str(p) for p in parts)
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _fields_text(hit: HitView, *, masked: bool) -> Text:
    text = Text()
    for name, released in hit.fields.items():
        if bool(released.mask) != masked:
            continue
        if text:
            text.append("\n")
        # Names, values and masks come from the node's records: shown, never obeyed.
        text.append(f"{_safe(name)}: ", style="bold")
        text.append(_safe(format_value(released.value)))
        if released.mask:
            text.append(f" ({_safe(released.mask)})", style="yellow")
    return text


PHONE_WIDTH_CAP = 16
"""The widest a phone number may make the "call" column (longer ones fold, never cut)."""


def _score_text(hit: HitView) -> str:
    """The match score, or why there is none: a pointer answer is not scored for the requester.

    A pointer-only answer carries score 0 and no reasons (the score would use
    withheld fields); "score 0.00" would read as "a bad match".
    """
    if hit.score == 0 and not hit.match_reasons:
        return "not scored (pointer)"
    return f"score {hit.score:.2f}"


def agency_table(agency: AgencyView) -> Table:
    """One agency's status and hits."""
    style = STATUS_STYLE.get(agency.status, "red")
    title = Text.assemble(
        (_safe(agency.agency_name), "bold"),
        "  ",
        (STATUS_LABEL.get(agency.status, _safe(agency.status)), style),
        f"  {len(agency.hits)} hit(s)"
        if agency.status == "answered"
        else ("" if agency.status in STATUS_LABEL else "  could not answer"),
    )
    table = Table(title=title, title_justify="left", show_lines=True, expand=True)
    table.add_column("reference (quote it)", no_wrap=True)
    # Folded, never cut with an ellipsis: a released value is shown whole or not at all.
    table.add_column("released", overflow="fold")
    table.add_column("masked", overflow="fold")
    # The phone number to call is the point of a pointer: never cut or broken, even at 80 columns.
    phone_width = max((len(_safe(h.contact["phone"])) for h in agency.hits), default=0)
    table.add_column("call", min_width=min(phone_width, PHONE_WIDTH_CAP), overflow="fold")
    if agency.status != "answered":
        # Never "no records": this agency did not look, so nothing is known about the person.
        table.add_row(
            Text(f"{_safe(agency.detail)}\nnot searched: this is not 'no record'", style=style),
            "",
            "",
            "",
        )
    elif not agency.hits:
        table.add_row(Text("no records disclosed", style="dim"), "", "", "")
    for hit in agency.hits:
        record = Text.assemble(
            (_safe(hit.reference), "bold"),
            f"\n{_safe(hit.record_kind)}\n{_score_text(hit)}\n",
            ("\n".join(_safe(r) for r in hit.match_reasons), "dim"),
        )
        # Text, not markup: a unit name is the agency's data and may hold brackets.
        contact = Text(f"{_safe(hit.contact['unit'])}\n{_safe(hit.contact['phone'])}")
        released = _fields_text(hit, masked=False)
        table.add_row(
            record,
            released if released else Text("pointer only", style="dim"),
            _fields_text(hit, masked=True),
            contact,
        )
    return table


def progress_text(progress: Progress, waiting_for: Sequence[str] = ()) -> Text:
    """The live line of a streamed search: answered / pending / failed, and whom it waits for."""
    text = Text.assemble(
        ("answered ", "bold"),
        (str(progress.answered), "green"),
        (" / pending ", "bold"),
        (str(progress.pending), "yellow"),
        (" / failed ", "bold"),
        (str(progress.failed), "red" if progress.failed else "dim"),
    )
    if waiting_for:
        shown = ", ".join(_safe(w) for w in waiting_for[:3])
        more = f" and {len(waiting_for) - 3} more" if len(waiting_for) > 3 else ""
        text.append(f"  waiting for {shown}{more}", style="dim")
    return text


def not_asked_table(result: SearchResult) -> Table:
    """The agencies the search was not sent to, and why (the requesting agency's policy)."""
    table = Table(
        title=Text("Not asked (your agency's outbound policy)", style="bold"),
        title_justify="left",
    )
    table.add_column("agency", style="bold", no_wrap=True)
    table.add_column("why not")
    for entry in result.not_asked:
        table.add_row(Text(_safe(entry.node_id)), Text(_safe(entry.reason), style="yellow"))
    return table


def result_group(result: SearchResult) -> Group:
    """Every agency's table, in the broker's order, then the agencies not asked."""
    parts: list[Table] = [agency_table(a) for a in result.agencies]
    if result.not_asked:
        parts.append(not_asked_table(result))
    return Group(*parts)


def comparison_table(
    agency_name: str,
    personas: Sequence[str],
    results: Sequence[SearchResult],
    title: str | None = None,
    node_id: str = "",
) -> Table:
    """What each persona saw from one agency, field by field, side by side.

    A persona whose search was not sent to ``node_id`` (outside its
    credential's reach) shows "not asked" and why.
    """
    table = Table(
        title=Text(_safe(title or agency_name), style="bold"), title_justify="left", expand=True
    )
    table.add_column("field", style="bold", no_wrap=True)
    for persona in personas:
        table.add_column(Text(_safe(persona, keep_newlines=True)))
    views = [next((a for a in r.agencies if a.agency_name == agency_name), None) for r in results]
    counts: list[Text] = []
    field_names: list[str] = []
    for view, result in zip(views, results, strict=True):
        why_not = next((n.reason for n in result.not_asked if n.node_id == node_id), None)
        if view is None and why_not is not None:
            counts.append(Text(_safe(f"not asked: {why_not}"), style="yellow"))
            continue
        if view is None or view.status != "answered":
            counts.append(Text(_safe(view.status) if view else "absent", style="red"))
            continue
        kinds = ", ".join(sorted({_safe(h.record_kind) for h in view.hits}))
        counts.append(
            Text(
                f"{len(view.hits)} record(s) {kinds}".strip(), style="green" if view.hits else "dim"
            )
        )
        for hit in view.hits:
            for name in hit.fields:
                if name not in field_names:
                    field_names.append(name)
    table.add_row("records disclosed", *counts)
    # The agency's opaque references (never its record ids): what an investigator quotes.
    table.add_row(
        "references",
        *(
            # Folded, never cut: a reference is quoted whole.
            Text("\n".join(_safe(h.reference) for h in view.hits), style="dim", overflow="fold")
            if view is not None and view.status == "answered"
            else Text("")
            for view in views
        ),
    )
    calls: list[Text] = []
    for view in views:
        contacts = sorted(
            {_safe(f"{h.contact['unit']} {h.contact['phone']}") for h in view.hits}
            if view
            else set()
        )
        calls.append(Text("\n".join(contacts)) if contacts else Text("—", style="dim"))
    table.add_row("whom to call", *calls)
    for name in field_names:
        cells: list[Text] = []
        for view in views:
            values = []
            mask = ""
            for hit in view.hits if view else ():
                released = hit.fields.get(name)
                if released is not None:
                    formatted = format_value(released.value)
                    if formatted not in values:
                        values.append(formatted)
                    mask = released.mask or mask
            if not values:
                cells.append(Text("—", style="dim"))
            else:
                cell = Text(_safe(" | ".join(values)[:80]))
                if mask:
                    cell.append(f" ({_safe(mask)})", style="yellow")
                cells.append(cell)
        table.add_row(Text(_safe(name), style="bold"), *cells)
    return table


def summary_key(agency: AgencyView) -> str:
    """The summary group of an agency without hits (:data:`SUMMARY_GROUPS`); "" with hits."""
    if agency.status == "answered":
        return "" if agency.hits else "no-record"
    if agency.status == "not_answering":
        return "not-answering"
    if agency.status == "failed_verification":
        return "failed"
    return "did-not-answer"


def _listing(title: str, rows: Sequence[tuple[str, str, str]]) -> Table:
    """A compact list of agencies: id, name and why (one line each)."""
    table = Table(title=Text(title, style="bold"), title_justify="left")
    table.add_column("node", no_wrap=True)
    table.add_column("agency")
    table.add_column("detail", overflow="fold")
    for node_id, name, detail in rows:
        table.add_row(Text(_safe(node_id)), Text(_safe(name)), Text(_safe(detail), style="dim"))
    return table


def summary_counts(result: SearchResult) -> Table:
    """How many agencies fall in each summary group (the groups a summary does not show)."""
    counts = dict.fromkeys(SUMMARY_GROUPS, 0)
    for agency in result.agencies:
        if key := summary_key(agency):
            counts[key] += 1
    counts["not-asked"] = len(result.not_asked)
    with_hits = sum(bool(a.hits) for a in result.agencies)
    table = Table(
        title=Text(f"{len(result.agencies)} agencies asked", style="bold"), title_justify="left"
    )
    table.add_column("agencies", justify="right")
    table.add_column("")
    table.add_column("list them with", style="dim")
    table.add_row(Text(str(with_hits), style="green"), "disclosed records (shown above)", "")
    for key, label in SUMMARY_GROUPS.items():
        style = "dim" if key in ("no-record", "not-asked") or not counts[key] else "bold red"
        table.add_row(Text(str(counts[key]), style=style), label, f"--show {key}")
    return table


def summary_group(result: SearchResult, show: Collection[str] = (), *, hits: bool = True) -> Group:
    """A large search at a glance: the agencies with hits, then each group's count.

    Args:
        result: the search.
        show: the groups (:data:`SUMMARY_GROUPS`) to list agency by agency.
        hits: show the agencies with hits (False when a stream printed them already).
    """
    parts: list[Table] = [agency_table(a) for a in result.agencies if a.hits] if hits else []
    parts.append(summary_counts(result))
    for key in (k for k in SUMMARY_GROUPS if k in show):
        if key == "not-asked":
            rows = [(n.node_id, "", n.reason) for n in result.not_asked]
        else:
            rows = [
                (a.node_id, a.agency_name, a.not_answering_reason or a.detail)
                for a in result.agencies
                if summary_key(a) == key
            ]
        parts.append(_listing(f"{SUMMARY_GROUPS[key]}: {len(rows)}", rows))
    return Group(*parts)
