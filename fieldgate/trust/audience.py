"""Which nodes a set of node ids names: a proof's ``aud`` and a credential's ``reach``.

Both claims take one of two forms (docs/protocol.md, "Audience and reach")::

    ["kcso", "spd"]                         the list form: exactly these node ids
    {"dir": 42, "except": ["ice-ero"]}      the compact form: every node of the
                                            signed directory whose ``since`` <= 42,
                                            except these

The signed trust bundle (the directory) carries a ``serial`` the federation
authority bumps on every edit and, per node, the ``since`` serial it joined at
(missing: 0). A directory of 8,500 agencies with a few hundred excluded then
costs a few kilobytes instead of 200 KB, and a node that joins after ``dir`` is
never named by an earlier claim (fail closed).

:meth:`Audience.contains` is the one membership rule the client, the broker and
every node evaluate; a node absent from the evaluator's own directory
(``since`` None) is never named by the compact form.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fieldgate.core.request_shape import MAX_AUDIENCE


@dataclass(frozen=True)
class Directory:
    """The part of a signed trust bundle an audience is evaluated over.

    Attributes:
        serial: the bundle's ``serial`` (0 for a bundle older than serials).
        since: node id → the serial it joined at (0 when the bundle does not say).
    """

    serial: int = 0
    since: Mapping[str, int] = field(default_factory=dict)


def _node_ids(value: object, what: str) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or not all(isinstance(n, str) and n for n in value)
        or len(set(value)) != len(value)
    ):
        raise ValueError(f"{what} is not a list of distinct node ids")
    if len(value) > MAX_AUDIENCE:
        raise ValueError(f"{what} lists {len(value)} node ids; at most {MAX_AUDIENCE}")
    return tuple(value)


@dataclass(frozen=True)
class Audience:
    """A set of nodes, in the list form (``nodes``) or the compact form (``dir``, ``excepted``).

    Attributes:
        nodes: the list form's node ids, in the order given; empty in the compact form.
        dir: the compact form's directory serial; None in the list form.
        excepted: the compact form's ``except`` node ids.
    """

    nodes: tuple[str, ...] = ()
    dir: int | None = None
    excepted: frozenset[str] = frozenset()
    _members: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Membership is asked once per directory node at the broker: a set, not a scan.
        object.__setattr__(self, "_members", frozenset(self.nodes))

    @property
    def compact(self) -> bool:
        """True for the ``{"dir", "except"}`` form."""
        return self.dir is not None

    def contains(self, node_id: str, since: int | None) -> bool:
        """Whether this audience names ``node_id``, whose directory entry joined at ``since``.

        Args:
            node_id: the node asked about.
            since: its ``since`` in the evaluator's own directory; None when the
                evaluator's directory does not list it (then only the list form
                can name it, and a node never treats itself so: see verify).
        """
        if self.dir is None:
            return node_id in self._members
        return since is not None and since <= self.dir and node_id not in self.excepted

    def named(self, directory: Directory) -> list[str]:
        """The node ids this audience names: the list itself, or the directory's matches."""
        if self.dir is None:
            return list(self.nodes)
        return sorted(n for n, s in directory.since.items() if self.contains(n, s))

    def claim(self) -> list[str] | dict[str, object]:
        """The JSON claim (a list, or ``{"dir", "except"}`` with ``except`` sorted)."""
        if self.dir is None:
            return list(self.nodes)
        return {"dir": self.dir, "except": sorted(self.excepted)}

    @classmethod
    def from_claim(cls, value: object, what: str, *, empty_ok: bool = False) -> Audience:
        """Parse either form (an empty list only with ``empty_ok``: a reach that reaches nothing).

        Raises:
            ValueError: naming ``what`` and what is wrong with it.
        """
        if isinstance(value, list):
            nodes = _node_ids(value, what)
            if not nodes and not empty_ok:
                raise ValueError(f"{what} names no node")
            return cls(nodes=nodes)
        if not isinstance(value, dict) or set(value) != {"dir", "except"}:
            raise ValueError(f'{what} is neither a list of node ids nor {{"dir", "except"}}')
        serial = value["dir"]
        if not isinstance(serial, int) or isinstance(serial, bool) or serial < 0:
            raise ValueError(f"{what}.dir is not a directory serial (an integer >= 0)")
        return cls(dir=serial, excepted=frozenset(_node_ids(value["except"], f"{what}.except")))

    @classmethod
    def of(cls, members: Iterable[str], directory: Directory | None) -> Audience:
        """The shorter encoding (as compact JSON) of exactly ``members`` over ``directory``.

        The compact form is chosen only when it names exactly ``members`` in
        ``directory``: every member is listed there, and ``dir`` is the newest
        member's ``since`` (so nodes that joined later are not named). Ties and
        small federations keep the list.
        """
        listed = cls(nodes=tuple(dict.fromkeys(members)))
        if directory is None or not listed.nodes:
            return listed
        joined = [directory.since.get(n) for n in listed.nodes]
        if any(s is None for s in joined):
            return listed
        serial = max(s for s in joined if s is not None)
        excepted = frozenset(
            n for n, s in directory.since.items() if s <= serial and n not in listed._members
        )
        compact = cls(dir=serial, excepted=excepted)
        return compact if _size(compact) < _size(listed) else listed


def _size(audience: Audience) -> int:
    return len(json.dumps(audience.claim(), separators=(",", ":")))


def within(
    audience: Audience, reach: Audience, directory: Directory, *, newer_fails: bool = True
) -> list[str]:
    """The nodes ``audience`` names that ``reach`` does not, over ``directory``.

    Evaluated over the evaluator's own directory with :meth:`Audience.contains`
    on both sides; a list-form audience naming an id outside the directory is
    checked by id. Cheap where it can be: a list audience costs its length,
    a compact audience within a compact reach the reach's ``except`` (only an
    audience ``dir`` beyond the reach's walks the directory); a compact
    audience against a list reach walks the directory.

    Args:
        newer_fails: refuse a compact ``dir`` newer than ``directory.serial``
            (the broker: it cannot know which nodes it names). A node passes
            False: nodes it does not know are not its to judge, and a bundle a
            refresh behind must not refuse every search naming a new member.

    Raises:
        ValueError: ``newer_fails`` and a compact ``dir`` is newer than the directory.
    """
    if newer_fails:
        for claim, what in ((audience, "audience"), (reach, "reach")):
            if claim.dir is not None and claim.dir > directory.serial:
                raise ValueError(
                    f"the {what} names directory serial {claim.dir}, newer than this "
                    f"party's trust bundle (serial {directory.serial})"
                )
    since = directory.since
    if audience.dir is None:
        named: Iterable[str] = audience.nodes
    elif reach.dir is not None and audience.dir <= reach.dir:
        # Every node the audience names joined by reach.dir: only reach's exceptions matter.
        named = reach.excepted
    else:
        named = since
    return sorted(
        n
        for n in named
        if audience.contains(n, since.get(n)) and not reach.contains(n, since.get(n))
    )
