"""Whom a signed search is addressed to: the credential's ``reach`` ∩ the broker's nodes.

``reach`` may be a list or compact (``{"dir", "except"}``), evaluated over the
client's own signed directory with the one shared rule
(:meth:`fieldgate.trust.audience.Audience.contains`).

The requesting agency's issuer bound its outbound policy into the credential
(``reach``, ``unreached``: :mod:`fieldgate.trust.reach`). The client addresses
only nodes inside it, refuses to address any other (:class:`AudienceError`,
before anything is sent), and tells the investigator which agencies the
broker lists were not asked, and why. A credential without ``reach`` (legacy)
addresses every listed node, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jwt

from fieldgate.client.results import NotAsked
from fieldgate.core.errors import FieldgateError
from fieldgate.trust.audience import Directory
from fieldgate.trust.reach import credential_reach


class AudienceError(FieldgateError):
    """A search the client will not send: addressed outside the credential's reach, or nowhere."""


@dataclass(frozen=True)
class Addressing:
    """The audience a search is signed for, and the agencies left out."""

    audience: list[str]
    not_asked: tuple[NotAsked, ...] = ()


def address(
    credential: str,
    listed: Sequence[str] | None,
    requested: Sequence[str] | None,
    directory: Directory | None = None,
) -> Addressing:
    """Address a search within the credential's reach.

    Args:
        credential: the investigator's own credential (read, not verified: the
            nodes verify it).
        listed: the node ids the broker routes to (``ListNodes``), when the
            caller gave no audience.
        requested: the audience the caller asked for, if any.
        directory: the client's signed trust bundle's directory, over which a
            compact reach is evaluated (none: a compact reach names nothing).

    Raises:
        AudienceError: ``requested`` names a node outside the reach, or no
            listed node is within it.
    """
    try:
        claims = jwt.decode(credential, options={"verify_signature": False})
        reach = credential_reach(claims)
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise AudienceError(f"the credential cannot be read: {exc}") from None
    if reach is None:
        return Addressing(list(requested if requested is not None else listed or []))
    since = (directory or Directory()).since

    def reached(node_id: str) -> bool:
        return reach.contains(node_id, since.get(node_id))

    if requested is not None:
        beyond = [n for n in requested if not reached(n)]
        if beyond:
            why = "; ".join(f"{n}: {reach.why_not(n)}" for n in beyond)
            raise AudienceError(
                f"your agency's outbound policy does not let your searches reach {why}"
            )
        kept_out = sorted(reach.unreached)
        return Addressing(list(requested), tuple(NotAsked(n, reach.why_not(n)) for n in kept_out))
    nodes = list(listed or [])
    audience = [n for n in nodes if reached(n)]
    not_asked = tuple(NotAsked(n, reach.why_not(n)) for n in nodes if not reached(n))
    if not audience:
        raise AudienceError(
            f"your credential reaches none of the {len(nodes)} agencies this broker lists "
            "(your agency's outbound policy, bound at issuance; a newly joined agency is "
            "reached after your next credential)"
        )
    return Addressing(audience, not_asked)
