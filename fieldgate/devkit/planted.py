"""The demo federation's agencies and the planted people the demo and the tests search for.

Fixed data, no randomness: three agencies (:data:`DEMO_AGENCIES`) and three
people (:data:`PLANTED_PEOPLE`) whose records each agency holds under its own
spelling. :mod:`fieldgate.devkit.synthetic` writes these records among the
random background ones (:func:`fieldgate.devkit.synthetic.planted_record`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from fieldgate.devkit import synthetic_names as words


@dataclass(frozen=True)
class Agency:
    """An agency running a node, and how its synthetic records look.

    Attributes:
        node_id: the node's id, e.g. ``"kcso"``.
        name: the agency's full name.
        prefix: record id prefix, e.g. ``"KCSO"`` for ``KCSO-B-000123``.
        city_pool: cities its people live in; repeats weight a city.
        unit: unit to call about a record (``contact_unit``).
        phone: that unit's (fictional) phone number (``contact_phone``).
        kind_weights: (record kind, weight) pairs; only these kinds are held.
        facilities: jails named in bookings.
        case_prefix: prefix of case numbers, e.g. ``"C"`` for ``C2026-104233``.
        area_codes: area codes of its people's phone numbers.
    """

    node_id: str
    name: str
    prefix: str
    city_pool: tuple[str, ...]
    unit: str
    phone: str
    kind_weights: tuple[tuple[str, int], ...]
    facilities: tuple[str, ...] = ()
    case_prefix: str = ""
    area_codes: tuple[str, ...] = ("206",)


# fmt: off
KCSO = Agency(
    node_id="kcso", name="King County Sheriff's Office", prefix="KCSO",
    city_pool=words.KING_COUNTY, unit="Records and Warrants Unit", phone="206-555-0110",
    kind_weights=(("booking", 45), ("incident_report", 30), ("warrant", 12), ("case_file", 13)),
    facilities=("King County Correctional Facility", "Maleng Regional Justice Center"),
    case_prefix="C", area_codes=("206", "253", "425"),
)
SPD = Agency(
    node_id="spd", name="Seattle Police Department", prefix="SPD",
    city_pool=("SEATTLE",) * 12 + words.KING_COUNTY, unit="Records and Files Unit",
    phone="206-555-0120",
    kind_weights=(("incident_report", 55), ("field_interview", 30), ("case_file", 15)),
    area_codes=("206", "206", "425"),
)
PCSO = Agency(
    node_id="pcso", name="Pierce County Sheriff's Department", prefix="PCSO",
    city_pool=words.PIERCE_COUNTY, unit="Records and Warrants Section", phone="253-555-0130",
    kind_weights=(("booking", 45), ("incident_report", 40), ("warrant", 15)),
    facilities=("Pierce County Jail",), case_prefix="PC", area_codes=("253", "253", "360"),
)
ICE_ERO = Agency(
    node_id="ice-ero", name="ICE ERO Seattle", prefix="ERO",
    city_pool=words.KING_COUNTY + words.PIERCE_COUNTY, unit="Field Office Records",
    phone="206-555-0140", kind_weights=(("case_file", 60), ("field_interview", 40)),
    case_prefix="A", area_codes=("206", "253"),
)
"""A civil immigration agency that holds records too (issue 15): the demo adds its node
to show a county detective's searches never reach it. Not one of DEMO_AGENCIES."""
# fmt: on
DEMO_AGENCIES: tuple[Agency, ...] = (KCSO, SPD, PCSO)
"""The demo federation: a sanctuary county sheriff (jail, reports, warrants, case files),
the city police inside it (reports, field interviews, case files) and the neighbouring
county sheriff (jail, reports, warrants)."""


@dataclass(frozen=True)
class Address:
    """A residential address as records hold it."""

    street: str
    city: str
    state: str
    postal_code: str

    def as_dict(self) -> dict[str, str]:
        """Return the catalog's address object."""
        return asdict(self)


@dataclass(frozen=True)
class PlantedRecord:
    """One fixed record an agency holds about a planted person, under its own spelling.

    Identity fields override the person's canonical ones; every other non-empty
    attribute named after a catalog field is written as is. The record also holds
    every person field its kind can carry (see ``_PERSON_FIELDS``) except ``omit``.
    """

    node_id: str
    record_id: str
    record_kind: str
    surname: str
    given_name: str
    middle_name: str | None
    dob: str
    aliases: tuple[str, ...] = ()
    sealed: bool = False
    juvenile: bool = False
    address: Address | None = None
    omit: tuple[str, ...] = ()
    charges: tuple[str, ...] = ()
    case_number: str | None = None
    incident_date: str | None = None
    incident_summary: str | None = None
    warrant_number: str | None = None
    booking_number: str | None = None
    booking_date: str | None = None
    release_date: str | None = None
    custody_status: str | None = None
    facility: str | None = None
    booking_photo_ref: str | None = None


# fmt: off
_PROFILE_FIELDS = (
    "surname", "given_name", "middle_name", "dob", "sex", "race", "height_cm", "weight_kg",
    "eye_color", "hair_color", "state_id", "fbi_number", "drivers_license", "phone",
    "citizenship", "country_of_birth",
)
# fmt: on


@dataclass(frozen=True)
class PlantedPerson:
    """A person with fixed records at one or more agencies (see :attr:`records`)."""

    key: str
    surname: str
    given_name: str
    middle_name: str | None
    dob: str
    sex: str
    race: str
    height_cm: int
    weight_kg: int
    eye_color: str
    hair_color: str
    scars_marks_tattoos: tuple[str, ...]
    state_id: str | None
    fbi_number: str | None
    drivers_license: str | None
    address: Address
    phone: str | None
    citizenship: str
    country_of_birth: str
    records: tuple[PlantedRecord, ...]

    def records_at(self, node_id: str) -> tuple[PlantedRecord, ...]:
        """Return this person's records held by ``node_id``."""
        return tuple(r for r in self.records if r.node_id == node_id)

    def profile(self) -> dict[str, object]:
        """Return the canonical person-level catalog fields (no record details)."""
        values: dict[str, object] = {name: getattr(self, name) for name in _PROFILE_FIELDS}
        values.update(
            scars_marks_tattoos=list(self.scars_marks_tattoos), address=asdict(self.address)
        )
        return {k: v for k, v in values.items() if v not in (None, [])}


# fmt: off
_KCSO_HERNANDEZ = PlantedRecord(
    "kcso", "", "", "HERNANDEZ", "MIGUEL", "ANGEL", "1986-03-07", case_number="C2026-031552",
    charges=("RCW 9A.56.068 - POSSESSION OF A STOLEN VEHICLE",
             "RCW 46.20.342 - DRIVING WHILE LICENSE SUSPENDED 3RD DEGREE"),
)
_SPD_HERNANDES = PlantedRecord(
    "spd", "", "", "HERNANDES", "MIGEL", None, "1986-07-03", omit=("drivers_license",),
    address=Address("9026 RAINIER AVE S", "SEATTLE", "WA", "98118"),
)
_PCSO_HERNANDEZ_LOPEZ = PlantedRecord(
    "pcso", "", "", "HERNANDEZ-LOPEZ", "MIGUEL", "A", "1986-03-07",
    aliases=("HERNANDEZ, MIKE", "HERNANDEZ, MIGUEL"), case_number="PC2023-003381",
    address=Address("1521 S 84TH ST", "TACOMA", "WA", "98444"),
)

DEMO_SUBJECT = PlantedPerson(
    key="demo-subject", surname="HERNANDEZ", given_name="MIGUEL", middle_name="ANGEL",
    dob="1986-03-07", sex="M", race="WHITE", height_cm=173, weight_kg=82, eye_color="BROWN",
    hair_color="BLACK",
    scars_marks_tattoos=("TAT R FOREARM - VIRGEN DE GUADALUPE", "SC L EYEBROW"),
    state_id="WA21857340", fbi_number="738492KA3", drivers_license="WA:WDLHM7Q42J6XB",
    address=Address("4417 S 144TH ST", "TUKWILA", "WA", "98168"), phone="206-555-0143",
    citizenship="MEXICO", country_of_birth="MEXICO",
    records=(
        replace(
            _KCSO_HERNANDEZ, record_id="KCSO-B-004417", record_kind="booking",
            booking_number="K26004417", booking_date="2026-11-09", release_date="2026-12-18",
            custody_status="in_custody", facility="King County Correctional Facility",
            booking_photo_ref="img://kcso/bookings/2026/K26004417/front.jpg",
        ),
        replace(
            _KCSO_HERNANDEZ, record_id="KCSO-I-031552", record_kind="incident_report",
            incident_date="2026-11-09",
            incident_summary="Deputies stopped a Honda Accord reported stolen in Burien on "
            "Pacific Hwy S, Tukwila. Driver identified by WA licence and booked into KCCF.",
        ),
        replace(
            _SPD_HERNANDES, record_id="SPD-F-018207", record_kind="field_interview",
            case_number="2025-018207", incident_date="2025-08-22",
            incident_summary="Subject contacted in a parked vehicle near Rainier Ave S and "
            "S Henderson St after a prowler call; identified verbally, no ID, released.",
        ),
        replace(
            _SPD_HERNANDES, record_id="SPD-I-020931", record_kind="incident_report",
            charges=("RCW 9A.52.100 - VEHICLE PROWLING 2ND DEGREE",),
            case_number="2025-020931", incident_date="2025-10-03",
            incident_summary="Vehicle prowl reported on S Othello St, Seattle; subject seen "
            "leaving the car and identified from the earlier field interview.",
        ),
        replace(
            _PCSO_HERNANDEZ_LOPEZ, record_id="PCSO-B-003381", record_kind="booking",
            charges=("RCW 46.61.502 - DRIVING UNDER THE INFLUENCE",),
            booking_number="P23003381", booking_date="2023-04-15", release_date="2023-04-17",
            custody_status="released", facility="Pierce County Jail",
            booking_photo_ref="img://pcso/bookings/2023/P23003381/front.jpg",
        ),
        replace(
            _PCSO_HERNANDEZ_LOPEZ, record_id="PCSO-W-007702", record_kind="warrant",
            charges=("RCW 46.61.502 - DRIVING UNDER THE INFLUENCE (FAILURE TO APPEAR)",),
            warrant_number="PCSO-W24-007702", incident_date="2024-02-06",
        ),
    ),
)
"""The person the demo searches for: a Mexican national held at all three agencies.

KCSO holds him exactly (a current booking and its incident report), SPD as
``HERNANDES, MIGEL`` with day and month of birth swapped (a field interview and
an incident report), PCSO as ``HERNANDEZ-LOPEZ, MIGUEL A`` alias ``HERNANDEZ,
MIKE`` (an old booking and the warrant for failing to appear on it).
"""

SECOND_SUBJECT = PlantedPerson(
    key="second-subject", surname="NGUYEN", given_name="LINH", middle_name="THI",
    dob="2005-09-12", sex="F", race="ASIAN", height_cm=158, weight_kg=52, eye_color="BROWN",
    hair_color="BLACK", scars_marks_tattoos=("TAT L WRIST - LOTUS",), state_id="WA30418862",
    fbi_number=None, drivers_license="WA:WDLNL5T83K2QP",
    address=Address("3519 S HUDSON ST", "SEATTLE", "WA", "98118"), phone="206-555-0177",
    citizenship="UNITED STATES", country_of_birth="UNITED STATES",
    records=(
        PlantedRecord(
            "kcso", "KCSO-B-012090", "booking", "NGUYEN", "LINH", "THI", "2005-09-12",
            sealed=True, charges=("RCW 9A.56.050 - THEFT 3RD DEGREE",),
            booking_number="K24012090", booking_date="2024-06-01", release_date="2024-06-02",
            custody_status="released", facility="King County Correctional Facility",
            booking_photo_ref="img://kcso/bookings/2024/K24012090/front.jpg",
        ),
        PlantedRecord(
            "spd", "SPD-I-009876", "incident_report", "NGUYEN", "LINH", None, "2005-09-12",
            juvenile=True, charges=("RCW 66.44.270 - MINOR IN POSSESSION OF ALCOHOL",),
            case_number="2021-009876", incident_date="2021-05-14",
            incident_summary="Juveniles contacted drinking in Jefferson Park; released to "
            "parents.",
        ),
        PlantedRecord(
            "spd", "SPD-F-024400", "field_interview", "NGUYEN", "LINH", "T", "2005-09-12",
            case_number="2026-024400", incident_date="2026-03-20",
            incident_summary="Subject interviewed as a witness to a collision at Rainier Ave "
            "S and S Alaska St.",
        ),
    ),
)
"""A US citizen with a sealed booking at KCSO, and a juvenile and an ordinary record at SPD."""

THIRD_SUBJECT = PlantedPerson(
    key="third-subject", surname="KOVALENKO", given_name="DMYTRO", middle_name="IVANOVYCH",
    dob="1979-11-30", sex="M", race="WHITE", height_cm=186, weight_kg=95, eye_color="BLUE",
    hair_color="BROWN", scars_marks_tattoos=(), state_id="WA11937504", fbi_number="402117PB9",
    drivers_license=None, address=Address("8814 PACIFIC AVE S", "TACOMA", "WA", "98444"),
    phone=None, citizenship="UNITED STATES", country_of_birth="UKRAINE",
    records=(
        PlantedRecord(
            "pcso", "PCSO-W-005150", "warrant", "KOVALENKO", "DMYTRO", "IVANOVYCH",
            "1979-11-30", charges=("RCW 9A.36.021 - ASSAULT 2ND DEGREE",),
            case_number="PC2025-005149", warrant_number="PCSO-W25-005150",
            incident_date="2025-12-01",
        ),
        PlantedRecord(
            "pcso", "PCSO-I-005149", "incident_report", "KOVALENKO", "DMYTRO", None,
            "1979-11-30", charges=("RCW 9A.36.021 - ASSAULT 2ND DEGREE",),
            case_number="PC2025-005149", incident_date="2025-11-28",
            incident_summary="Assault outside a bar on Pacific Ave S, Tacoma; suspect left "
            "before deputies arrived and was identified from video.",
        ),
    ),
)
# fmt: on
"""A naturalised citizen held only by PCSO (a warrant and its incident report)."""

PLANTED_PEOPLE: tuple[PlantedPerson, ...] = (DEMO_SUBJECT, SECOND_SUBJECT, THIRD_SUBJECT)
"""Every planted person; background records never repeat their names with their dates of birth."""
