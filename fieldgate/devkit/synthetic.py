"""Deterministic synthetic records for the demo, the tests and the benchmarks.

Each agency's records are background people drawn from :mod:`random` seeded by
``(seed, agency)`` plus a few *planted* people with fixed records the demo and
the tests search for (:mod:`fieldgate.devkit.planted`). About one background
record in ten is about a person from a pool shared by every agency, written
down with agency-specific spelling variants, so cross-agency matching meets
realistic noise. Dates are relative to :data:`REFERENCE_DATE`, never the clock:
the same ``(agency, count, seed)`` gives the same records byte for byte. Every
record is valid against the standard catalog
(``fieldgate/policy/catalogs/standard.toml``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from fieldgate.core.names import normalize_name
from fieldgate.devkit import synthetic_names as words

# The fixed agencies and people live in their own module; they are still
# importable from here, where the demo, the tests and the benchmarks look.
from fieldgate.devkit.planted import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    KCSO,
    PCSO,
    PLANTED_PEOPLE,
    SECOND_SUBJECT,
    SPD,
    THIRD_SUBJECT,
    Address,
    Agency,
    PlantedPerson,
    PlantedRecord,
)

__all__ = [
    "DEMO_AGENCIES",
    "DEMO_SUBJECT",
    "FIELD_ORDER",
    "KCSO",
    "PCSO",
    "PLANTED_PEOPLE",
    "REFERENCE_DATE",
    "SECOND_SUBJECT",
    "SPD",
    "THIRD_SUBJECT",
    "Address",
    "Agency",
    "LabelledQuery",
    "PlantedPerson",
    "PlantedRecord",
    "generate_agency_records",
    "generate_labelled_variants",
    "planted_record",
    "write_jsonl",
]

REFERENCE_DATE = dt.date(2026, 11, 15)
"""Latest event date of any background record; background dates span ten years before it."""

# fmt: off
FIELD_ORDER: tuple[str, ...] = (
    "surname", "given_name", "middle_name", "aliases", "dob", "state_id", "fbi_number",
    "drivers_license", "sex", "race", "height_cm", "weight_kg", "eye_color", "hair_color",
    "scars_marks_tattoos", "booking_photo_ref", "address", "phone", "charges", "case_number",
    "incident_date", "incident_summary", "warrant_number", "booking_number", "booking_date",
    "release_date", "custody_status", "facility", "citizenship", "country_of_birth",
    "contact_unit", "contact_phone",
)
# fmt: on
"""Catalog fields in the order records are written."""

_FIRST_BACKGROUND_NUMBER = 100_001  # planted records use numbers below this
_SHARED_SHARE = 0.10


def _chances(spec: str) -> tuple[tuple[str, float], ...]:
    """Parse ``"field field:0.5 ..."``; a field without a chance is always written."""
    identity = "surname given_name middle_name aliases dob sex race "
    return tuple(
        (name, float(chance or 1))
        for name, _, chance in (w.partition(":") for w in (identity + spec).split())
    )


_PERSON_FIELDS: dict[str, tuple[tuple[str, float], ...]] = {
    "booking": _chances(
        "height_cm weight_kg eye_color hair_color scars_marks_tattoos state_id fbi_number "
        "drivers_license:.8 address:.9 phone:.8 citizenship country_of_birth"
    ),
    "incident_report": _chances(
        "height_cm:.5 weight_kg:.5 eye_color:.3 hair_color:.3 scars_marks_tattoos:.2 "
        "drivers_license:.5 address:.9 phone:.6"
    ),
    "field_interview": _chances(
        "height_cm:.9 weight_kg:.9 eye_color:.8 hair_color:.8 scars_marks_tattoos:.5 "
        "drivers_license:.3 address:.6 phone:.3"
    ),
    "warrant": _chances(
        "height_cm weight_kg eye_color hair_color scars_marks_tattoos:.6 state_id "
        "fbi_number:.8 drivers_license:.7 address:.9 country_of_birth:.5"
    ),
    "case_file": _chances(
        "height_cm:.4 weight_kg:.4 state_id:.6 fbi_number:.3 drivers_license:.5 address:.9 "
        "phone:.7 scars_marks_tattoos:.3"
    ),
}
"""Person fields each record kind can carry, with the chance a background record does."""


_PLANTED_KEYS = frozenset(
    (normalize_name(r.surname), normalize_name(r.given_name), r.dob)
    for p in PLANTED_PEOPLE
    for r in p.records
)


@dataclass(frozen=True)
class LabelledQuery:
    """A search by canonical identity and the records that truly are that person.

    ``expected`` holds (node_id, record_id) pairs, sealed and juvenile ones included.
    """

    surname: str
    given_name: str
    dob: str
    expected: tuple[tuple[str, str], ...]


def _rng(seed: int, *parts: object) -> random.Random:
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _pick(rng: random.Random, pairs: Sequence[tuple[str, float]]) -> str:
    return rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]


def _ordinal(n: int) -> str:
    suffix = "TH" if 10 <= n % 100 <= 20 else {1: "ST", 2: "ND", 3: "RD"}.get(n % 10, "TH")
    return f"{n}{suffix}"


def _address(rng: random.Random, cities: Sequence[str]) -> dict[str, str]:
    city = rng.choice(cities)
    if rng.random() < 0.55:
        before, after = rng.choice(words.STREET_AXES)
        street = f"{before} {_ordinal(rng.randint(1, 320))} {after}".strip()
    else:
        street = rng.choice(words.NAMED_STREETS)
    line = f"{rng.randint(100, 39999)} {street}"
    if rng.random() < 0.15:
        line += f" APT {rng.randint(1, 420)}{rng.choice(('', 'A', 'B'))}"
    return {
        "street": line,
        "city": city,
        "state": "WA",
        "postal_code": rng.choice(words.CITY_ZIPS[city]),
    }


def _alnum(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(n))


_ORIGINS = list(words.ORIGINS.values())


def _new_person(
    rng: random.Random, cities: Sequence[str], area_codes: Sequence[str], ages: tuple[int, int]
) -> dict[str, object]:
    """Draw one person's person-level fields, clear of every planted identity."""
    while True:
        origin = rng.choices(_ORIGINS, [o.weight for o in _ORIGINS])[0]
        sex = _pick(rng, (("M", 75), ("F", 24.6), ("X", 0.4)))
        names = {"M": origin.male, "F": origin.female}.get(sex, origin.male + origin.female)
        p: dict[str, object] = {
            "surname": rng.choice(origin.surnames),
            "given_name": rng.choice(names),
        }
        if rng.random() < 0.65:
            middle = rng.choice([n for n in names if n != p["given_name"]])
            p["middle_name"] = middle[0] if rng.random() < 0.15 else middle
        dob = REFERENCE_DATE - dt.timedelta(days=rng.randint(ages[0] * 365, ages[1] * 365))
        p["dob"] = dob.isoformat()
        if (
            normalize_name(str(p["surname"])),
            normalize_name(str(p["given_name"])),
            p["dob"],
        ) not in _PLANTED_KEYS:
            break
    if rng.random() < 0.08:
        given = str(p["given_name"])
        other = rng.choice(words.NICKNAMES.get(given, (rng.choice(names),)))
        aliases = [f"{rng.choice(origin.surnames)}, {given}", f"{p['surname']}, {other}"]
        own = f"{p['surname']}, {given}"
        if kept := [a for a in aliases[: rng.randint(1, 2)] if a != own]:
            p["aliases"] = kept
    race = _pick(rng, origin.races)
    male = sex == "M" or (sex == "X" and rng.random() < 0.5)
    height = rng.gauss(177, 8) if male else rng.gauss(163, 7)
    weight = rng.gauss(86, 16) if male else rng.gauss(72, 16)
    light = race == "WHITE" and origin is words.ORIGINS["anglo"]
    p.update(
        sex=sex,
        race=race,
        height_cm=int(min(max(height, 140), 208)),
        weight_kg=int(min(max(weight, 40), 190)),
        eye_color=_pick(rng, words.EYE_COLORS if light else (("BROWN", 85), ("BLACK", 15))),
        hair_color=_pick(
            rng, words.HAIR_COLORS if light else (("BLACK", 80), ("BROWN", 15), ("GRAY", 5))
        ),
    )
    if rng.random() < 0.35:
        p["scars_marks_tattoos"] = rng.sample(words.MARKS, rng.randint(1, 3))
    if rng.random() < 0.7:
        p["state_id"] = f"WA{rng.randint(10_000_000, 39_999_999)}"
    if rng.random() < 0.4:
        p["fbi_number"] = f"{rng.randint(100000, 999999)}{_alnum(rng, 3)}"
    if rng.random() < 0.6:
        p["drivers_license"] = f"WA:WDL{_alnum(rng, 9)}"
    p["address"] = _address(rng, cities)
    if rng.random() < 0.6:
        p["phone"] = f"{rng.choice(area_codes)}-555-01{rng.randint(0, 99):02d}"
    country = _pick(rng, origin.countries)
    p["country_of_birth"] = country
    citizen = country == "UNITED STATES" or rng.random() < 0.5
    p["citizenship"] = "UNITED STATES" if citizen else _pick(rng, ((country, 94), ("UNKNOWN", 6)))
    return p


def _misspell(rng: random.Random, name: str) -> str:
    swaps = [(a, b) for a, b in words.PHONETIC_SWAPS if a in name[1:]]
    if swaps and rng.random() < 0.6:
        a, b = rng.choice(swaps)
        at = name.index(a, 1)
        return name[:at] + b + name[at + len(a) :]
    if len(name) < 4:
        return name + name[-1]
    i = rng.randint(1, len(name) - 2)
    how = rng.randint(0, 2)
    if how == 0:
        return name[:i] + name[i + 1 :]
    if how == 1 and name[i] != name[i + 1]:
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    return name[:i] + name[i] + name[i:]


def _variant(
    rng: random.Random, base: Mapping[str, object], cities: Sequence[str]
) -> dict[str, object]:
    """Return how one agency wrote ``base`` down: often exactly, sometimes not."""
    p = {k: (list(v) if isinstance(v, list) else v) for k, v in base.items()}
    surname, given, dob = (
        str(p["surname"]),
        str(p["given_name"]),
        dt.date.fromisoformat(str(p["dob"])),
    )
    roll = rng.random()
    if roll < 0.12:
        p["surname"] = _misspell(rng, surname)
    elif roll < 0.22:
        p["given_name"] = rng.choice(words.NICKNAMES.get(given, (_misspell(rng, given),)))
    elif roll < 0.30 and dob.day <= 12 and dob.day != dob.month:
        p["dob"] = dob.replace(month=dob.day, day=dob.month).isoformat()
    elif roll < 0.34:
        p["dob"] = (dob + dt.timedelta(days=rng.choice((-1, 1)))).isoformat()
    elif roll < 0.42:
        p.pop("middle_name", None)
    elif roll < 0.48:
        p["given_name"] = _misspell(rng, given)
    elif roll < 0.52:
        p["surname"], p["given_name"] = given, surname
    if rng.random() < 0.3:
        p["address"] = _address(rng, cities)
    p["height_cm"] = int(str(p["height_cm"])) + rng.randint(-3, 3)
    p["weight_kg"] = int(str(p["weight_kg"])) + rng.randint(-6, 6)
    key = (normalize_name(str(p["surname"])), normalize_name(str(p["given_name"])), p["dob"])
    return dict(base) if key in _PLANTED_KEYS else p


def _event_date(rng: random.Random, dob: dt.date, juvenile: bool) -> dt.date:
    if juvenile:
        low, high = dob + dt.timedelta(days=14 * 366), dob + dt.timedelta(days=18 * 365 - 1)
    else:
        low = max(dob + dt.timedelta(days=18 * 366), REFERENCE_DATE - dt.timedelta(days=3650))
        high = dob + dt.timedelta(days=71 * 365)
    high = min(high, REFERENCE_DATE)
    return low + dt.timedelta(days=rng.randint(0, max((high - low).days, 0)))


def _summary(
    rng: random.Random, templates: Sequence[str], offence: str, p: Mapping[str, object]
) -> str:
    address = p["address"]
    assert isinstance(address, dict)
    street = str(address["street"]).split(" ", 1)[1].split(" APT ")[0]
    return rng.choice(templates).format(
        offence=offence, street=_title(street), city=_title(str(address["city"]))
    )


def _title(text: str) -> str:
    """``"S 144TH ST"`` → ``"S 144th St"``, ``"LAKE CITY WAY NE"`` → ``"Lake City Way NE"``."""
    keep = {"N", "S", "E", "W", "NE", "NW", "SE", "SW", "MLK", "JR"}
    return " ".join(w if w in keep else w.capitalize() for w in text.split())


def _background_record(
    rng: random.Random,
    agency: Agency,
    kind: str,
    person: Mapping[str, object],
    n: int,
    juvenile: bool,
) -> dict[str, object]:
    event = _event_date(rng, dt.date.fromisoformat(str(person["dob"])), juvenile)
    record: dict[str, object] = {
        "record_id": f"{agency.prefix}-{kind[0].upper()}-{n:06d}",
        "record_kind": kind,
    }
    if rng.random() < 0.012:
        record["sealed"] = True
    if juvenile:
        record["juvenile"] = True
    if rng.random() < 0.004:
        record["expunged"] = True
    f: dict[str, object] = {}
    for name, chance in _PERSON_FIELDS[kind]:
        if name in person and (chance >= 1 or rng.random() < chance):
            value = person[name]
            f[name] = (
                dict(value)
                if isinstance(value, dict)
                else (list(value) if isinstance(value, list) else value)
            )
    pool = words.JUVENILE_CHARGES if juvenile else words.CHARGES
    charges = rng.sample(pool, rng.choices((1, 2, 3), (60, 30, 10))[0])
    offence = charges[0].split(" - ", 1)[1].lower()
    status = _pick(rng, (("released", 86), ("in_custody", 9), ("transferred", 5)))
    if kind == "booking" and status == "in_custody":
        event = max(event, REFERENCE_DATE - dt.timedelta(days=rng.randint(0, 150)))
    case = f"{agency.case_prefix}{event.year}-{n:06d}"
    yy = event.year % 100
    if kind == "booking":
        number = f"{agency.prefix[0]}{yy:02d}{n:06d}"
        f.update(
            booking_number=number,
            booking_date=event.isoformat(),
            custody_status=status,
            facility=rng.choice(agency.facilities),
            charges=charges,
            booking_photo_ref=f"img://{agency.node_id}/bookings/{event.year}/{number}/front.jpg",
        )
        if status != "in_custody" or rng.random() < 0.5:
            days = rng.randint(30, 400) if status == "in_custody" else rng.randint(0, 30)
            f["release_date"] = (event + dt.timedelta(days=days)).isoformat()
        if rng.random() < 0.7:
            f["case_number"] = case
    elif kind == "warrant":
        if rng.random() < 0.3:
            charges = [f"{c} (FAILURE TO APPEAR)" for c in charges[:1]]
        f.update(
            warrant_number=f"{agency.prefix}-W{yy:02d}-{n:06d}",
            charges=charges,
            incident_date=event.isoformat(),
            case_number=case,
        )
    else:
        templates = {
            "incident_report": words.INCIDENT_SUMMARIES,
            "field_interview": words.FIELD_INTERVIEW_SUMMARIES,
        }.get(kind, words.CASE_FILE_SUMMARIES)
        f.update(
            incident_date=event.isoformat(),
            case_number=case,
            incident_summary=_summary(rng, templates, offence, person),
        )
        if kind == "case_file" or (kind == "incident_report" and rng.random() < 0.65):
            f["charges"] = charges
    f.update(contact_unit=agency.unit, contact_phone=agency.phone)
    record.update((k, f[k]) for k in FIELD_ORDER if k in f)
    return record


def planted_record(agency: Agency, person: PlantedPerson, spec: PlantedRecord) -> dict[str, object]:
    """Build the record ``agency`` holds for ``spec``, one of ``person``'s records."""
    base = person.profile()
    base.update(surname=spec.surname, given_name=spec.given_name, dob=spec.dob)
    base.pop("middle_name", None)
    if spec.middle_name:
        base["middle_name"] = spec.middle_name
    if spec.aliases:
        base["aliases"] = list(spec.aliases)
    if spec.address is not None:
        base["address"] = spec.address.as_dict()
    f = {
        k: v
        for k, _ in _PERSON_FIELDS[spec.record_kind]
        if k in base and k not in spec.omit
        for v in (base[k],)
    }
    for name in (
        "case_number",
        "incident_date",
        "incident_summary",
        "warrant_number",
        "booking_number",
        "booking_date",
        "release_date",
        "custody_status",
        "facility",
        "booking_photo_ref",
    ):
        if (value := getattr(spec, name)) is not None:
            f[name] = value
    if spec.charges:
        f["charges"] = list(spec.charges)
    f.update(contact_unit=agency.unit, contact_phone=agency.phone)
    record: dict[str, object] = {"record_id": spec.record_id, "record_kind": spec.record_kind}
    if spec.sealed:
        record["sealed"] = True
    if spec.juvenile:
        record["juvenile"] = True
    record.update((k, f[k]) for k in FIELD_ORDER if k in f)
    return record


_Owners = dict[str, list[tuple[str, str]]]


def _generate(
    agency: Agency, count: int, seed: int
) -> tuple[list[dict[str, object]], _Owners, dict[str, Mapping[str, object]]]:
    """Return the records, person key → (node, record id) pairs, and canonical persons."""
    if count < 0:
        raise ValueError(f"count must be at least 0, not {count}")
    rng = _rng(seed, agency.node_id)
    kinds = [k for k, _ in agency.kind_weights]
    weights = [w for _, w in agency.kind_weights]
    shared_cities = words.KING_COUNTY + words.PIERCE_COUNTY + words.ELSEWHERE
    pool = max(1, count // 12)
    canon: dict[str, Mapping[str, object]] = {}
    as_held: dict[str, dict[str, object]] = {}
    local: list[str] = []
    owners: _Owners = {}
    records: list[dict[str, object]] = []
    for n in range(_FIRST_BACKGROUND_NUMBER, _FIRST_BACKGROUND_NUMBER + count):
        kind = rng.choices(kinds, weights)[0]
        juvenile = kind in ("incident_report", "field_interview", "case_file") and (
            rng.random() < 0.025
        )
        if juvenile:
            key = f"{agency.node_id}:{n}"
            canon[key] = as_held[key] = _new_person(
                rng, agency.city_pool, agency.area_codes, (15, 27)
            )
        elif rng.random() < _SHARED_SHARE:
            key = f"shared:{rng.randrange(pool)}"
            if key not in canon:
                canon[key] = _new_person(
                    _rng(seed, key), shared_cities, ("206", "253", "425", "360"), (20, 70)
                )
            if key not in as_held:
                as_held[key] = _variant(rng, canon[key], agency.city_pool)
        elif local and rng.random() < 0.3:
            key = rng.choice(local)
        else:
            key = f"{agency.node_id}:{n}"
            canon[key] = as_held[key] = _new_person(
                rng, agency.city_pool, agency.area_codes, (19, 70)
            )
            local.append(key)
        record = _background_record(rng, agency, kind, as_held[key], n, juvenile)
        records.append(record)
        owners.setdefault(key, []).append((agency.node_id, str(record["record_id"])))
    for person in PLANTED_PEOPLE:
        canon[person.key] = person.profile()
        for spec in person.records_at(agency.node_id):
            records.insert(rng.randint(0, len(records)), planted_record(agency, person, spec))
            owners.setdefault(person.key, []).append((agency.node_id, spec.record_id))
    return records, owners, canon


def generate_agency_records(agency: Agency, *, count: int, seed: int) -> list[dict[str, object]]:
    """Generate an agency's records: ``count`` background records plus its planted ones.

    Args:
        agency: whose records; decides record kinds, places, numbering and contact.
        count: number of background records (planted records come on top).
        seed: any integer; the same (agency, count, seed) gives identical records.

    Returns:
        Records as JSON-ready dicts with unique ``record_id`` values.

    Raises:
        ValueError: if ``count`` is negative.
    """
    return _generate(agency, count, seed)[0]


def generate_labelled_variants(
    agencies: Sequence[Agency] = DEMO_AGENCIES, *, count: int, seed: int
) -> list[LabelledQuery]:
    """Return recall-benchmark queries for the records ``generate_agency_records`` makes.

    One query per planted person and per shared background person held by at least
    two of ``agencies``, each by the person's canonical name and date of birth, with
    every record (under whatever spelling) that is about that person.

    Args:
        agencies: the federation, generated with the same ``count`` and ``seed``.
        count: background records per agency.
        seed: the generation seed.
    """
    owners: _Owners = {}
    canon: dict[str, Mapping[str, object]] = {}
    for agency in agencies:
        _, held, people = _generate(agency, count, seed)
        canon.update(people)
        for key, ids in held.items():
            owners.setdefault(key, []).extend(ids)
    planted = [p.key for p in PLANTED_PEOPLE]
    queries = []
    for key, ids in sorted(owners.items(), key=lambda kv: (kv[0] not in planted, kv[0])):
        if key in planted or (key.startswith("shared:") and len({a for a, _ in ids}) > 1):
            p = canon[key]
            queries.append(
                LabelledQuery(str(p["surname"]), str(p["given_name"]), str(p["dob"]), tuple(ids))
            )
    return queries


def write_jsonl(records: Iterable[Mapping[str, object]], path: str | os.PathLike[str]) -> int:
    """Write ``records`` to ``path`` as UTF-8 JSON Lines and return how many were written."""
    written = 0
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += 1
    return written
