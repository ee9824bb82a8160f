"""Every search for one person, found through the deployment's digest key.

Audit entries hold a keyed digest of each search's normalised query
(:mod:`fieldgate.core.digests`), never the name. An auditor holding the key
computes the digest of the person as it would have been searched — name and
date of birth, normalised the way a search is — and lists every search whose
entry carries it, whether it found anything or not. Searches under another
spelling have another digest; :func:`~node.audit.reports.subject_history`
(by the person's record ids) finds the disclosures whatever the spelling.
"""

from __future__ import annotations

import datetime as dt

from fieldgate.core.digests import PersonDigester
from fieldgate.core.query import validate_query
from fieldgate.node.audit.reports import Period, Report, _searches
from fieldgate.node.audit.schema import AuditReader
from fieldgate.v2 import common_pb2

COLUMNS = ("time", "request_id", "agency", "agency_type", "subject", "purpose", "disclosed")


def searches_for(
    reader: AuditReader,
    digester: PersonDigester,
    surname: str,
    given_name: str,
    dob: dt.date | None,
    period: Period | None = None,
) -> Report:
    """Every search entry whose query digest is this person's under ``digester``.

    Raises:
        fieldgate.core.errors.InvalidRequestError: the name or date cannot be searched.
    """
    query = validate_query(
        common_pb2.PersonQuery(
            surname=surname, given_name=given_name, dob=dob.isoformat() if dob else ""
        )
    )
    wanted = digester.query(query)
    rows = []
    for time, data in _searches(reader, period or Period()):
        if data.get("query_digest") != wanted:
            continue
        requester = data.get("requester", {})
        rows.append(
            {
                "time": time,
                "request_id": data.get("request_id", ""),
                "agency": requester.get("agency", ""),
                "agency_type": requester.get("agency_type", ""),
                "subject": requester.get("subject", ""),
                "purpose": requester.get("purpose", ""),
                "disclosed": len(data.get("disclosed", [])),
            }
        )
    return Report(
        f"Searches for {query.surname}, {query.given_name}",
        COLUMNS,
        rows,
        ("found by the keyed digest of this exact name and date of birth",),
    )
