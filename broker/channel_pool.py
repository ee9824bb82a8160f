"""The broker's channels to nodes: opened on first use, reused, closed once idle.

A broker of a national federation routes to thousands of nodes, most of which
a given search does not address. Opening a channel per node at start would
dial them all before the first search and hold a socket per node forever, so
the pool opens a node's channel the first time a search asks it, keeps it for
the next searches, and closes it after ``idle_seconds`` without one. There is
no thread and no timer per node: every channel is driven by the broker's one
event loop, and one sweep task closes the idle ones.

Channels are keyed by (address, node id): the node id is the TLS name the
node's certificate must carry, so two agencies behind one address never share
a channel. A channel in use by a call is never closed under it.

The broker's TLS credentials are read once and reused for every channel, and
read again at each sweep, so a renewed broker certificate reaches every
channel opened after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

import grpc

from fieldgate.broker.node_client import NodeChannel
from fieldgate.core.tls import TLSFiles

log = logging.getLogger("fieldgate.broker")


@dataclass
class _Held:
    channel: NodeChannel
    in_use: int = 0
    last_used: float = 0.0


class ChannelPool:
    """Every channel the broker holds to nodes, opened lazily and closed when idle."""

    def __init__(
        self,
        tls: TLSFiles | None,
        idle_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """A pool of channels over mutual TLS with ``tls`` (None: plaintext).

        Args:
            tls: the broker's TLS files; None for plaintext.
            idle_seconds: a channel unused this long is closed by :meth:`sweep`.
            clock: monotonic seconds (tests may pass another).
        """
        self._tls = tls
        self._credentials: grpc.ChannelCredentials | None = None
        self._idle = idle_seconds
        self._clock = clock
        self._held: dict[tuple[str, str], _Held] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self.opened = 0
        """Channels opened since start (a channel reopened after idling counts again)."""
        self.connected = 0
        """Channels :meth:`connect` found ready (0 until it has run)."""

    @property
    def open_channels(self) -> int:
        """Channels open now."""
        return len(self._held)

    def _credentials_now(self) -> grpc.ChannelCredentials | None:
        if self._tls is None:
            return None
        if self._credentials is None:
            self._credentials = self._tls.channel_credentials()
        return self._credentials

    @contextlib.asynccontextmanager
    async def channel(self, address: str, node_id: str) -> AsyncIterator[NodeChannel]:
        """The channel to ``address`` as ``node_id``, opened if none is held, for one call."""
        key = (address, node_id)
        held = self._held.get(key)
        if held is None:
            held = _Held(NodeChannel(address, self._credentials_now(), node_id))
            self._held[key] = held
            self.opened += 1
        held.in_use += 1
        try:
            yield held.channel
        finally:
            held.in_use -= 1
            held.last_used = self._clock()

    async def connect(
        self, targets: Iterable[tuple[str, str]], *, concurrency: int, seconds: float
    ) -> int:
        """Open and connect a channel to each (address, node id), ``concurrency`` at a time.

        For ``[broker.fanout] connect_at_start``: the first search then finds the
        handshakes done. Never raises for a node that is down; how many became
        ready within ``seconds`` each.
        """
        gate = asyncio.Semaphore(concurrency)

        async def one(address: str, node_id: str) -> bool:
            async with gate, self.channel(address, node_id) as channel:
                return await channel.ready(seconds)

        done = await asyncio.gather(*(one(a, n) for a, n in targets))
        self.connected = sum(done)
        return self.connected

    async def sweep(self) -> int:
        """Close every channel idle for ``idle_seconds`` and not in use; how many were closed."""
        cutoff = self._clock() - self._idle
        idle = [k for k, h in self._held.items() if h.in_use == 0 and h.last_used <= cutoff]
        closing = [self._held.pop(k).channel for k in idle]
        await asyncio.gather(*(c.close() for c in closing))
        if self._tls is not None:
            # Renewed certificate files reach the channels opened from now on.
            self._credentials = None
        return len(closing)

    def start(self) -> None:
        """Start the one sweep task (every half ``idle_seconds``) on the running loop."""

        async def sweeping() -> None:
            while True:
                await asyncio.sleep(self._idle / 2)
                closed = await self.sweep()
                if closed:
                    log.debug("closed %d idle node channel(s)", closed)

        self._sweeper = asyncio.create_task(sweeping())

    async def close(self) -> None:
        """Stop sweeping and close every channel."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        held, self._held = list(self._held.values()), {}
        await asyncio.gather(*(h.channel.close() for h in held))
