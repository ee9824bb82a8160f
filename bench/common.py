"""What the scenarios share: paths, the requester, wire requests, configs, memory readings."""

from __future__ import annotations

import dataclasses
import itertools
import os
from pathlib import Path
from typing import Any

from fieldgate.broker.config import BrokerConfig, NodeEntry
from fieldgate.broker.limits import LimitsConfig
from fieldgate.devkit.dev_trust import answer_key_path, enc_key_path
from fieldgate.node.answer_timing import AnswerTimingConfig
from fieldgate.node.config import NodeConfig
from fieldgate.node.limits import NodeLimitsConfig
from fieldgate.ops.server_options import ServerLimitsConfig
from fieldgate.policy.catalog import default_catalog_path
from fieldgate.trust.config import TrustConfig
from fieldgate.v2 import broker_pb2, common_pb2, node_pb2

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The source tree (bench/ is not installed; it runs from the checkout)."""

REGO_LIBRARY = REPO_ROOT / "rego" / "lib"
SANCTUARY_CONTRACT = REPO_ROOT / "rego" / "contracts" / "sanctuary_county" / "contract.rego"
RELEASE_ALL_CONTRACT = Path(__file__).resolve().parent / "contracts" / "release_all.rego"

SEED = 7
"""Seed of every synthetic data set (``fieldgate.devkit.synthetic``)."""

DETECTIVE = common_pb2.Requester(
    subject="det-4711",
    agency="bellevue-pd",
    agency_type="local_law_enforcement",
    roles=["detective"],
    purpose="criminal_investigation",
    case_number="BPD-2026-018233",
)
"""The requester of every benchmark search: a local detective on a criminal case."""

SEARCH_DEADLINE_SECONDS = 30.0
"""Deadline asked of the broker: long enough that no node times out under load."""

ECHO_PAYLOAD = bytes(range(200))
"""The echo baseline's request (and answer): 200 bytes, as in the issue's reference figures."""


def person_query(
    surname: str, given_name: str = "", dob: str = "", max_hits: int = 0
) -> common_pb2.PersonQuery:
    """A wire person query."""
    return common_pb2.PersonQuery(
        surname=surname, given_name=given_name, dob=dob, max_hits=max_hits
    )


def broker_request(query: common_pb2.PersonQuery) -> broker_pb2.SearchRequest:
    """The detective's search as the broker receives it."""
    return broker_pb2.SearchRequest(
        requester=DETECTIVE, query=query, deadline_seconds=SEARCH_DEADLINE_SECONDS
    )


def node_request(
    query: common_pb2.PersonQuery, request_id: str
) -> node_pb2.NodeServiceSearchRequest:
    """The detective's search as a node receives it from the broker."""
    return node_pb2.NodeServiceSearchRequest(
        request_id=request_id, requester=DETECTIVE, query=query
    )


_FRESH_CASES = itertools.count()
_FRESH_IDS = itertools.count()


def fresh_request_id(prefix: str = "bench") -> str:
    """A request id no search of this process used before (a node refuses one it has seen)."""
    return f"{prefix}-{next(_FRESH_IDS):08d}"


def fresh_case_number() -> str:
    """A case number no search of this process used before.

    A search under it is a first search for every node: none of its decisions
    can come from a node's decision cache (``fieldgate/policy/decision_cache.py``). One
    counter for the whole process, so no two scenarios or queries share one.
    """
    return f"BPD-FRESH-{next(_FRESH_CASES):08d}"


class FreshSearches:
    """The detective's search for one query, serialised each time under a fresh case number.

    Making one costs a few microseconds of the timed call.
    """

    def __init__(self, query: common_pb2.PersonQuery, request_id: str) -> None:
        self._broker = broker_request(query)
        self._node = node_request(query, request_id)
        self._prefix = request_id

    def broker(self) -> bytes:
        """A broker SearchRequest, serialised."""
        self._broker.requester.case_number = fresh_case_number()
        return self._broker.SerializeToString()

    def node(self) -> bytes:
        """A NodeServiceSearchRequest as the broker would send it, serialised."""
        self._node.requester.case_number = fresh_case_number()
        self._node.request_id = fresh_request_id(self._prefix)
        return self._node.SerializeToString()


def _with_supported(cls: type[Any], kwargs: dict[str, Any], optional: dict[str, Any]) -> Any:
    """``cls(**kwargs)`` plus those of ``optional`` the dataclass knows.

    The benchmarks run nodes and broker in development mode (no trust bundle);
    the flag that says so is added only where the config class has it, so the
    suite keeps working while the config classes grow.
    """
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs.update({k: v for k, v in optional.items() if k in known})
    return cls(**kwargs)


def node_config(
    node_id: str,
    agency_name: str,
    database: Path,
    contract: Path | None,
    trust_dir: Path | None = None,
) -> NodeConfig:
    """A node config on a free loopback port: plaintext, claims as stated (development)
    unless ``trust_dir`` holds a development trust kit (``DevTrust``) that names this
    node: then it verifies signed searches, opens sealed queries and signs and seals
    its answers as in production (still plaintext gRPC).
    """
    trust: dict[str, Any] = {}
    if trust_dir is not None:
        config_ = TrustConfig(
            trust_dir / "trust.json",
            trust_dir / "revocations.json",
            authority_key=trust_dir / "federation.pub.pem",
        )
        trust = {
            "trust": config_,
            "answer_key": answer_key_path(config_, node_id),
            "enc_key": enc_key_path(config_, node_id),
        }
    config: NodeConfig = _with_supported(
        NodeConfig,
        {
            "node_id": node_id,
            "agency_name": agency_name,
            "listen": "127.0.0.1:0",
            "database": database,
            "catalog": default_catalog_path(),
            "contract": contract,
            "rego_library": REGO_LIBRARY,
            "contact_unit": "Records Unit",
            "contact_phone": "555-0100",
            **trust,
        },
        # The answer hold (node/answer_timing.py) off: these scenarios measure the
        # nodes' own work and the fan-out, which a fixed floor would hide.
        # bench.timing_chance measures the hold itself. The node's own limits off
        # too: one detective repeats the same search thousands of times here.
        {
            "insecure": True,
            "timing": AnswerTimingConfig(floor_seconds=0.0),
            "limits": NodeLimitsConfig(enabled=False),
        },
    )
    return config


def generous_limits() -> LimitsConfig:
    """The broker's abuse limits, switched on but never reached by the benchmark.

    One detective sends thousands of searches a minute here; the limiter still runs
    on every search (its cost is measured), it just never refuses one.
    """
    high: dict[str, Any] = {
        "requester_rate": 1e9,
        "requester_burst": 10**9,
        "agency_rate": 1e9,
        "agency_burst": 10**9,
        "requester_concurrency": 100_000,
        "global_concurrency": 100_000,
        "sweep_max_distinct": 10**9,
        "poll_max_repeats": 10**9,
    }
    defaults = LimitsConfig()
    known = {f.name for f in dataclasses.fields(defaults)}
    return dataclasses.replace(defaults, **{k: v for k, v in high.items() if k in known})


def broker_config(nodes: list[NodeEntry]) -> BrokerConfig:
    """An insecure (development) broker config over ``nodes`` on a free loopback port."""
    config: BrokerConfig = _with_supported(
        BrokerConfig,
        {
            "listen": "127.0.0.1:0",
            "nodes": tuple(nodes),
            "default_deadline_seconds": 3.0,
            "max_deadline_seconds": SEARCH_DEADLINE_SECONDS,
        },
        # The benchmark's clients share one connection, as a gateway's would: its
        # stream and call caps are raised as that gateway's operator would raise them.
        {
            "insecure": True,
            "limits": generous_limits(),
            "server": ServerLimitsConfig(max_concurrent_streams=1024, max_concurrent_rpcs=1024),
        },
    )
    return config


@dataclasses.dataclass(frozen=True)
class Memory:
    """Memory of one process, in bytes (``None`` where the kernel does not say)."""

    rss: int
    pss: int | None
    uss: int | None


def _kib_fields(path: Path, names: tuple[str, ...]) -> dict[str, int]:
    found: dict[str, int] = {}
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return found
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in names:
            parts = rest.split()
            if parts and parts[0].isdigit():
                found[key] = int(parts[0]) * 1024
    return found


def process_memory(pid: int) -> Memory | None:
    """RSS, PSS and USS of process ``pid`` from ``/proc`` (Linux); None elsewhere."""
    proc = Path("/proc") / str(pid)
    status = _kib_fields(proc / "status", ("VmRSS",))
    if "VmRSS" not in status:
        return None
    rollup = _kib_fields(
        proc / "smaps_rollup", ("Pss", "Private_Clean", "Private_Dirty", "Private_Hugetlb")
    )
    pss = rollup.get("Pss")
    uss = None
    if "Private_Clean" in rollup and "Private_Dirty" in rollup:
        uss = rollup["Private_Clean"] + rollup["Private_Dirty"]
    return Memory(status["VmRSS"], pss, uss)


def own_memory() -> Memory | None:
    """This process's memory."""
    return process_memory(os.getpid())


def mib(value: float | None) -> str:
    """Bytes as MiB for tables."""
    return "n/a" if value is None else f"{value / 2**20:,.0f} MiB"
