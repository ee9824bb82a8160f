"""Synthetic record stores for the benchmarks, built once and cached.

Every store is made from :mod:`fieldgate.devkit.synthetic` (deterministic from
:data:`bench.common.SEED`) and loaded through the node's own validation
(``fieldgate.policy.records.validate_record``) and store (``RecordStore.insert_many``), so
it is byte for byte what ``fieldgate node import`` would build. Large stores
are cached under ``bench/.cache`` keyed by a digest of the generator, the
store and the matching code, so a change to any of them rebuilds them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.common import REPO_ROOT, SEED
from fieldgate.devkit.synthetic import DEMO_AGENCIES, KCSO, Agency, generate_agency_records
from fieldgate.devkit.synthetic import generate_labelled_variants as _labelled
from fieldgate.node.store import SCHEMA_VERSION, RecordStore
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.records import validate_record

CACHE_DIR = Path(__file__).resolve().parent / ".cache"
"""Cached stores (git-ignored by ``bench/.cache/.gitignore``)."""

OTHER_AGENCY = dataclasses.replace(KCSO, node_id="bench-other", prefix="OTHR")
"""An agency like KCSO that holds none of the planted people (``fieldgate.devkit.synthetic``)."""

_SOURCES = (
    "fieldgate/devkit/synthetic.py",
    "fieldgate/devkit/synthetic_names.py",
    "fieldgate/core/names.py",
    "fieldgate/policy/records.py",
    "node/store.py",
    "fieldgate/matching/matcher.py",
    "fieldgate/matching/candidates.py",
    "fieldgate/matching/name_forms.py",
    "fieldgate/matching/equivalents.py",
)


def _code_digest() -> str:
    digest = hashlib.sha256(f"schema {SCHEMA_VERSION}\0".encode())
    for name in _SOURCES:
        digest.update(name.encode() + b"\0" + (REPO_ROOT / name).read_bytes() + b"\0")
    digest.update(default_catalog_path().read_bytes())
    return digest.hexdigest()[:16]


def ensure_cache_dir(cache: Path) -> Path:
    """Create the cache directory with a ``.gitignore`` that keeps it out of git."""
    cache.mkdir(parents=True, exist_ok=True)
    ignore = cache / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    return cache


def build_store(path: Path, parts: Sequence[tuple[Agency, int]], seed: int = SEED) -> int:
    """Build a store at ``path`` from each (agency, background count) part; return its size."""
    path.unlink(missing_ok=True)
    catalog = load_catalog(default_catalog_path())
    total = 0
    with RecordStore.open(path) as store:
        for agency, count in parts:
            records = generate_agency_records(agency, count=count, seed=seed)
            total += store.insert_many(validate_record(r, catalog) for r in records)
            del records
    return total


def _labelled_queries(count: int, seed: int) -> list[dict[str, object]]:
    return [
        {
            "surname": q.surname,
            "given_name": q.given_name,
            "dob": q.dob,
            "expected": [list(pair) for pair in q.expected],
        }
        for q in _labelled(DEMO_AGENCIES, count=count, seed=seed)
    ]


@dataclasses.dataclass(frozen=True)
class LabelledStore:
    """A store holding the three demo agencies' records, and labelled queries with known truth.

    Attributes:
        path: the SQLite file.
        records: how many records it holds.
        queries: every labelled query of ``generate_labelled_variants`` for it.
        built_seconds: how long building took (0 when it came from the cache).
    """

    path: Path
    records: int
    queries: list[dict[str, object]]
    built_seconds: float


def labelled_store(total: int, cache: Path, seed: int = SEED) -> LabelledStore:
    """The store of about ``total`` records (a third per demo agency), from cache or built.

    The store and the labelled queries are built in two processes side by side
    (generation is pure Python), never in this one, so the benchmark process
    stays small.
    """
    per_agency = total // len(DEMO_AGENCIES)
    key = f"labelled-{per_agency}x{len(DEMO_AGENCIES)}-seed{seed}-{_code_digest()}"
    ensure_cache_dir(cache)
    path = cache / f"{key}.sqlite"
    meta_path = cache / f"{key}.json"
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return LabelledStore(path, int(meta["records"]), list(meta["queries"]), 0.0)
    for stale in cache.glob(f"labelled-{per_agency}x*"):
        stale.unlink()
    started = time.monotonic()
    tmp = cache / f"{key}.building.sqlite"
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        built = pool.submit(build_store, tmp, [(a, per_agency) for a in DEMO_AGENCIES], seed)
        labelled = pool.submit(_labelled_queries, per_agency, seed)
        records, queries = built.result(), labelled.result()
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    tmp.rename(path)
    meta_path.write_text(json.dumps({"records": records, "queries": queries}), encoding="utf-8")
    return LabelledStore(path, records, queries, time.monotonic() - started)


def fleet_templates(workdir: Path, records_per_node: int, seed: int = SEED) -> tuple[Path, Path]:
    """Two small stores the fan-out nodes are copied from.

    Returns:
        (holder, other): ``holder`` is KCSO's records, with the planted demo
        subject (two records a detective may see); ``other`` is an agency of the
        same shape that holds none of the planted people.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    holder = workdir / "template-holder.sqlite"
    other = workdir / "template-other.sqlite"
    build_store(holder, [(KCSO, records_per_node)], seed)
    build_store(other, [(OTHER_AGENCY, records_per_node)], seed)
    return holder, other


def copy_store(source: Path, target: Path) -> Path:
    """Copy a closed store file (no WAL) to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)
    return target


def store_files_size(path: Path) -> int:
    """Bytes on disk of a store: the database and its WAL and shared-memory files."""
    total = 0
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if candidate.exists():
            total += candidate.stat().st_size
    return total
