"""Abuse limits at the broker, through real gRPC: over a limit is RESOURCE_EXHAUSTED at once.

Time is an injected clock: tokens refill and sweep windows slide when the test
moves it, never by sleeping.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest

from fieldgate.broker.config import NodeEntry
from fieldgate.broker.limits import LimitExceeded, Limits, LimitsConfig
from fieldgate.client.broker_client import Requester, build_request
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import (
    LocalFederation,
    NodeSpec,
    import_records,
    start_federation,
)
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.policy.shipped import shipped_contract
from fieldgate.v2 import broker_pb2
from tests.helpers.faults import FaultProxy
from tests.helpers.federation import LoopThread, broker_stub

DETECTIVE = demo_personas(dt.date.today())[0].requester
COLLEAGUE = dataclasses.replace(DETECTIVE, subject="colleague@example.gov")
OUTSIDER = dataclasses.replace(DETECTIVE, subject="someone@other.gov", agency="Other County SO")


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> tuple[NodeSpec, Path]:
    workdir = tmp_path_factory.mktemp("limits")
    records = workdir / "kcso.jsonl"
    write_jsonl(generate_agency_records(DEMO_AGENCIES[0], count=60, seed=3), records)
    node = NodeSpec("kcso", "King County", shipped_contract("sanctuary_county"), records)
    import_records(node, workdir)
    return node, workdir


@contextmanager
def federation_with(
    loop: LoopThread, spec: tuple[NodeSpec, Path], clock: FakeClock, **limits: object
) -> Iterator[LocalFederation]:
    node, workdir = spec
    config = LimitsConfig(**limits)  # type: ignore[arg-type]
    federation = loop.run(start_federation([node], workdir, limits=config, clock=clock))
    try:
        yield federation
    finally:
        loop.run(federation.stop())


def search(
    federation: LocalFederation, requester: Requester, surname: str = DEMO_SUBJECT.surname
) -> broker_pb2.SearchResponse:
    channel, stub = broker_stub(federation.broker_address)
    with channel:
        request = build_request(requester, surname=surname, dob=DEMO_SUBJECT.dob)
        response: broker_pb2.SearchResponse = stub.Search(request, timeout=10)
        return response


def refused(federation: LocalFederation, requester: Requester, surname: str = "") -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        search(federation, requester, surname or DEMO_SUBJECT.surname)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, caught.value.details()
    return caught.value


def rejected(federation: LocalFederation, reason: str) -> float:
    metrics = federation.broker.metrics
    assert metrics is not None
    value = metrics.registry.get_sample_value("fieldgate_broker_rejected_total", {"reason": reason})
    return value or 0.0


def answered(response: broker_pb2.SearchResponse) -> bool:
    return [r.status for r in response.results] == [broker_pb2.NODE_STATUS_ANSWERED]


def test_requester_rate_limit_refuses_then_refills(
    loop: LoopThread, spec: tuple[NodeSpec, Path]
) -> None:
    clock = FakeClock()
    with federation_with(
        loop, spec, clock, requester_rate=1.0, requester_burst=3, agency_burst=100
    ) as federation:
        for _ in range(3):
            assert answered(search(federation, DETECTIVE))
        error = refused(federation, DETECTIVE)
        assert "rate_limited_requester" in error.details()
        assert "retry in" in error.details()
        assert rejected(federation, "rate_limited_requester") == 1
        # Another requester of the same agency is not held back by this one.
        assert answered(search(federation, COLLEAGUE))
        clock.advance(0.5)
        refused(federation, DETECTIVE)  # half a token is not a search
        clock.advance(0.5)
        assert answered(search(federation, DETECTIVE))
        refused(federation, DETECTIVE)
        assert rejected(federation, "rate_limited_requester") == 3


def test_agency_rate_limit_covers_all_its_requesters(
    loop: LoopThread, spec: tuple[NodeSpec, Path]
) -> None:
    clock = FakeClock()
    with federation_with(
        loop, spec, clock, agency_rate=2.0, agency_burst=4, requester_burst=100
    ) as federation:
        for requester in (DETECTIVE, COLLEAGUE, DETECTIVE, COLLEAGUE):
            assert answered(search(federation, requester))
        error = refused(federation, COLLEAGUE)
        assert "rate_limited_agency" in error.details()
        assert DETECTIVE.agency in error.details()
        assert answered(search(federation, OUTSIDER)), "other agencies are unaffected"
        clock.advance(0.5)  # one token back at 2 per second
        assert answered(search(federation, DETECTIVE))
        refused(federation, DETECTIVE)
        assert rejected(federation, "rate_limited_agency") == 2
        assert rejected(federation, "rate_limited_requester") == 0


def test_sweeping_many_persons_is_refused_and_counted(
    loop: LoopThread, spec: tuple[NodeSpec, Path]
) -> None:
    clock = FakeClock()
    with federation_with(
        loop, spec, clock, sweep_max_distinct=3, sweep_window_seconds=60.0
    ) as federation:
        for surname in ("ALPHA", "BRAVO", "CHARLIE"):
            assert answered(search(federation, DETECTIVE, surname))
            clock.advance(10)
        # Asking again about a person already asked about is not sweeping.
        assert answered(search(federation, DETECTIVE, "alpha"))
        error = refused(federation, DETECTIVE, "DELTA")
        assert "sweep" in error.details()
        assert "3 different persons" in error.details()
        assert rejected(federation, "sweep") == 1
        assert answered(search(federation, COLLEAGUE, "DELTA")), "others are unaffected"
        # ALPHA was first asked at t=0 and again at t=30: the window slides past
        # BRAVO (t=10) first.
        clock.advance(60 - 30 + 10)  # now t=70: BRAVO (t=10) has left the window
        assert answered(search(federation, DETECTIVE, "DELTA"))
        refused(federation, DETECTIVE, "ECHO")
        assert rejected(federation, "sweep") == 2


def test_polling_one_person_is_refused_and_counted(
    loop: LoopThread, spec: tuple[NodeSpec, Path]
) -> None:
    """The Los Angeles pattern: asking about the same person over and over (release dates)."""
    clock = FakeClock()
    with federation_with(
        loop, spec, clock, poll_max_repeats=3, sweep_window_seconds=60.0
    ) as federation:
        for _ in range(3):
            assert answered(search(federation, DETECTIVE))
            clock.advance(5)
        error = refused(federation, DETECTIVE)
        assert "repeated the same search 3 times" in error.details()
        assert rejected(federation, "polling") == 1
        assert answered(search(federation, DETECTIVE, "BRAVO")), "other persons still answered"
        assert answered(search(federation, COLLEAGUE)), "other requesters unaffected"
        clock.advance(60)  # the first repeats leave the window
        assert answered(search(federation, DETECTIVE))


def test_concurrency_caps_refuse_at_once_and_free_their_slots(
    loop: LoopThread, spec: tuple[NodeSpec, Path]
) -> None:
    node, workdir = spec
    clock = FakeClock()

    async def start() -> tuple[LocalFederation, FaultProxy]:
        backend = await start_federation([node], workdir)
        await backend.broker.stop()
        proxy = FaultProxy(backend.nodes["kcso"].address, delay=30.0)
        address = await proxy.start()
        federation = await start_federation(
            [],
            workdir,
            extra_nodes=[NodeEntry("kcso", "King County", address)],
            limits=LimitsConfig(requester_concurrency=1, global_concurrency=2),
            clock=clock,
        )
        federation.nodes.update(backend.nodes)
        return federation, proxy

    federation, proxy = loop.run(start())
    limits = federation.broker.limits
    assert limits is not None
    channel, stub = broker_stub(federation.broker_address)
    try:
        assert answered(search(federation, DETECTIVE))  # connection up, then the node stalls
        proxy.mode = "delay"

        def slow(requester: Requester) -> grpc.Future:  # type: ignore[type-arg]
            request = build_request(
                requester, surname=DEMO_SUBJECT.surname, dob=DEMO_SUBJECT.dob, deadline_seconds=2
            )
            return stub.Search.future(request, timeout=20)

        def wait_in_flight(count: int) -> None:
            give_up = time.monotonic() + 10
            while limits.in_flight != count:
                assert time.monotonic() < give_up, f"{limits.in_flight} in flight, not {count}"
                time.sleep(0.005)

        first = slow(DETECTIVE)
        wait_in_flight(1)
        started = time.monotonic()
        error = refused(federation, DETECTIVE)
        assert time.monotonic() - started < 1.0, "refused at once, not queued"
        assert "concurrency" in error.details()
        assert "1 searches running" in error.details()
        second = slow(COLLEAGUE)  # another requester still gets a slot
        wait_in_flight(2)
        error = refused(federation, OUTSIDER)
        assert "maximum of 2 searches" in error.details()
        assert rejected(federation, "concurrency") == 2
        for future in (first, second):
            result = future.result(timeout=20)
            assert [r.status for r in result.results] == [broker_pb2.NODE_STATUS_TIMED_OUT]
        wait_in_flight(0)
        proxy.mode = "pass"
        proxy.reset_connections()
        # Slots are released: the same requester may search again.
        give_up = time.monotonic() + 15
        while not answered(search(federation, DETECTIVE)):
            assert time.monotonic() < give_up
    finally:
        channel.close()

        async def stop() -> None:
            await federation.stop()
            await proxy.stop()

        loop.run(stop())


def test_limits_off_and_state_bounded() -> None:
    clock = FakeClock()
    off = Limits(LimitsConfig(enabled=False, requester_burst=1), clock)
    for n in range(100):
        off.admit("r", "a", str(n))
        with off.running("r"):
            pass
    on = Limits(LimitsConfig(requester_burst=2, requester_rate=1.0), clock)
    for n in range(500):
        on.admit(f"r{n}", "a", "same")
    assert on.tracked() == 1001
    clock.advance(3600)
    on.prune()
    assert on.tracked() == 0
    on.admit("r", "a", "x")
    on.admit("r", "a", "y")
    with pytest.raises(LimitExceeded) as caught:
        on.admit("r", "a", "z")
    assert caught.value.reason == "rate_limited_requester"


def test_limits_are_read_from_broker_limits(tmp_path: Path) -> None:
    from fieldgate.broker.config import broker_config_from_document
    from fieldgate.core.config import ConfigError

    node = {"id": "kcso", "agency_name": "King County", "address": "127.0.0.1:50061"}
    base: dict[str, Any] = {"broker": {"insecure": True}, "nodes": [node]}
    assert broker_config_from_document(base, tmp_path).limits == LimitsConfig()
    document = {
        "nodes": [node],
        "broker": {
            **base["broker"],
            "limits": {"requester_rate": 2, "sweep_max_distinct": 50, "enabled": False},
        },
    }
    limits = broker_config_from_document(document, tmp_path).limits
    assert (limits.requester_rate, limits.sweep_max_distinct, limits.enabled) == (2, 50, False)
    for bad in ({"requester_burst": 0}, {"colour": "red"}, {"requester_concurrency": 10**6}):
        with pytest.raises(ConfigError, match=r"broker\.limits"):
            broker_config_from_document(
                {**base, "broker": {"insecure": True, "limits": bad}}, tmp_path
            )
