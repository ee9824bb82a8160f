"""The straggler policy: how long one agency may take, and hedging to its replicas.

Every call to a node gets the broker's per-node deadline (``node_deadline_ms``),
capped by what is left of the search's deadline, so one slow agency is marked
timed out while the search still has time to answer with the others.

An agency whose broker entry lists ``replicas`` (the same agency's standby
nodes, answering as the same node id) is asked again when it lags: if no good
answer came ``hedge_after_ms`` after the last call was sent — or every call
sent so far has failed — the same request goes to the next replica. The first
good answer wins and the calls still running are cancelled, so the merged
answer holds that agency once. The request is the investigator's signed search,
untouched: each replica verifies it and keeps its own replay cache, so the
nonce it carries is fresh there too. An answer is good only if it names this
agency's node id and this search's request id (see :mod:`broker.node_client`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from fieldgate.broker.channel_pool import ChannelPool
from fieldgate.broker.config import NodeEntry
from fieldgate.broker.metrics import BrokerMetrics
from fieldgate.broker.node_client import SEARCH_DEADLINE_DETAIL, NodeRequest, node_deadline_detail
from fieldgate.v2 import broker_pb2


@dataclass(frozen=True)
class AgencyOutcome:
    """One agency's part of a search, with the addresses the broker asked for it."""

    result: broker_pb2.AgencyResult
    """What the requester is told about this agency."""
    asked: tuple[str, ...]
    """Every address asked, primary first, then the replicas hedged to."""
    answered_by: str
    """The address whose answer ``result`` carries; empty when none answered."""


class AgencyCaller:
    """Asks one agency: its node, then its replicas when the node lags or fails."""

    def __init__(
        self,
        entry: NodeEntry,
        pool: ChannelPool,
        metrics: BrokerMetrics | None = None,
        node_deadline_ms: int | None = None,
    ) -> None:
        """Ask ``entry``'s node and its replicas over channels from ``pool``.

        Args:
            entry: the agency, its address, replicas and hedging delay.
            pool: the broker's channels (each opened on its first call).
            metrics: counts node calls and hedges.
            node_deadline_ms: deadline of each call; None gives each call the
                rest of the search's deadline.
        """
        self.entry = entry
        self._addresses = (entry.address, *entry.replicas)
        self._pool = pool
        self._metrics = metrics
        self._node_deadline_ms = node_deadline_ms

    async def call(self, request: NodeRequest, deadline_seconds: float) -> AgencyOutcome:
        """Ask the agency within ``deadline_seconds``; never raises for a node failure."""
        end = time.monotonic() + deadline_seconds
        if len(self._addresses) == 1:
            result = await self._attempt(0, request, end)
            answered = result.status == broker_pb2.NODE_STATUS_ANSWERED
            by = self.entry.address if answered else ""
            return AgencyOutcome(result, (self.entry.address,), by)
        return await self._hedged(request, end)

    async def _attempt(
        self, index: int, request: NodeRequest, end: float
    ) -> broker_pb2.AgencyResult:
        started = time.monotonic()
        remaining = end - started
        timeout, detail = remaining, SEARCH_DEADLINE_DETAIL
        if self._node_deadline_ms is not None and self._node_deadline_ms / 1000 < remaining:
            timeout = self._node_deadline_ms / 1000
            detail = node_deadline_detail(self._node_deadline_ms)
        async with self._pool.channel(self._addresses[index], self.entry.node_id) as channel:
            result = await channel.ask(self.entry, request, timeout, detail)
        if self._metrics is not None:
            # Per-node latency is for operators only; the requester never sees it.
            self._metrics.node_call(self.entry.node_id, result.status, time.monotonic() - started)
        return result

    async def _hedged(self, request: NodeRequest, end: float) -> AgencyOutcome:
        hedge_after = self.entry.hedge_after_ms / 1000
        running: dict[asyncio.Task[broker_pb2.AgencyResult], int] = {}
        failed: dict[int, broker_pb2.AgencyResult] = {}
        addresses = self._addresses
        sent = 0

        def send() -> float:
            nonlocal sent
            running[asyncio.create_task(self._attempt(sent, request, end))] = sent
            if sent and self._metrics is not None:
                self._metrics.hedge_sent(self.entry.node_id)
            sent += 1
            return time.monotonic() + hedge_after

        next_hedge = send()
        try:
            while running:
                wait = max(0.0, next_hedge - time.monotonic()) if sent < len(addresses) else None
                done, _ = await asyncio.wait(
                    running, timeout=wait, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    index = running.pop(task)
                    result = task.result()
                    if result.status == broker_pb2.NODE_STATUS_ANSWERED:
                        if index and self._metrics is not None:
                            self._metrics.hedge_won(self.entry.node_id)
                        return AgencyOutcome(result, tuple(addresses[:sent]), addresses[index])
                    failed[index] = result
                lagging = not done and time.monotonic() >= next_hedge
                if sent < len(addresses) and (lagging or not running) and time.monotonic() < end:
                    next_hedge = send()
        finally:
            # The first good answer won (or the search was cancelled): stop the rest.
            for task in running:
                task.cancel()
        # Every call failed: report the agency's own node, as without replicas.
        result = failed[0]
        if sent > 1:
            result.detail += f" (and {sent - 1} replica(s) did not answer either)"
        return AgencyOutcome(result, tuple(addresses[:sent]), "")
