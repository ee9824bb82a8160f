"""The fault-injection proxy does what each mode says, against a tiny echo server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import pytest

from tests.helpers.faults import FaultProxy, blackhole_listener

TIMEOUT = 5.0  # upper bound for things that must happen
QUIET = 0.3  # how long "nothing arrives" is watched


class EchoServer:
    """Sends every byte back; counts what it received."""

    def __init__(self) -> None:
        self.received = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[object]] = set()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        while self._handlers:
            await asyncio.wait(set(self._handlers))
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            while chunk := await reader.read(65536):
                self.received += len(chunk)
                writer.write(chunk)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.transport.abort()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            self._writers.discard(writer)
            self._handlers.discard(task)


async def _connect(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, _, port = address.rpartition(":")
    return await asyncio.wait_for(asyncio.open_connection(host, int(port)), TIMEOUT)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await asyncio.wait_for(writer.drain(), TIMEOUT)


async def _nothing_arrives(reader: asyncio.StreamReader) -> bool:
    """True if no byte (and no end of stream) arrives within QUIET seconds."""
    try:
        await asyncio.wait_for(reader.read(1), QUIET)
    except TimeoutError:
        return True
    return False


async def _peer_closes(reader: asyncio.StreamReader) -> None:
    """Return once the peer closes or resets the connection; fail after TIMEOUT."""
    with contextlib.suppress(ConnectionResetError):
        while await asyncio.wait_for(reader.read(65536), TIMEOUT):
            pass


def _no_other_task() -> bool:
    return asyncio.all_tasks() == {asyncio.current_task()}


Scenario = Callable[[FaultProxy, EchoServer], Awaitable[None]]


def _run(scenario: Scenario, **proxy_options: object) -> None:
    """Run ``scenario`` with an echo server and a proxy to it; check nothing is left over."""

    async def main() -> None:
        echo = EchoServer()
        proxy = FaultProxy(await echo.start(), **proxy_options)  # type: ignore[arg-type]
        try:
            await scenario(proxy, echo)
        finally:
            await proxy.stop()
            await echo.stop()
        assert proxy.open_connections == 0
        assert _no_other_task()

    asyncio.run(main())


def test_pass_forwards_both_ways_in_order() -> None:
    async def scenario(proxy: FaultProxy, echo: EchoServer) -> None:
        reader, writer = await _connect(await proxy.start())
        payload = bytes(range(256)) * 2000  # many chunks
        await _send(writer, payload)
        assert await asyncio.wait_for(reader.readexactly(len(payload)), TIMEOUT) == payload
        assert echo.received == len(payload)
        assert proxy.forwarded == 2 * len(payload)
        await _close(writer)

    _run(scenario)


def test_delay_holds_each_chunk_without_accumulating() -> None:
    delay = 0.3

    async def scenario(proxy: FaultProxy, echo: EchoServer) -> None:
        reader, writer = await _connect(await proxy.start())
        loop = asyncio.get_running_loop()
        started = loop.time()
        for part in (b"a", b"b", b"c", b"d", b"e"):
            await _send(writer, part)
        assert await asyncio.wait_for(reader.readexactly(5), TIMEOUT) == b"abcde"
        elapsed = loop.time() - started
        assert elapsed >= 2 * delay - 0.02  # held once each way
        assert elapsed < 5 * 2 * delay  # not once per chunk
        await _close(writer)

    _run(scenario, mode="delay", delay=delay)


def test_delay_holds_a_chunk_for_the_whole_delay() -> None:
    async def scenario(proxy: FaultProxy, echo: EchoServer) -> None:
        reader, writer = await _connect(await proxy.start())
        await _send(writer, b"ping")
        assert await _nothing_arrives(reader)
        assert echo.received == 0
        assert await asyncio.wait_for(reader.readexactly(4), TIMEOUT) == b"ping"
        await _close(writer)

    _run(scenario, mode="delay", delay=1.0)


def test_blackhole_reads_but_never_forwards_nor_answers() -> None:
    async def scenario(proxy: FaultProxy, echo: EchoServer) -> None:
        reader, writer = await _connect(await proxy.start())
        await _send(writer, b"x" * 1000)
        await asyncio.wait_for(proxy.wait_until(lambda: proxy.dropped >= 1000), TIMEOUT)
        assert await _nothing_arrives(reader)
        assert echo.received == 0
        assert proxy.accepted == 1
        assert proxy.open_connections == 1  # still held open
        await _close(writer)

    _run(scenario, mode="blackhole")


def test_reset_mode_resets_new_connections() -> None:
    async def scenario(proxy: FaultProxy, echo: EchoServer) -> None:
        reader, writer = await _connect(await proxy.start())
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(1), TIMEOUT)
        assert echo.received == 0
        await _close(writer)

    _run(scenario, mode="reset")


def test_switching_mode_applies_to_open_connections() -> None:
    async def scenario(proxy: FaultProxy, echo: EchoServer) -> None:
        address = await proxy.start()
        reader, writer = await _connect(address)
        await _send(writer, b"hello")
        assert await asyncio.wait_for(reader.readexactly(5), TIMEOUT) == b"hello"

        proxy.mode = "blackhole"
        await _send(writer, b"lost")
        await asyncio.wait_for(proxy.wait_until(lambda: proxy.dropped >= 4), TIMEOUT)
        assert await _nothing_arrives(reader)
        assert echo.received == 5

        proxy.mode = "reset"
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(1), TIMEOUT)
        await asyncio.wait_for(proxy.wait_until(lambda: proxy.open_connections == 0), TIMEOUT)
        await _close(writer)

        proxy.mode = "pass"  # a fresh connection works again
        reader, writer = await _connect(address)
        await _send(writer, b"again")
        assert await asyncio.wait_for(reader.readexactly(5), TIMEOUT) == b"again"
        await _close(writer)

    _run(scenario)


def test_reset_connections_drops_open_connections_only() -> None:
    async def scenario(proxy: FaultProxy, echo: EchoServer) -> None:
        address = await proxy.start()
        reader, writer = await _connect(address)
        await _send(writer, b"one")
        assert await asyncio.wait_for(reader.readexactly(3), TIMEOUT) == b"one"
        proxy.reset_connections()
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(1), TIMEOUT)
        await _close(writer)
        assert proxy.mode == "pass"
        reader, writer = await _connect(address)
        await _send(writer, b"two")
        assert await asyncio.wait_for(reader.readexactly(3), TIMEOUT) == b"two"
        await _close(writer)

    _run(scenario)


def test_stop_closes_every_connection_and_the_listener() -> None:
    async def scenario(proxy: FaultProxy, echo: EchoServer) -> None:
        address = await proxy.start()
        idle_reader, idle_writer = await _connect(address)
        held_reader, held_writer = await _connect(address)
        await _send(held_writer, b"in flight")  # held by the delay when stop() comes
        await asyncio.wait_for(proxy.wait_until(lambda: proxy.open_connections == 2), TIMEOUT)
        await proxy.stop()
        assert proxy.open_connections == 0
        await _peer_closes(idle_reader)
        await _peer_closes(held_reader)
        with pytest.raises(ConnectionRefusedError):
            await _connect(address)
        await _close(idle_writer)
        await _close(held_writer)

    _run(scenario, mode="delay", delay=30.0)


def test_unreachable_target_closes_the_client() -> None:
    async def main() -> None:
        echo = EchoServer()
        gone = await echo.start()
        await echo.stop()  # nothing listens there any more
        async with FaultProxy(gone) as address:
            reader, writer = await _connect(address)
            await _peer_closes(reader)
            await _close(writer)
        assert _no_other_task()

    asyncio.run(main())


def test_unknown_mode_is_refused() -> None:
    proxy = FaultProxy("127.0.0.1:1")
    with pytest.raises(ValueError, match="unknown mode"):
        proxy.mode = "drop"  # type: ignore[assignment]


def test_blackhole_listener_accepts_and_never_answers() -> None:
    async def main() -> None:
        async with blackhole_listener() as address:
            reader, writer = await _connect(address)
            await _send(writer, b"anyone there?")
            assert await _nothing_arrives(reader)
        await _peer_closes(reader)
        await _close(writer)
        assert _no_other_task()
        with pytest.raises(ConnectionRefusedError):
            await _connect(address)

    asyncio.run(main())


def test_drip_forwards_one_byte_at_a_time_in_order() -> None:
    interval = 0.02

    async def scenario(proxy: FaultProxy, echo: EchoServer) -> None:
        reader, writer = await _connect(await proxy.start())
        loop = asyncio.get_running_loop()
        started = loop.time()
        await _send(writer, b"abcdefghij")
        # The echo server sees the bytes trickle in: never the whole chunk at once.
        first = await asyncio.wait_for(reader.read(65536), TIMEOUT)
        assert len(first) < 10
        got = first + await asyncio.wait_for(reader.readexactly(10 - len(first)), TIMEOUT)
        assert got == b"abcdefghij"
        assert loop.time() - started >= 9 * interval  # at least one interval per byte
        # Switched back to pass, the rest goes at once.
        proxy.mode = "pass"
        await _send(writer, b"xyz")
        assert await asyncio.wait_for(reader.readexactly(3), TIMEOUT) == b"xyz"
        await _close(writer)

    _run(scenario, mode="drip", drip_interval=interval)
