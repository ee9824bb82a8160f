"""Rich tables for people reading search results (``fieldgate search``, the demo)."""

from __future__ import annotations

import json
from collections.abc import Sequence
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
