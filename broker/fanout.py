"""Fan one search out to every registered agency under one deadline.

Every agency is asked concurrently (see :mod:`broker.straggler` for how long
each may take and when its replicas are asked). An agency that does not answer
in time is marked timed out, one that cannot be reached unreachable, one that
answers with an error status as such; none of them holds up or fails the
others. The broker copies the hits exactly as each node sent them: it cannot
add to what a node released.

The unary ``Search`` and the streamed ``SearchStream`` both run this one
fan-out; the stream only watches each agency's result as it ends.

Which agencies there are comes from :mod:`broker.directory` at each search
(the trust directory may change under a running broker); the channels to them
from :mod:`broker.channel_pool` (opened on first use, closed once idle).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence

from fieldgate.broker.channel_pool import ChannelPool
from fieldgate.broker.config import NodeEntry
from fieldgate.broker.directory import NodeDirectory, Roster
from fieldgate.broker.metrics import BrokerMetrics
from fieldgate.broker.node_client import NodeRequest
from fieldgate.broker.straggler import AgencyCaller, AgencyOutcome
from fieldgate.core.tls import TLSFiles
from fieldgate.v2 import common_pb2, node_pb2

CONNECT_CONCURRENCY = 256
"""Nodes connected to at once at start (``connect_at_start``): in parallel, never serially,
without thousands of TLS handshakes at the same instant."""

OnOutcome = Callable[[AgencyOutcome], None]
"""Called with each agency's outcome as soon as it is known, in the order they end."""


def node_request(
    request_id: str,
    signed: common_pb2.SignedSearch,
    keys: Mapping[str, common_pb2.QueryKey],
    node_id: str,
) -> node_pb2.NodeServiceSearchRequest:
    """What one node is sent: the credential, proof and body untouched, and its key only.

    A search to 8,500 agencies carries 8,500 wrapped keys; forwarding all of
    them to every node would send each the whole list (megabytes, 8,500
    times). A node without a key here (the client sent none) cannot open the
    body and answers as for an absent person.
    """
    mine = [keys[node_id]] if node_id in keys else []
    return node_pb2.NodeServiceSearchRequest(
        request_id=request_id,
        signed=common_pb2.SignedSearch(
            credential=signed.credential, proof=signed.proof, body=signed.body, keys=mine
        ),
    )


class FanOut:
    """Calls every agency of a federation concurrently."""

    def __init__(
        self,
        nodes: Sequence[NodeEntry] | NodeDirectory,
        tls: TLSFiles | None = None,
        metrics: BrokerMetrics | None = None,
        node_deadline_ms: int | None = None,
        channel_idle_seconds: float = 300.0,
    ) -> None:
        """Route to ``nodes``; no channel is opened until a search asks a node.

        Args:
            nodes: the registered agencies, in the order results are reported,
                or the directory they are read from at each search.
            tls: mutual TLS files for the channels; None for plaintext.
            metrics: counts node calls and hedges.
            node_deadline_ms: deadline of each node call (``broker.node_deadline_ms``).
            channel_idle_seconds: a node's channel unused this long is closed.
        """
        self._nodes = nodes if isinstance(nodes, NodeDirectory) else Roster(tuple(nodes))
        self.pool = ChannelPool(tls, channel_idle_seconds)
        self._metrics = metrics
        self._node_deadline_ms = node_deadline_ms
        self._callers: dict[str, AgencyCaller] = {}
        self._callers_for: Roster | None = None
        self._every: list[AgencyCaller] | None = None
        self.connecting: asyncio.Task[int] | None = None
        """Connecting to every node at start (``connect_at_start``): how many became ready."""

    def roster(self) -> Roster:
        """The nodes routed to now (re-read if the trust directory changed)."""
        return self._nodes.roster() if isinstance(self._nodes, NodeDirectory) else self._nodes

    def _caller(self, roster: Roster, entry: NodeEntry) -> AgencyCaller:
        if roster is not self._callers_for:
            # The directory changed: an entry's address may have too.
            self._callers, self._callers_for, self._every = {}, roster, None
        caller = self._callers.get(entry.node_id)
        if caller is None:
            caller = AgencyCaller(entry, self.pool, self._metrics, self._node_deadline_ms)
            self._callers[entry.node_id] = caller
        return caller

    @property
    def agencies(self) -> list[AgencyCaller]:
        """Every agency routed to now, in reporting order."""
        roster = self.roster()
        if self._every is None or roster is not self._callers_for:
            # Built once per directory read: a search of every agency asks for it each time.
            every = [self._caller(roster, entry) for entry in roster.entries]
            self._every = every
        return list(self._every)

    def unknown(self, node_ids: Collection[str]) -> list[str]:
        """The ids of ``node_ids`` this broker does not route to, sorted."""
        known = self.roster().by_id
        return sorted(n for n in set(node_ids) if n not in known)

    def addressed(self, audience: Collection[str] | None) -> list[AgencyCaller]:
        """The agencies a search goes to: those its signed audience names (None: all)."""
        if audience is None:
            return self.agencies
        roster = self.roster()
        # By position, not by a walk of the whole directory: a search addresses few.
        positions = sorted({roster.by_id[n] for n in audience if n in roster.by_id})
        return [self._caller(roster, roster.entries[i]) for i in positions]

    async def search(
        self,
        request_id: str,
        requester: common_pb2.Requester | None,
        query: common_pb2.PersonQuery | None,
        signed: common_pb2.SignedSearch | None,
        deadline_seconds: float,
        on_outcome: OnOutcome | None = None,
        audience: Collection[str] | None = None,
    ) -> list[AgencyOutcome]:
        """Return one outcome per addressed agency, in configured order, within the deadline.

        ``signed`` goes to every node in ``audience`` (None: every node) as
        the client sent it, except that each node gets only its own query key
        (:func:`node_request`); no other node is asked. ``requester`` and
        ``query`` are the development (insecure) clear fields, sent only
        without ``signed``. If this is cancelled, every call still running is
        cancelled with it.
        """
        addressed = self.addressed(audience)
        if signed is not None:
            keys = {k.node_id: k for k in signed.keys}
            requests = [
                NodeRequest.of(node_request(request_id, signed, keys, a.entry.node_id))
                for a in addressed
            ]
        else:
            clear = node_pb2.NodeServiceSearchRequest(
                request_id=request_id, requester=requester, query=query
            )
            requests = [NodeRequest.of(clear)] * len(addressed)
        calls = [
            asyncio.create_task(a.call(r, deadline_seconds))
            for a, r in zip(addressed, requests, strict=True)
        ]
        try:
            for next_done in asyncio.as_completed(calls):
                outcome = await next_done
                if on_outcome is not None:
                    on_outcome(outcome)
            return [call.result() for call in calls]
        finally:
            for call in calls:
                call.cancel()

    def start(self, *, connect: bool = False) -> None:
        """Start closing idle channels (one task for the whole pool); with ``connect``,
        connect to every node in the background (:attr:`connecting`), 256 at a time."""
        self.pool.start()
        if connect:
            targets = [
                (address, entry.node_id)
                for entry in self.roster().entries
                for address in (entry.address, *entry.replicas)
            ]
            self.connecting = asyncio.create_task(
                self.pool.connect(targets, concurrency=CONNECT_CONCURRENCY, seconds=10.0)
            )

    async def close(self) -> None:
        """Close every channel."""
        if self.connecting is not None:
            self.connecting.cancel()
            await asyncio.gather(self.connecting, return_exceptions=True)
        await self.pool.close()
