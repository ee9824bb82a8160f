"""Persona, record and warrant files for the authoring tools.

A **persona** is a JSON object of requester claims, exactly as they travel on
the wire (``fieldgate.v2.Requester``), plus two optional keys for people::

    {
      "name": "Detective",                       # optional; default: the file name
      "description": "Bellevue PD detective",    # optional
      "subject": "det-4711", "agency": "bellevue-pd",
      "agency_type": "local_law_enforcement", "roles": ["detective"],
      "purpose": "criminal_investigation", "case_number": "BPD-2026-018233",
      "authority": [ { "kind": "criminal_judicial_warrant", "id": "...", "court": "...",
                       "subject_surname": "...", "subject_given_name": "...",
                       "subject_dob": "1986-03-07", "covers": ["location"],
                       "record_kinds": [], "expires": "2099-12-31" } ]
    }

The claims pass the node's own validation (:func:`fieldgate.core.claims.validate_requester`),
so a persona with a misspelt purpose is refused here rather than silently
matching no rule. A **record** is one raw record as ``fieldgate node import``
reads it (``record_id``, ``record_kind``, flags and catalog fields), checked
against the catalog by :func:`fieldgate.policy.records.validate_record`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from fieldgate.core.claims import LegalAuthority, RequesterClaims, validate_requester
from fieldgate.core.errors import FieldgateError
from fieldgate.policy.catalog import FieldCatalog
from fieldgate.policy.errors import RecordError
from fieldgate.policy.records import Record, validate_record
from fieldgate.v2 import common_pb2

PERSONA_META_KEYS = ("name", "description")
"""Persona keys that describe the persona and are not requester claims."""


class InputFileError(FieldgateError):
    """A persona, record or warrant file that cannot be used; the message names the file."""


@dataclass(frozen=True)
class Persona:
    """A requester to try a contract with.

    Attributes:
        name: a short name for tables (the ``name`` key, or the file's stem).
        description: free text.
        claims: the validated requester claims, warrants included.
        source: the file it came from.
    """

    name: str
    description: str
    claims: RequesterClaims
    source: str

    @property
    def immigration_context(self) -> bool:
        """True when the agency type or the purpose is civil immigration."""
        return "civil_immigration" in (self.claims.agency_type, self.claims.purpose)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(f"{path}: not valid JSON: {exc}") from exc


def persona_from_document(document: object, source: str) -> Persona:
    """Validate one persona document (see the module docstring).

    Raises:
        InputFileError: a claim is missing, unknown or wrong; the message names it.
    """
    if not isinstance(document, dict):
        raise InputFileError(f"{source}: a persona is a JSON object of requester claims")
    claims_part = {k: v for k, v in document.items() if k not in PERSONA_META_KEYS}
    try:
        message = json_format.ParseDict(claims_part, common_pb2.Requester())
        claims = validate_requester(message)
    except json_format.ParseError as exc:
        raise InputFileError(f"{source}: {exc}") from exc
    except FieldgateError as exc:
        raise InputFileError(f"{source}: {exc}") from exc
    name = document.get("name", Path(source).stem)
    description = document.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise InputFileError(f"{source}: 'name' and 'description' must be strings")
    return Persona(name, description, claims, source)


def load_persona(path: Path) -> Persona:
    """Read and validate one persona file."""
    return persona_from_document(_read_json(path), str(path))


def load_personas(directory: Path) -> list[Persona]:
    """Every ``*.json`` persona of ``directory``, by file name.

    Raises:
        InputFileError: the directory holds no persona, or one is invalid.
    """
    personas = [load_persona(p) for p in sorted(directory.glob("*.json")) if p.is_file()]
    if not personas:
        raise InputFileError(f"{directory}: no persona files (*.json)")
    names = [p.name for p in personas]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputFileError(f"{directory}: two personas are named {duplicates[0]!r}")
    return personas


def load_warrant(path: Path) -> LegalAuthority:
    """Read one warrant (a ``LegalAuthority`` in its wire JSON shape) and validate it."""
    document = _read_json(path)
    persona = persona_from_document(
        {
            "subject": "warrant-check",
            "agency": "warrant-check",
            "agency_type": "local_law_enforcement",
            "purpose": "criminal_investigation",
            "authority": [document],
        },
        str(path),
    )
    return persona.claims.authority[0]


def with_warrants(persona: Persona, warrants: list[LegalAuthority]) -> Persona:
    """The persona presenting ``warrants`` as well as its own."""
    claims = replace(persona.claims, authority=(*persona.claims.authority, *warrants))
    return replace(persona, claims=claims)


def record_from_document(document: object, catalog: FieldCatalog, source: str) -> Record:
    """Check one raw record against ``catalog``.

    Raises:
        InputFileError: naming ``source`` and what is wrong.
    """
    if not isinstance(document, dict):
        raise InputFileError(f"{source}: a record is a JSON object")
    try:
        return validate_record(document, catalog)
    except RecordError as exc:
        raise InputFileError(f"{source}: {exc}") from exc


def load_record(path: Path, catalog: FieldCatalog) -> Record:
    """Read one record file (a JSON object)."""
    return record_from_document(_read_json(path), catalog, str(path))


def load_records(path: Path, catalog: FieldCatalog) -> list[Record]:
    """Records from a JSON Lines file, a JSON file (object or array), or a directory of ``*.json``.

    Raises:
        InputFileError: no record, or one that is not valid; the message names
            the file and line.
    """
    if path.is_dir():
        records = [load_record(p, catalog) for p in sorted(path.glob("*.json")) if p.is_file()]
    elif path.suffix in (".jsonl", ".ndjson"):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputFileError(f"{path}: cannot read: {exc}") from exc
        records = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                document = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputFileError(f"{path}:{number}: not valid JSON: {exc}") from exc
            records.append(record_from_document(document, catalog, f"{path}:{number}"))
    else:
        document = _read_json(path)
        items = document if isinstance(document, list) else [document]
        records = [record_from_document(d, catalog, str(path)) for d in items]
    if not records:
        raise InputFileError(f"{path}: no records")
    return records
