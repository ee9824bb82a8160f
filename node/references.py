"""Opaque references: what a disclosed hit carries instead of the agency's record id.

A record id is the agency's own key — often a booking or case number, which a
contract may withhold — and one id seen in two answers tells the requester
both answers hold the same record. So a hit carries a *reference*: a keyed
digest (HMAC-SHA256 under the node's digest key, :class:`PersonDigester`) of
the node, the search's request id and the record id, 80 bits written as four
groups of base32 letters (``K7QM-2XRA-9DFE-PL3C``) an investigator can read
down a phone line.

Why per search and not per record: the same record in two answers gets two
references (request ids are unique at each node, :mod:`fieldgate.node.request_ids`),
so a requester cannot link answers by reference or count how many distinct
records a person has across searches. The investigator quoting a reference
loses nothing: the agency's staff resolve it through the audit entry of the
search that disclosed it (``fieldgate audit reference``), which also tells
them who was shown what, when and under which contract.

Only the agency, holding its audit log, can map a reference back; without the
key nobody can even check that a guessed record id goes with a reference.
"""

from __future__ import annotations

import base64

from fieldgate.core.digests import PersonDigester

REFERENCE_BYTES = 10
"""80 bits: no two of an agency's disclosures collide in practice, and short enough to read."""


def disclosure_reference(
    digester: PersonDigester, node_id: str, request_id: str, record_id: str
) -> str:
    """The reference under which ``record_id`` is disclosed in search ``request_id``."""
    digest = bytes.fromhex(digester.digest("reference", node_id, request_id, record_id))
    text = base64.b32encode(digest[:REFERENCE_BYTES]).decode()
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def normalise_reference(text: str) -> str:
    """A reference as typed by a person (any case, spaces or dashes) in canonical form."""
    letters = "".join(c for c in text.upper() if c.isalnum())
    return "-".join(letters[i : i + 4] for i in range(0, len(letters), 4))
