"""The answer floor scales with the machine's load (``[node.timing] max_load_factor``, default 8).

On a machine loaded several times over, a held person's work overran the
fixed floor on 40 % of searches against 3 % for an absent person; the
load-scaled floor (on by default) keeps that work under the hold. These tests pin the rule
(a power of two of load per CPU, capped, read at receipt), its configuration,
and that a real node's answers wait the scaled floor through real gRPC.
"""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from fieldgate.core.config import ConfigError, Section
from fieldgate.node.answer_timing import AnswerTiming, load_factor, timing_config
from fieldgate.v2 import common_pb2, node_pb2, node_pb2_grpc
from tests.helpers.federation import LoopThread

pytestmark = [pytest.mark.timing, pytest.mark.timeout(120)]

METHOD = "/fieldgate.v2.NodeService/Search"


@pytest.mark.parametrize(
    ("load", "cpus", "cap", "factor"),
    [
        (0.3, 2, 8, 1),
        (2.0, 2, 8, 1),  # one runnable task per CPU: not overloaded
        (2.1, 2, 8, 2),
        (8.0, 2, 8, 4),
        (8.1, 2, 8, 8),
        (100.0, 2, 8, 8),  # capped
        (100.0, 2, 4, 4),
        (100.0, 2, 1, 1),  # off
        (5.0, 0, 8, 8),  # no CPU count: taken as one
    ],
)
def test_the_factor_is_a_capped_power_of_two_of_load_per_cpu(
    load: float, cpus: int, cap: int, factor: int
) -> None:
    assert load_factor(load, cpus, cap) == factor


def test_the_factor_is_configured_as_a_power_of_two() -> None:
    def read(value: object) -> int:
        section = Section({"timing": {"max_load_factor": value}}, "node", Path("."))
        return timing_config(section).max_load_factor

    assert read(4) == 4
    # On by default: the guarantee must hold on a busy node without tuning.
    assert timing_config(Section({}, "node", Path("."))).max_load_factor == 8
    assert read(1) == 1  # an operator may still fix the floor
    with pytest.raises(ConfigError, match=r"node\.timing\.max_load_factor"):
        read(3)


class _Echo(node_pb2_grpc.NodeServiceServicer):
    async def Search(
        self, request: node_pb2.NodeServiceSearchRequest, context: object
    ) -> node_pb2.NodeServiceSearchResponse:
        return node_pb2.NodeServiceSearchResponse(request_id=request.request_id)


def test_answers_wait_the_floor_the_load_called_for_at_receipt(loop: LoopThread) -> None:
    floor = 0.05
    seen: list[int] = []

    def loaded(cap: int) -> int:
        seen.append(cap)
        return 4

    async def serve() -> tuple[grpc.aio.Server, int]:
        server = grpc.aio.server(
            interceptors=[AnswerTiming(floor, (METHOD,), max_load_factor=8, load=loaded)]
        )
        node_pb2_grpc.add_NodeServiceServicer_to_server(_Echo(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return server, port

    server, port = loop.run(serve())
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = node_pb2_grpc.NodeServiceStub(channel)
            started = time.perf_counter()
            stub.Search(
                node_pb2.NodeServiceSearchRequest(request_id="r", query=common_pb2.PersonQuery()),
                timeout=10,
            )
            took = time.perf_counter() - started
    finally:
        loop.run(server.stop(0))
    assert seen == [8]  # read once, at receipt, with the configured cap
    assert took >= 4 * floor  # four floors, not the one configured
