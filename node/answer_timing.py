"""Every answer leaves at a fixed time after its request arrived: timing tells nothing.

A search for a person the agency holds does more work than one for a person
it does not: the contract is asked about each record, a hit is built for each
released one. Without care that work shows in the answer's arrival time, and a
patient requester can tell "held but denied" from "absent" by the clock alone
(issue 16 measured 85–92 % for a person with 60 bookings). So the node does
not send an answer when its work is done but at a **deadline** fixed at
receipt: ``received + floor``.

The floor is chosen above the node's own p99 search time, so nearly every
answer leaves exactly on it. When the work overruns it (a busy machine, a slow
contract), the answer leaves at the next whole multiple of the floor
(``received + k·floor``): an overrun reveals only which step it fell into, and
steps are caused by load far more often than by the person searched for.

Cost: every search takes at least ``floor`` at this node (100 ms by default)
instead of the 1–30 ms its work takes. A broker fans out to every node at
once, so an investigator waits one floor, not one per agency; against a
person-search whose answer a human reads, 100 ms is invisible, while the leak
it closes is the one thing the contract exists to withhold (see
docs/reliability.md for the measured figures).

The hold is a gRPC server interceptor around the node's ``Search`` (unary and
any server-streaming method), so it covers every way the servicer ends: an
answer, a not-found answer for an unverifiable search, a refusal, an error.

**A busy machine.** The floor only hides work that fits under it. On a
machine whose load is several times its CPUs (2 cores at load 6–10), the
sixty-record person's work took 130 ms and more in median and overran a fixed
100 ms floor on 40 % of searches against 3 % for an absent person: every
overrun is an answer the clock sorts right (62.9 % accuracy over 1,000
searches per case). So by default the floor scales with the machine's load,
read at receipt: the one-minute load average per CPU, rounded up to a power
of two and capped at ``max_load_factor`` (default 8: 1, 2, 4 or 8 floors).
A quiet node answers at 100 ms; one loaded twice over at 200–400 ms; none
later than 800 ms (well inside the broker's 3 s search deadline).

Why the load and not the node's own measured work (say a rolling p99 of
search time): the requester steers the work. Searching one person over and
over fills the window with that person's work, and if the floor then steps
up for everyone, the step says the person is held and heavy; the guarantee
would depend on the mix of persons searched. The load average is the whole
machine's, averaged over a minute: one search moves it by a few hundredths at
most, and the factor only changes where it crosses a power of two, so what
it reveals of other searches is slight and slow; what it costs is latency
only while the machine is overloaded, exactly when a held person's answer
would otherwise stand out.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, cast

import grpc

from fieldgate.core.config import ConfigError, Section

DEFAULT_FLOOR_SECONDS = 0.1
"""The default answer time: above the measured p99 of a node's own search work
(a person with 60 records under the sanctuary contract: 26 ms median, under
60 ms at p99 on 2 shared cores), with room for a loaded machine."""

DEFAULT_MAX_LOAD_FACTOR = 8
"""Most floors the hold scales to by default on a loaded machine (800 ms at the
default floor): the guarantee holds on a busy node without tuning."""

Behavior = Callable[[Any, "grpc.aio.ServicerContext[Any, Any]"], Awaitable[Any]]
StreamBehavior = Callable[[Any, "grpc.aio.ServicerContext[Any, Any]"], AsyncIterator[Any]]


@dataclass(frozen=True)
class AnswerTimingConfig:
    """``[node.timing]``: when answers leave."""

    floor_seconds: float = DEFAULT_FLOOR_SECONDS
    """Every answer leaves this long after its request arrived (or at a whole
    multiple of it when the work overran); 0 turns the hold off (tests of other
    things only: timing then tells held from absent)."""

    max_load_factor: int = DEFAULT_MAX_LOAD_FACTOR
    """Most floors the hold may scale to on a loaded machine (1, 2, 4 or 8; see the
    module docstring); 1 keeps the floor fixed (a held person's work then
    shows whenever an overloaded machine makes it overrun the floor)."""


def timing_config(parent: Section) -> AnswerTimingConfig:
    """Read ``[node.timing]`` under ``parent`` (every key optional)."""
    if not parent.has("timing"):
        return AnswerTimingConfig()
    section = parent.section("timing")
    milliseconds = section.number("answer_floor_ms", DEFAULT_FLOOR_SECONDS * 1000, minimum=0.0)
    factor = section.integer("max_load_factor", DEFAULT_MAX_LOAD_FACTOR, minimum=1)
    if factor not in (1, 2, 4, 8):
        raise ConfigError(section._key("max_load_factor"), f"must be 1, 2, 4 or 8, not {factor}")
    section.finish()
    return AnswerTimingConfig(floor_seconds=milliseconds / 1000, max_load_factor=factor)


def load_factor(load: float, cpus: int, cap: int) -> int:
    """How many floors a machine with this load calls for: a power of two, at most ``cap``.

    ``load`` is the one-minute load average, ``cpus`` the CPUs it is shared by.
    """
    ratio = load / max(1, cpus)
    factor = 1
    while factor < ratio and factor * 2 <= cap:
        factor *= 2
    return factor


def machine_load_factor(cap: int) -> int:
    """:func:`load_factor` of this machine now (1 where the load average is unknown)."""
    if cap <= 1:
        return 1
    try:
        load = os.getloadavg()[0]
    except OSError:
        return 1
    return load_factor(load, os.cpu_count() or 1, cap)


def leave_at(received: float, now: float, floor: float) -> float:
    """When an answer to a request received at ``received`` may leave, given it is ``now``.

    ``received + floor`` if the work is done by then, else the next whole
    multiple of ``floor`` after ``received`` (so an overrun shows only its step).
    """
    if floor <= 0:
        return now
    steps = max(1, math.ceil((now - received) / floor))
    return received + steps * floor


class AnswerTiming(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Holds every answer of the named methods until its deadline (see the module doc)."""

    def __init__(
        self,
        floor_seconds: float,
        methods: Collection[str],
        clock: Callable[[], float] = time.monotonic,
        max_load_factor: int = DEFAULT_MAX_LOAD_FACTOR,
        load: Callable[[int], int] = machine_load_factor,
    ) -> None:
        """Hold answers of ``methods`` (full names, ``/fieldgate.v2.NodeService/Search``).

        ``max_load_factor`` and ``load`` (the factor for a cap; tests inject
        one): see :func:`machine_load_factor`.
        """
        self.floor = floor_seconds
        self._methods = frozenset(methods)
        self._clock = clock
        self._max_factor = max_load_factor
        self._load = load
        self.overruns = 0
        """Answers whose work overran the floor (left at a later step); an
        operator raises the floor when this grows."""

    def floor_at_receipt(self) -> float:
        """The floor for a request arriving now: the fixed floor, scaled by the machine's load."""
        return self.floor * self._load(self._max_factor)

    async def hold(self, received: float, floor: float | None = None) -> None:
        """Sleep until the answer to a request received at ``received`` may leave.

        ``floor``: the request's floor as read at receipt (default the fixed one).
        """
        floor = self.floor if floor is None else floor
        now = self._clock()
        until = leave_at(received, now, floor)
        if until - received > floor:
            self.overruns += 1
        if until > now:
            await asyncio.sleep(until - now)

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        if handler is None or self.floor <= 0 or handler_call_details.method not in self._methods:
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._held_unary(cast(Behavior, handler.unary_unary)),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._held_stream(cast(StreamBehavior, handler.unary_stream)),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _held_unary(self, behavior: Behavior) -> Behavior:
        async def held(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            call = _HeldCall(self, context, self._clock(), self.floor_at_receipt())
            try:
                return await behavior(request, call)  # type: ignore[arg-type]
            finally:
                # Answers, refusals and errors alike: the status leaves on time too.
                await call.hold_once()

        return held

    def _held_stream(self, behavior: StreamBehavior) -> StreamBehavior:
        async def held(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            call = _HeldCall(self, context, self._clock(), self.floor_at_receipt())
            # The whole answer is gathered first: a stream's first message must
            # not leave earlier for one person than for another.
            messages: list[Any] = []
            try:
                async for message in behavior(request, call):  # type: ignore[arg-type]
                    messages.append(message)
            finally:
                await call.hold_once()
            for message in messages:
                yield message

        return held


class _HeldCall:
    """The servicer's context, except that ``abort`` also waits for the deadline.

    grpc.aio sends an aborted call's status at once, before the handler's
    exception reaches the interceptor; so the wait happens inside ``abort``.
    """

    def __init__(
        self,
        timing: AnswerTiming,
        context: grpc.aio.ServicerContext[Any, Any],
        received: float,
        floor: float,
    ) -> None:
        self._timing = timing
        self._context = context
        self._received = received
        self._floor = floor
        self._held = False

    async def hold_once(self) -> None:
        """Wait for the deadline, unless this call already did."""
        if not self._held:
            self._held = True
            await self._timing.hold(self._received, self._floor)

    async def abort(self, code: grpc.StatusCode, details: str = "", *args: Any) -> None:
        await self.hold_once()
        await self._context.abort(code, details, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)
