"""Word lists behind :mod:`fieldgate.devkit.synthetic`: names, places, charges, marks.

Everything here is invented or generic. Names are common surnames and given
names grouped by origin so a synthetic person's surname, given name, race and
country of birth fit together; places are real Washington cities with real ZIP
codes but the street addresses built from them are random. Phone numbers are
never built from these lists; the generator keeps to the fictional 555-01XX range.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Origin:
    """A naming tradition: which surnames and given names go together.

    Attributes:
        surnames: family names, upper case.
        male: male given names.
        female: female given names.
        races: (race as recorded, weight) pairs.
        countries: (country of birth, weight) pairs.
        weight: relative share of the background population.
    """

    surnames: tuple[str, ...]
    male: tuple[str, ...]
    female: tuple[str, ...]
    races: tuple[tuple[str, int], ...]
    countries: tuple[tuple[str, int], ...]
    weight: int


_US = "UNITED STATES"

# The lists below are hand-wrapped data; the formatter would put one word per line.
# fmt: off
ORIGINS: dict[str, Origin] = {
    "anglo": Origin(
        surnames=(
            "SMITH", "JOHNSON", "MILLER", "DAVIS", "WILSON", "ANDERSON", "TAYLOR", "THOMAS",
            "MOORE", "MARTIN", "THOMPSON", "WHITE", "CLARK", "LEWIS", "ROBINSON", "WALKER",
            "YOUNG", "ALLEN", "KING", "WRIGHT", "SCOTT", "HILL", "GREEN", "ADAMS", "BAKER",
            "NELSON", "CARTER", "MITCHELL", "CAMPBELL", "ROBERTS", "EVANS", "TURNER",
            "PARKER", "COLLINS", "EDWARDS", "STEWART", "MORRIS", "MURPHY", "COOK", "ROGERS",
            "O'BRIEN", "MCCARTHY", "SULLIVAN", "OLSON", "PETERSON", "LARSON", "HANSEN",
            "JENSEN",
        ),
        male=(
            "JAMES", "JOHN", "ROBERT", "MICHAEL", "WILLIAM", "DAVID", "RICHARD", "JOSEPH",
            "THOMAS", "CHRISTOPHER", "DANIEL", "MATTHEW", "ANTHONY", "MARK", "STEVEN",
            "ANDREW", "JOSHUA", "KEVIN", "BRIAN", "RYAN", "JASON", "TYLER", "BRANDON",
            "JUSTIN", "CODY", "DUSTIN", "TRAVIS", "KYLE",
        ),
        female=(
            "MARY", "JENNIFER", "ELIZABETH", "SARAH", "JESSICA", "ASHLEY", "AMANDA",
            "MELISSA", "STEPHANIE", "NICOLE", "MEGAN", "RACHEL", "LAURA", "HEATHER", "AMBER",
            "BRITTANY", "KAYLA", "CRYSTAL", "TIFFANY", "SAMANTHA",
        ),
        races=(("WHITE", 94), ("AMERICAN INDIAN", 5), ("UNKNOWN", 1)),
        countries=((_US, 96), ("CANADA", 3), ("UNITED KINGDOM", 1)),
        weight=42,
    ),
    "african_american": Origin(
        surnames=(
            "WASHINGTON", "JACKSON", "WILLIAMS", "BROWN", "JONES", "HARRIS", "JEFFERSON",
            "BANKS", "JOSEPH", "RIVERS", "BOOKER", "MOSLEY", "DIXON", "GAINES", "HOLLOWAY",
            "MCCLAIN", "SIMMONS", "STOKES", "WHITFIELD", "BATTLE",
        ),
        male=(
            "DARNELL", "TERRELL", "ANDRE", "MARCUS", "JAMAL", "DESHAWN", "TYRONE", "ANTOINE",
            "CEDRIC", "LAMAR", "DEMETRIUS", "JEROME", "REGINALD", "MALIK",
        ),
        female=(
            "KEISHA", "TANISHA", "LATOYA", "EBONY", "SHANICE", "IMANI", "JASMINE", "AALIYAH",
            "TAMIKA", "DESTINY",
        ),
        races=(("BLACK", 98), ("UNKNOWN", 2)),
        countries=((_US, 97), ("JAMAICA", 2), ("HAITI", 1)),
        weight=14,
    ),
    "hispanic": Origin(
        surnames=(
            "HERNANDEZ", "GARCIA", "MARTINEZ", "RODRIGUEZ", "LOPEZ", "GONZALEZ", "PEREZ",
            "SANCHEZ", "RAMIREZ", "TORRES", "FLORES", "RIVERA", "GOMEZ", "DIAZ", "REYES",
            "MORALES", "CRUZ", "ORTIZ", "GUTIERREZ", "CHAVEZ", "RAMOS", "MENDOZA", "RUIZ",
            "ALVAREZ", "CASTILLO", "JIMENEZ", "VASQUEZ", "MORENO", "HERRERA", "MEDINA",
            "AGUILAR", "VARGAS", "NUÑEZ",
        ),
        male=(
            "JOSE", "JUAN", "LUIS", "CARLOS", "JESUS", "JORGE", "FRANCISCO", "ALEJANDRO",
            "MIGUEL", "ANTONIO", "RICARDO", "EDUARDO", "FERNANDO", "JAVIER", "OSCAR", "RAUL",
            "SERGIO", "MANUEL", "PEDRO", "ARTURO",
        ),
        female=(
            "MARIA", "GUADALUPE", "ROSA", "ANA", "VERONICA", "LETICIA", "ALEJANDRA",
            "GABRIELA", "DANIELA", "YESENIA", "CARMEN", "ELENA", "ADRIANA", "PATRICIA",
        ),
        races=(("WHITE", 88), ("AMERICAN INDIAN", 6), ("UNKNOWN", 6)),
        countries=(
            (_US, 58), ("MEXICO", 27), ("GUATEMALA", 5), ("EL SALVADOR", 5), ("HONDURAS", 4),
            ("VENEZUELA", 1),
        ),
        weight=20,
    ),
    "vietnamese": Origin(
        surnames=("NGUYEN", "TRAN", "LE", "PHAM", "HOANG", "VU", "DANG", "BUI"),
        male=("MINH", "TUAN", "DUC", "HUNG", "KHANH", "LONG", "QUANG"),
        female=("LINH", "THAO", "MAI", "HUONG", "TRANG", "NGOC"),
        races=(("ASIAN", 100),),
        countries=((_US, 55), ("VIETNAM", 45)),
        weight=4,
    ),
    "chinese": Origin(
        surnames=("WANG", "LI", "ZHANG", "CHEN", "LIU", "HUANG", "WONG", "LAM"),
        male=("WEI", "JUN", "HAO", "JIAN", "MING", "KEVIN"),
        female=("MEI", "XIAO", "YAN", "LI NA", "JING", "CINDY"),
        races=(("ASIAN", 100),),
        countries=((_US, 55), ("CHINA", 35), ("HONG KONG", 5), ("TAIWAN", 5)),
        weight=3,
    ),
    "korean": Origin(
        surnames=("KIM", "LEE", "PARK", "CHOI", "JUNG", "KANG", "YOON"),
        male=("MIN-JUN", "HYUN", "SUNG", "JAE", "DONG-HYUK"),
        female=("JI-YEON", "SOO-JIN", "EUN", "HYE-JIN", "MIN-JI"),
        races=(("ASIAN", 100),),
        countries=((_US, 60), ("SOUTH KOREA", 40)),
        weight=2,
    ),
    "filipino": Origin(
        surnames=("SANTOS", "BAUTISTA", "DELA CRUZ", "VILLANUEVA", "MAGSINO", "PASCUAL"),
        male=("RODEL", "JOMAR", "ARNEL", "MARVIN", "JERICHO"),
        female=("MARICEL", "JOCELYN", "ROWENA", "LIEZEL", "CHARMAINE"),
        races=(("ASIAN", 85), ("PACIFIC ISLANDER", 15)),
        countries=((_US, 60), ("PHILIPPINES", 40)),
        weight=3,
    ),
    "south_asian": Origin(
        surnames=("PATEL", "SINGH", "SHARMA", "KUMAR", "GILL", "SANDHU", "DHALIWAL", "KHAN",
                  "REDDY", "GUPTA"),
        male=("RAJ", "ARJUN", "HARPREET", "GURPREET", "AMIT", "VIKRAM", "SANJAY", "RAHUL"),
        female=("PRIYA", "ANJALI", "SIMRAN", "NEHA", "POOJA", "MANPREET"),
        races=(("ASIAN", 100),),
        countries=((_US, 48), ("INDIA", 45), ("PAKISTAN", 5), ("FIJI", 2)),
        weight=3,
    ),
    "eastern_european": Origin(
        surnames=(
            "KOWALSKI", "NOWAK", "WISNIEWSKI", "IVANOV", "PETROV", "SMIRNOV", "KOVALENKO",
            "SHEVCHENKO", "BONDARENKO", "MELNYK", "POPESCU", "IONESCU", "HORVAT", "NOVAK",
            "DVORAK",
        ),
        male=("DMITRI", "SERGEI", "ANDRIY", "OLEKSANDR", "VLADIMIR", "PAVEL", "TOMASZ",
              "PIOTR", "BOGDAN", "NIKOLAI", "IVAN", "MIHAI"),
        female=("OLGA", "NATALIA", "SVETLANA", "OKSANA", "IRINA", "YULIA", "AGNIESZKA",
                "KATARZYNA", "ELENA", "ANNA"),
        races=(("WHITE", 100),),
        countries=((_US, 45), ("UKRAINE", 25), ("RUSSIA", 12), ("POLAND", 8), ("ROMANIA", 6),
                   ("MOLDOVA", 4)),
        weight=5,
    ),
    "east_african": Origin(
        surnames=("MOHAMED", "HASSAN", "ALI", "ABDI", "OMAR", "WARSAME", "TESFAYE",
                  "GEBREMEDHIN", "HAILE", "BEKELE"),
        male=("ABDIRAHMAN", "AHMED", "YUSUF", "ABDULLAHI", "DAWIT", "YONAS", "TEWODROS"),
        female=("FARTUN", "HODAN", "AMINA", "SAHRA", "HAWA", "MERON", "SELAM", "TSION"),
        races=(("BLACK", 100),),
        countries=((_US, 35), ("SOMALIA", 35), ("ETHIOPIA", 18), ("ERITREA", 8), ("KENYA", 4)),
        weight=3,
    ),
    "pacific_islander": Origin(
        surnames=("FALEOLO", "TUIASOSOPO", "SAVEA", "FAAMAUSILI", "TAUFA", "MAHE"),
        male=("SIONE", "TEVITA", "IOANE", "SEFO", "VILIAMI"),
        female=("MALIA", "LESIELI", "SINA", "LUPE", "ANA"),
        races=(("PACIFIC ISLANDER", 100),),
        countries=((_US, 75), ("SAMOA", 15), ("TONGA", 10)),
        weight=2,
    ),
}
"""Name origins by key, each with its share of the background population."""

NICKNAMES: dict[str, tuple[str, ...]] = {
    "MICHAEL": ("MIKE",), "WILLIAM": ("BILL", "WILL"), "ROBERT": ("BOB", "ROB"),
    "JAMES": ("JIM", "JIMMY"), "JOSEPH": ("JOE",), "RICHARD": ("RICK", "DICK"),
    "CHRISTOPHER": ("CHRIS",), "DANIEL": ("DAN", "DANNY"), "MATTHEW": ("MATT",),
    "ANTHONY": ("TONY",), "STEVEN": ("STEVE",), "ANDREW": ("ANDY", "DREW"),
    "JOSHUA": ("JOSH",), "THOMAS": ("TOM",), "DAVID": ("DAVE",), "JOHN": ("JACK",),
    "MIGUEL": ("MIKE",), "JOSE": ("PEPE",), "FRANCISCO": ("PACO", "FRANK"),
    "ALEJANDRO": ("ALEX",), "ANTONIO": ("TONY",), "EDUARDO": ("EDDIE",),
    "JAVIER": ("JAVI",), "MANUEL": ("MANNY",), "RICARDO": ("RICKY",),
    "ELIZABETH": ("LIZ", "BETH"), "JENNIFER": ("JEN", "JENNY"), "SAMANTHA": ("SAM",),
    "STEPHANIE": ("STEPH",), "NICOLE": ("NIKKI",), "GUADALUPE": ("LUPE",),
    "PATRICIA": ("PATTY",), "ALEJANDRA": ("ALEX",), "DMITRI": ("DIMA",),
    "OLEKSANDR": ("ALEX", "SASHA"), "VLADIMIR": ("VLAD",), "NIKOLAI": ("NICK",),
    "ABDIRAHMAN": ("ABDI",), "DEMETRIUS": ("DEMI",), "REGINALD": ("REGGIE",),
}
"""Given names and the short forms records also carry."""

PHONETIC_SWAPS: tuple[tuple[str, str], ...] = (
    ("Z", "S"), ("S", "Z"), ("PH", "F"), ("Y", "I"), ("I", "Y"), ("C", "K"), ("K", "C"),
    ("V", "B"), ("B", "V"), ("EI", "IE"), ("IE", "EI"), ("OU", "U"), ("TH", "T"),
)
"""Misspellings a clerk makes by ear: (written, heard-as) substrings."""

CITY_ZIPS: dict[str, tuple[str, ...]] = {
    "SEATTLE": ("98101", "98103", "98104", "98105", "98106", "98108", "98112", "98115",
                "98117", "98118", "98122", "98125", "98126", "98133", "98144", "98178"),
    "KENT": ("98030", "98031", "98032", "98042"),
    "RENTON": ("98055", "98056", "98057", "98058", "98059"),
    "AUBURN": ("98001", "98002", "98092"),
    "FEDERAL WAY": ("98003", "98023"),
    "BELLEVUE": ("98004", "98005", "98006", "98007", "98008"),
    "TUKWILA": ("98168", "98188"),
    "BURIEN": ("98146", "98148", "98166"),
    "SEATAC": ("98188", "98198"),
    "KIRKLAND": ("98033", "98034"),
    "REDMOND": ("98052", "98053"),
    "SHORELINE": ("98133", "98155", "98177"),
    "DES MOINES": ("98198",),
    "ISSAQUAH": ("98027", "98029"),
    "ENUMCLAW": ("98022",),
    "TACOMA": ("98402", "98403", "98404", "98405", "98406", "98407", "98408", "98409",
               "98418", "98422", "98444", "98445", "98446"),
    "LAKEWOOD": ("98498", "98499"),
    "PUYALLUP": ("98371", "98372", "98373", "98374", "98375"),
    "SPANAWAY": ("98387",),
    "UNIVERSITY PLACE": ("98466", "98467"),
    "GIG HARBOR": ("98332", "98335"),
    "BONNEY LAKE": ("98391",),
    "FIFE": ("98424",),
    "SUMNER": ("98390",),
    "EVERETT": ("98201", "98203", "98204"),
    "LYNNWOOD": ("98036", "98037"),
    "OLYMPIA": ("98501", "98502"),
    "BREMERTON": ("98310", "98312"),
    "SPOKANE": ("99201", "99205"),
    "YAKIMA": ("98901", "98902"),
}
"""Washington cities and some of their ZIP codes."""

KING_COUNTY: tuple[str, ...] = (
    "SEATTLE", "SEATTLE", "KENT", "RENTON", "AUBURN", "FEDERAL WAY", "BELLEVUE", "TUKWILA",
    "BURIEN", "SEATAC", "KIRKLAND", "REDMOND", "SHORELINE", "DES MOINES", "ISSAQUAH",
    "ENUMCLAW",
)
PIERCE_COUNTY: tuple[str, ...] = (
    "TACOMA", "TACOMA", "TACOMA", "LAKEWOOD", "PUYALLUP", "SPANAWAY", "UNIVERSITY PLACE",
    "GIG HARBOR", "BONNEY LAKE", "FIFE", "SUMNER",
)
ELSEWHERE: tuple[str, ...] = ("EVERETT", "LYNNWOOD", "OLYMPIA", "BREMERTON", "SPOKANE", "YAKIMA")
"""City pools; a repeated city is drawn more often."""

NAMED_STREETS: tuple[str, ...] = (
    "PACIFIC HWY S", "RAINIER AVE S", "AURORA AVE N", "MARTIN LUTHER KING JR WAY S",
    "DELRIDGE WAY SW", "LAKE CITY WAY NE", "EAST MARGINAL WAY S", "BEACON AVE S",
    "INTERNATIONAL BLVD", "MILITARY RD S", "CENTRAL AVE N", "MERIDIAN AVE E",
    "SOUTH TACOMA WAY", "PORTLAND AVE E", "PACIFIC AVE S", "CANYON RD E", "BRIDGEPORT WAY W",
    "STEILACOOM BLVD SW", "BENSON RD S", "MAIN ST", "MAPLE VALLEY HWY", "EVERGREEN WAY",
    "HIGHWAY 99", "SUNSET BLVD NE", "COAL CREEK PKWY SE",
)
"""Street names used as they are; numbered streets are built on the fly."""

STREET_AXES: tuple[tuple[str, str], ...] = (
    ("S", "ST"), ("NE", "ST"), ("N", "ST"), ("SE", "ST"), ("E", "ST"), ("", "AVE S"),
    ("", "AVE SW"), ("", "AVE NE"), ("", "AVE E"), ("", "PL SE"), ("", "CT E"),
)
"""(prefix, suffix) of numbered streets: ``S 144TH ST``, ``35TH AVE SW``."""

CHARGES: tuple[str, ...] = (
    "RCW 9A.56.068 - POSSESSION OF A STOLEN VEHICLE",
    "RCW 9A.56.065 - THEFT OF A MOTOR VEHICLE",
    "RCW 9A.56.050 - THEFT 3RD DEGREE",
    "RCW 9A.56.040 - THEFT 2ND DEGREE",
    "RCW 9A.56.360 - RETAIL THEFT WITH SPECIAL CIRCUMSTANCES",
    "RCW 9A.56.160 - POSSESSING STOLEN PROPERTY 2ND DEGREE",
    "RCW 9A.52.030 - BURGLARY 2ND DEGREE",
    "RCW 9A.52.025 - RESIDENTIAL BURGLARY",
    "RCW 9A.52.100 - VEHICLE PROWLING 2ND DEGREE",
    "RCW 9A.52.080 - CRIMINAL TRESPASS 2ND DEGREE",
    "RCW 9A.36.021 - ASSAULT 2ND DEGREE",
    "RCW 9A.36.031 - ASSAULT 3RD DEGREE",
    "RCW 9A.36.041 - ASSAULT 4TH DEGREE",
    "RCW 9A.36.050 - RECKLESS ENDANGERMENT",
    "RCW 9A.46.020 - HARASSMENT",
    "RCW 7.105.450 - VIOLATION OF A PROTECTION ORDER",
    "RCW 9A.56.210 - ROBBERY 2ND DEGREE",
    "RCW 9A.48.080 - MALICIOUS MISCHIEF 2ND DEGREE",
    "RCW 9A.48.090 - MALICIOUS MISCHIEF 3RD DEGREE",
    "RCW 9A.60.020 - FORGERY",
    "RCW 9.35.020 - IDENTITY THEFT 2ND DEGREE",
    "RCW 9.41.040 - UNLAWFUL POSSESSION OF A FIREARM 2ND DEGREE",
    "RCW 69.50.4013 - POSSESSION OF A CONTROLLED SUBSTANCE",
    "RCW 69.50.401 - DELIVERY OF A CONTROLLED SUBSTANCE",
    "RCW 46.61.502 - DRIVING UNDER THE INFLUENCE",
    "RCW 46.20.342 - DRIVING WHILE LICENSE SUSPENDED 3RD DEGREE",
    "RCW 46.52.020 - HIT AND RUN",
    "RCW 46.61.024 - ATTEMPTING TO ELUDE A POLICE VEHICLE",
    "RCW 9A.76.020 - OBSTRUCTING A LAW ENFORCEMENT OFFICER",
    "RCW 9A.76.040 - RESISTING ARREST",
    "RCW 9A.76.175 - MAKING A FALSE STATEMENT TO A PUBLIC SERVANT",
    "RCW 9A.84.030 - DISORDERLY CONDUCT",
)
"""Offences as records write them: statute, then description."""

JUVENILE_CHARGES: tuple[str, ...] = (
    "RCW 66.44.270 - MINOR IN POSSESSION OF ALCOHOL",
    "RCW 9A.56.050 - THEFT 3RD DEGREE",
    "RCW 9A.48.090 - MALICIOUS MISCHIEF 3RD DEGREE",
    "RCW 9A.52.080 - CRIMINAL TRESPASS 2ND DEGREE",
)
"""Offences typical of juvenile records."""

MARKS: tuple[str, ...] = (
    "TAT R FOREARM - ROSE", "TAT L HAND - STAR", "TAT NECK - NAME 'MARIA'", "SC L CHEEK",
    "SC R KNEE - SURGICAL", "TAT CHEST - EAGLE", "TAT BACK - TRIBAL", "TAT R ARM - SKULL",
    "TAT L WRIST - DATE 2009", "MOLE R CHEEK", "PIERCED EARS", "TAT FINGERS - 'LOVE'",
    "TAT R CALF - DRAGON", "BIRTHMARK L SHOULDER", "TAT L FOREARM - CLOCK",
    "TAT R HAND - SPIDERWEB", "TAT UPPER BACK - KOI FISH", "TAT L ARM - CROSS", "SC ABDOMEN",
    "TAT NECK - BARCODE", "MISSING TOOTH UPPER FRONT", "TAT R SHOULDER - MOUNTAIN",
)
"""Scars, marks and tattoos, NCIC-style abbreviations."""

EYE_COLORS: tuple[tuple[str, int], ...] = (
    ("BROWN", 55), ("BLUE", 20), ("HAZEL", 10), ("GREEN", 8), ("GRAY", 2), ("BLACK", 5),
)
HAIR_COLORS: tuple[tuple[str, int], ...] = (
    ("BLACK", 35), ("BROWN", 40), ("BLONDE", 12), ("RED", 3), ("GRAY", 6), ("BALD", 4),
)
"""(colour, weight) pairs for people of European origin; others draw darker colours."""

INCIDENT_SUMMARIES: tuple[str, ...] = (
    "Officers responded to a report of {offence} near {street}, {city}. Subject identified "
    "at the scene.",
    "Complainant reported {offence} at a business on {street}, {city}. Subject located "
    "nearby and identified.",
    "Traffic stop on {street}, {city}; records check led to investigation of {offence}.",
    "Follow-up investigation of {offence} reported in {city}. Subject named by witness.",
    "Call for service on {street}, {city}: {offence}. Report taken; referred for charging.",
)
FIELD_INTERVIEW_SUMMARIES: tuple[str, ...] = (
    "Subject contacted on {street}, {city} after a suspicious-person call; identified "
    "verbally and released.",
    "Subject contacted in a parked vehicle on {street}, {city}; no enforcement action.",
    "Subject interviewed as a possible witness near {street}, {city}.",
    "Subject contacted during an area check on {street}, {city}; consistent with a prior "
    "prowler report.",
)
CASE_FILE_SUMMARIES: tuple[str, ...] = (
    "Case file for {offence}; investigation open, assigned to detectives.",
    "Case file for {offence}; referred to the prosecutor.",
    "Case file for {offence}; closed, exceptionally cleared.",
)
"""Narrative templates with ``{offence}``, ``{street}`` and ``{city}`` slots."""
# fmt: on
