"""The nodes the broker routes to, now: by hand, or the signed trust directory.

A broker configured with ``[broker.directory]`` asks every node the
federation's signed trust bundle lists (its ``nodes``), at the address the
template makes from the node's id (or the override for it). Its TLS name is the
node id, as for nodes by hand, so an address can only reach the node that holds
that id's certificate. The bundle is opened with the pinned federation
authority key: a directory it did not sign is never used.

:meth:`NodeDirectory.roster` is called once per search and per ``ListNodes``
page. It stats the bundle (a few microseconds) and re-reads it only when the
file changed — a trust refresh (:mod:`fieldgate.trust.refresh`) installs a new
one atomically — so nodes that join or leave the federation are routed to or
dropped on the next search, with no restart and no per-node configuration. A
bundle that no longer opens keeps the last good roster (and is logged): the
broker's verifier refuses every search until trust is usable again, so nothing
is asked with it meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fieldgate.broker.config import BrokerConfig, DirectoryConfig, NodeEntry
from fieldgate.broker.errors import FileLimitTooLow
from fieldgate.broker.fd_limit import raise_fd_limit
from fieldgate.core.errors import InvalidRequestError
from fieldgate.trust.keys import load_public_key
from fieldgate.trust.reach import read_directory
from fieldgate.trust.trust_bundle import TrustUnavailable

log = logging.getLogger("fieldgate.broker")

MAX_PAGE_SIZE = 1000
"""Most nodes one ``ListNodes`` answer lists (and how many a page_size of 0 asks for)."""

_PAGE_MARK = "after:"

_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
"""A node id that can stand in a host name (one DNS label)."""


@dataclass(frozen=True)
class Roster:
    """The nodes routed to at one moment, in the order results are reported."""

    entries: tuple[NodeEntry, ...]
    """Every node, in reporting order (the directory's: by node id)."""
    revision: object = None
    """What the roster was read from (the bundle file's stamp); None for nodes by hand."""
    by_id: dict[str, int] = field(default_factory=dict, compare=False)
    """Node id → its position in ``entries``."""

    def __post_init__(self) -> None:
        self.by_id.update({e.node_id: i for i, e in enumerate(self.entries)})

    def after(self, node_id: str) -> int:
        """The position just after ``node_id`` (a page's last node), for the next page.

        A node that has left since (the directory changed between pages) resumes
        at the first node ordered after it.
        """
        position = self.by_id.get(node_id)
        if position is not None:
            return position + 1
        return next((i for i, e in enumerate(self.entries) if e.node_id > node_id), len(self))

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def addresses(self) -> int:
        """Node addresses routed to: each node's and its replicas' (a socket each when open)."""
        return sum(1 + len(e.replicas) for e in self.entries)


def directory_entries(
    directory: DirectoryConfig, listed: Sequence[tuple[str, str]]
) -> tuple[NodeEntry, ...]:
    """The broker's entries for the directory's ``listed`` (node id, display name) pairs.

    A node whose id cannot stand in a host name and that has no override is
    left out (logged): it cannot be dialled, and guessing would be worse.
    """
    entries: list[NodeEntry] = []
    for node_id, name in listed:
        if node_id not in directory.addresses and not _HOST_LABEL.fullmatch(node_id):
            log.warning(
                "directory node %r is not routed: its id is not a host name label; "
                "give it an address in [broker.directory.addresses]",
                node_id,
            )
            continue
        entries.append(NodeEntry(node_id, name, directory.address_of(node_id)))
    return tuple(entries)


class NodeDirectory:
    """The nodes a broker routes to: fixed (``[[nodes]]``) or its trust bundle's directory."""

    def __init__(self, config: BrokerConfig) -> None:
        """Read the nodes of ``config`` (its directory, opened with its pinned authority).

        Raises:
            TrustUnavailable: the directory's bundle cannot be read or does not verify.
            fieldgate.trust.keys.KeyFileError: the authority key cannot be read.
        """
        self._directory = config.directory
        self._authority: Ed25519PublicKey | None = None
        self._roster = Roster(config.nodes)
        if self._directory is not None and config.trust is not None:
            self._bundle = config.trust.bundle
            if config.trust.authority_key is not None:
                self._authority = load_public_key(config.trust.authority_key)
            stamp = self._stamp()
            self._roster = self._load(stamp)

    @property
    def dynamic(self) -> bool:
        """True when the nodes come from the trust directory (and may change)."""
        return self._directory is not None

    def _stamp(self) -> object:
        try:
            st = os.stat(self._bundle)
        except OSError as exc:
            return exc.strerror
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _load(self, stamp: object) -> Roster:
        assert self._directory is not None
        listed = read_directory(self._bundle, self._authority)
        entries = directory_entries(self._directory, [(e.node_id, e.display_name) for e in listed])
        return Roster(entries, stamp)

    def roster(self) -> Roster:
        """The nodes routed to now, re-reading the directory if its bundle changed."""
        if self._directory is None:
            return self._roster
        stamp = self._stamp()
        if stamp != self._roster.revision:
            try:
                self._roster = self._load(stamp)
            except TrustUnavailable as exc:
                # Kept, but not retried until the file changes again.
                log.error("trust directory unusable, keeping the last one read: %s", exc)
                self._roster = Roster(self._roster.entries, stamp)
            else:
                log.info("trust directory read: %d nodes", len(self._roster))
                try:
                    raise_fd_limit(self._roster.addresses)
                except FileLimitTooLow as exc:
                    # Running already: the nodes past the limit fail as unreachable.
                    log.error("%s", exc)
        return self._roster


def page_token(node_id: str) -> str:
    """The opaque token of the page after the one ending with ``node_id``."""
    return base64.urlsafe_b64encode(f"{_PAGE_MARK}{node_id}".encode()).decode().rstrip("=")


def page(roster: Roster, page_size: int, token: str) -> tuple[tuple[NodeEntry, ...], str]:
    """One ``ListNodes`` page of ``roster``: its nodes and the next page's token ("" at the end).

    Raises:
        InvalidRequestError: a negative ``page_size`` or a token the broker did not make.
    """
    if page_size < 0:
        raise InvalidRequestError("page_size", f"must not be negative, not {page_size}")
    size = min(page_size or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    start = 0
    if token:
        try:
            text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            text = ""
        if not text.startswith(_PAGE_MARK) or len(text) == len(_PAGE_MARK):
            raise InvalidRequestError(
                "page_token", "is not a token this broker gave; list again from the first page"
            )
        start = roster.after(text[len(_PAGE_MARK) :])
    entries = roster.entries[start : start + size]
    more = start + size < len(roster)
    return entries, page_token(entries[-1].node_id) if more and entries else ""
