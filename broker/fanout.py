"""Fan one search out to every registered agency under one deadline.

Every agency is asked concurrently (see :mod:`broker.straggler` for how long
each may take and when its replicas are asked). An agency that does not answer
in time is marked timed out, one that cannot be reached unreachable, one that
answers with an error status as such; none of them holds up or fails the
others. The broker copies the hits exactly as each node sent them: it cannot
add to what a node released.

The unary ``Search`` and the streamed ``SearchStream`` both run this one
fan-out; the stream only watches each agency's result as it ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence

from fieldgate.broker.config import NodeEntry
from fieldgate.broker.metrics import BrokerMetrics
from fieldgate.broker.straggler import AgencyCaller, AgencyOutcome
from fieldgate.core.tls import TLSFiles
from fieldgate.v2 import common_pb2, node_pb2

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
        nodes: Sequence[NodeEntry],
        tls: TLSFiles | None = None,
        metrics: BrokerMetrics | None = None,
        node_deadline_ms: int | None = None,
    ) -> None:
        """Open long-lived channels to every node of ``nodes`` and their replicas.

        Args:
            nodes: the registered agencies, in the order results are reported.
            tls: mutual TLS files for the channels; None for plaintext.
            metrics: counts node calls and hedges.
            node_deadline_ms: deadline of each node call (``broker.node_deadline_ms``).
        """
        self.agencies = [AgencyCaller(entry, tls, metrics, node_deadline_ms) for entry in nodes]

    def addressed(self, audience: Collection[str] | None) -> list[AgencyCaller]:
        """The agencies a search goes to: those its signed audience names (None: all)."""
        if audience is None:
            return list(self.agencies)
        named = frozenset(audience)  # thousands of nodes: no scan per agency
        return [a for a in self.agencies if a.entry.node_id in named]

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
            requests = [node_request(request_id, signed, keys, a.entry.node_id) for a in addressed]
        else:
            clear = node_pb2.NodeServiceSearchRequest(
                request_id=request_id, requester=requester, query=query
            )
            requests = [clear] * len(addressed)
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

    async def close(self) -> None:
        """Close every channel."""
        await asyncio.gather(*(a.close() for a in self.agencies))
