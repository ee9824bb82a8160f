"""Fault injection on loopback TCP: a proxy with switchable faults, and a hung listener.

:class:`FaultProxy` sits between a client (a gRPC channel, say) and a server and
forwards bytes both ways; its :attr:`~FaultProxy.mode` can be switched at any time:

- ``"pass"``: forward every chunk as soon as it is read.
- ``"delay"``: forward every chunk :attr:`~FaultProxy.delay` seconds after it was read
  (order kept; the delay does not accumulate across chunks).
- ``"drip"``: forward one byte at a time, :attr:`~FaultProxy.drip_interval` seconds apart
  (a slow-drip link: the connection stays alive, the bytes barely move).
- ``"blackhole"``: keep accepting and reading, never forward anything nor answer. A
  connection accepted in this mode never opens an upstream connection.
- ``"reset"``: reset (TCP RST) every open connection at once and every new one on accept.

The mode is read per chunk, so switching affects open connections too. Bytes
dropped while blackholed are gone: a protocol stream (HTTP/2) that crossed a
blackhole is usually broken; call :meth:`FaultProxy.reset_connections` to make
the client reconnect.

:func:`blackhole_listener` is a listener that accepts and never answers: a hung node.

Everything is bounded: :meth:`FaultProxy.stop` closes the listener and every
connection, and returns only when every task the proxy started has finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Callable
from typing import Literal, get_args

Mode = Literal["pass", "delay", "drip", "blackhole", "reset"]
"""What the proxy does with the bytes it reads."""

_CHUNK = 65536
_Item = tuple[float, bytes] | None  # (due time, chunk), or None for end of stream


def _abort(writer: asyncio.StreamWriter, *, rst: bool) -> None:
    """Close ``writer``'s connection now, with a TCP reset if ``rst``."""
    if rst:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _closed(writer: asyncio.StreamWriter) -> None:
    """Wait until ``writer``'s transport has really released its socket."""
    with contextlib.suppress(OSError, RuntimeError):
        await writer.wait_closed()


class _Link:
    """One accepted connection, its upstream connection and the tasks moving its bytes."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.tasks: list[asyncio.Task[None]] = []

    def kill(self, *, rst: bool) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                _abort(writer, rst=rst)
        for task in self.tasks:
            task.cancel()


class FaultProxy:
    """A loopback TCP proxy whose faults can be switched while it runs.

    Usable as ``async with FaultProxy(target) as address: ...``.

    Attributes:
        target: ``"host:port"`` of the server connections are forwarded to.
        delay: seconds each chunk is held in ``"delay"`` mode.
        drip_interval: seconds between two bytes in ``"drip"`` mode.
        accepted: connections accepted so far.
        forwarded: bytes forwarded so far (both directions).
        dropped: bytes read and dropped so far (blackholed).
    """

    def __init__(
        self, target: str, *, mode: Mode = "pass", delay: float = 0.5, drip_interval: float = 0.01
    ) -> None:
        """Prepare a proxy to ``target``; nothing listens until :meth:`start`."""
        self.target = target
        self.delay = delay
        self.drip_interval = drip_interval
        self.accepted = 0
        self.forwarded = 0
        self.dropped = 0
        self._server: asyncio.Server | None = None
        self._closing = False
        self._links: set[_Link] = set()
        self._handlers: set[asyncio.Task[object]] = set()
        self._changed = asyncio.Event()
        self._mode: Mode = "pass"
        self.mode = mode

    @property
    def mode(self) -> Mode:
        """The current fault; setting ``"reset"`` resets every open connection at once."""
        return self._mode

    @mode.setter
    def mode(self, value: Mode) -> None:
        if value not in get_args(Mode):
            raise ValueError(f"unknown mode {value!r}; use one of {get_args(Mode)}")
        self._mode = value
        if value == "reset":
            self.reset_connections()

    @property
    def open_connections(self) -> int:
        """Accepted connections not yet closed."""
        return len(self._links)

    async def start(self) -> str:
        """Listen on 127.0.0.1 on a free port and return ``"127.0.0.1:PORT"``."""
        if self._server is not None:
            raise RuntimeError("proxy already started")
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"127.0.0.1:{port}"

    def reset_connections(self) -> None:
        """Reset every open connection (client and upstream side) with a TCP RST."""
        for link in list(self._links):
            link.kill(rst=True)

    async def stop(self) -> None:
        """Stop listening, close every connection and wait for every task to finish."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.kill(rst=False)
        while self._handlers:
            await asyncio.wait(set(self._handlers))
        if self._server is not None:
            await self._server.wait_closed()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds, rechecking whenever a counter changes.

        Bound it: ``await asyncio.wait_for(proxy.wait_until(lambda: ...), 5)``.
        """
        while not predicate():
            self._changed.clear()
            await self._changed.wait()

    async def __aenter__(self) -> str:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _count(self, forwarded: int = 0, dropped: int = 0, accepted: int = 0) -> None:
        self.forwarded += forwarded
        self.dropped += dropped
        self.accepted += accepted
        self._changed.set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Runs as the task asyncio.start_server creates: it must return, never raise or be
        # cancelled, so stop() kills the link's own tasks and waits for this one.
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        link = _Link(writer)
        try:
            self._count(accepted=1)
            if self._closing or self._mode == "reset":
                link.kill(rst=not self._closing)
                return
            self._links.add(link)
            if self._mode == "blackhole":
                link.tasks.append(asyncio.create_task(self._sink(reader)))
            elif not await self._connect(link, reader):
                return
            await asyncio.gather(*link.tasks, return_exceptions=True)
        finally:
            self._links.discard(link)
            link.kill(rst=False)
            await _closed(writer)
            if link.upstream is not None:
                await _closed(link.upstream)
            self._handlers.discard(task)
            self._changed.set()

    async def _connect(self, link: _Link, client: asyncio.StreamReader) -> bool:
        host, _, port = self.target.rpartition(":")
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(host, int(port)), timeout=5
            )
        except (OSError, TimeoutError):
            return False
        link.upstream = upstream_writer
        if self._closing or link.client.transport.is_closing():
            return False
        for source, sink in ((client, upstream_writer), (upstream_reader, link.client)):
            queue: asyncio.Queue[_Item] = asyncio.Queue()
            link.tasks.append(asyncio.create_task(self._read(link, source, queue)))
            link.tasks.append(asyncio.create_task(self._send(link, queue, sink)))
        return True

    async def _drip(self, chunk: bytes, sink: asyncio.StreamWriter) -> None:
        """Forward ``chunk`` a byte at a time (the rest at once if the mode changes meanwhile)."""
        for index in range(len(chunk)):
            if self._mode != "drip":
                sink.write(chunk[index:])
                await sink.drain()
                self._count(forwarded=len(chunk) - index)
                return
            sink.write(chunk[index : index + 1])
            await sink.drain()
            self._count(forwarded=1)
            await asyncio.sleep(self.drip_interval)

    async def _sink(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(OSError):
            while chunk := await reader.read(_CHUNK):
                self._count(dropped=len(chunk))

    async def _read(
        self, link: _Link, source: asyncio.StreamReader, queue: asyncio.Queue[_Item]
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            while chunk := await source.read(_CHUNK):
                if self._mode == "blackhole":
                    self._count(dropped=len(chunk))
                elif self._mode == "reset":
                    link.kill(rst=True)
                    return
                else:
                    held = self.delay if self._mode == "delay" else 0.0
                    queue.put_nowait((loop.time() + held, chunk))
        except OSError:
            link.kill(rst=True)
            return
        if self._mode != "blackhole":  # a blackhole does not pass the end of stream on either
            queue.put_nowait(None)

    async def _send(
        self, link: _Link, queue: asyncio.Queue[_Item], sink: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            while (item := await queue.get()) is not None:
                due, chunk = item
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                if self._mode == "drip":
                    await self._drip(chunk, sink)
                    continue
                sink.write(chunk)
                await sink.drain()
                self._count(forwarded=len(chunk))
            if sink.can_write_eof() and not sink.transport.is_closing():
                sink.write_eof()
        except OSError:
            link.kill(rst=True)


@contextlib.asynccontextmanager
async def blackhole_listener() -> AsyncIterator[str]:
    """Listen on loopback, accept every connection, read it and never answer: a hung node.

    Yields:
        ``"127.0.0.1:PORT"``. On exit every connection is closed and every task finished.
    """
    proxy = FaultProxy("127.0.0.1:9", mode="blackhole")  # the target is never contacted
    address = await proxy.start()
    try:
        yield address
    finally:
        await proxy.stop()
