"""Names that are the same name in another tradition or spelling. Pure data, no I/O.

Given names: English nicknames come from the maintained ``nicknames`` data set
(carltonnorthern/nicknames, used by :mod:`fieldgate.matching.matcher`). No
maintained, machine-readable data set was found for the traditions below, so
they are a small curated table, each pair a widely documented usage:

* Spanish hypocorisms (PEPE/JOSE, PACO and PANCHO/FRANCISCO, BETO/ALBERTO and
  ROBERTO, CHUY and CHUCHO/JESUS, LUPE/GUADALUPE, NACHO/IGNACIO, ...): the
  standard lists of Spanish *hipocorísticos* (e.g. Wikipedia "Hipocorístico",
  the RAE's *Diccionario panhispánico de dudas*).
* Portuguese (ZE/JOSE, CHICO/FRANCISCO, TIAO/SEBASTIAO, ...): same source class.
* Vietnamese adopted English names (TUAN/TONY, HUNG/HENRY, ...): chosen by
  sound by the bearer; only the commonest pairs reported in community usage,
  so recall for this class depends on the table.
* Arabic and Somali transliterations (MOHAMED/MUHAMMAD/MAXAMED, AHMED/AXMED,
  ALI/CALI, ...): the Somali Latin orthography writes Arabic ḥ as X and ʿ as C.
* Slavic (ALEKSANDR/ALEXANDER/OLEKSANDR, DMITRI/DMITRY, ...): BGN/PCGN
  versus ISO 9 and Ukrainian national romanisation of the same Cyrillic name.

Surnames: Chinese and Korean romanisations of one character or Hangul
syllable (JANG/CHANG, LIM/IM/LIN, HUANG/WONG, CHEN/CHAN/TAN, LI/LEE/YI/RHEE,
PARK/PAK/BAK, ...): Hanyu Pinyin, Wade–Giles, Cantonese (Yale/Hong Kong
government), Hokkien and Revised/McCune–Reischauer spellings, as listed in the
Wikipedia articles for each surname. Phonetic keys do not connect them
(JANG and CHANG share neither NYSIIS nor metaphone), hence a table.

Every group is symmetric: any two names in one group are equivalent. Adding a
group changes matching and so needs a re-index only for surnames (the lookup
keys); given-name groups are read at scoring time.
"""

from __future__ import annotations

import functools

_GIVEN_GROUPS: tuple[tuple[str, ...], ...] = (
    # Spanish
    ("JOSE", "PEPE", "CHEPE", "PEPITO"),
    ("FRANCISCO", "PACO", "PANCHO", "CHICO", "KIKO"),
    ("FRANCISCA", "PACA", "PANCHA", "PAQUITA"),
    ("ALBERTO", "BETO"),
    ("ROBERTO", "BETO", "TITO"),
    ("JESUS", "CHUY", "CHUCHO", "CHUS"),
    ("GUADALUPE", "LUPE", "LUPITA"),
    ("IGNACIO", "NACHO"),
    ("EDUARDO", "LALO"),
    ("GUILLERMO", "MEMO"),
    ("ENRIQUE", "QUIQUE"),
    ("RAFAEL", "RAFA"),
    ("ANTONIO", "TONO", "TONY"),
    ("SALVADOR", "CHAVA", "CHAVO"),
    ("MANUEL", "MANOLO", "MANO"),
    ("GREGORIO", "GOYO"),
    ("DOLORES", "LOLA", "LOLITA"),
    ("CONCEPCION", "CONCHA", "CONCHITA"),
    ("CONSUELO", "CHELO"),
    ("ROSARIO", "CHARO"),
    ("MERCEDES", "MECHE"),
    ("ALEJANDRO", "ALEX", "ALEJO"),
    ("JOSE MARIA", "CHEMA"),
    # Portuguese
    ("JOSE", "ZE", "ZEZINHO"),
    ("SEBASTIAO", "TIAO"),
    ("JOAO", "JOAOZINHO"),
    ("ANTONIO", "TONINHO"),
    # Vietnamese adopted English names
    ("TUAN", "TONY"),
    ("HUNG", "HENRY"),
    ("KHANH", "KEN", "KENNY"),
    ("MINH", "MIKE"),
    ("LONG", "LARRY"),
    ("THANH", "TAN", "TANYA"),
    ("DUNG", "DANNY"),
    ("HIEU", "HUGH"),
    ("PHUONG", "FIONA"),
    ("TRANG", "TRACY"),
    ("LINH", "LINDA"),
    ("HOA", "HELEN"),
    # Arabic / Somali transliterations
    ("MOHAMED", "MOHAMMED", "MOHAMMAD", "MUHAMMAD", "MUHAMMED", "MOHAMAD", "MAXAMED", "MAXAMMED"),
    ("AHMED", "AHMAD", "AXMED", "AXMAD"),
    ("ALI", "CALI"),
    ("ABDULLAHI", "ABDULLAH", "CABDULLAAHI", "CABDULLAHI"),
    ("ABDI", "CABDI"),
    ("HASSAN", "HASAN", "XASAN"),
    ("HUSSEIN", "HUSSAIN", "HUSEIN", "XUSEEN"),
    ("OMAR", "UMAR", "CUMAR"),
    ("OSMAN", "UTHMAN", "CISMAAN"),
    ("YUSUF", "YOUSEF", "YOUSSEF", "YUSSUF"),
    ("IBRAHIM", "IBRAAHIM"),
    ("FATIMA", "FADUMO", "FATUMA"),
    ("KHADIJA", "KHADIJAH", "XADIJO"),
    # Slavic
    ("ALEKSANDR", "ALEXANDER", "ALEKSANDER", "OLEKSANDR", "SASHA"),
    ("DMITRI", "DMITRY", "DMITRIY", "DMYTRO"),
    ("SERGEI", "SERGEY", "SERHIY", "SERHII"),
    ("YURI", "YURIY", "IURII", "YURIJ"),
    ("MIKHAIL", "MYKHAILO", "MICHAEL"),
    ("VLADIMIR", "VOLODYMYR", "VOLODIMIR"),
    ("ANDREI", "ANDREY", "ANDRIY", "ANDRII"),
    ("NIKOLAI", "NIKOLAY", "MYKOLA"),
    ("OLGA", "OLHA"),
    ("YELENA", "ELENA", "OLENA"),
    ("EVGENY", "YEVGENY", "YEVHEN", "EUGENE"),
)

_SURNAME_GROUPS: tuple[tuple[str, ...], ...] = (
    ("JANG", "CHANG", "ZHANG", "CHEUNG", "CHEONG"),
    ("LIM", "IM", "LIN", "LAM"),
    ("HUANG", "WONG", "HWANG", "WEE", "NG"),
    ("CHEN", "CHAN", "TAN", "CHIN"),
    ("LI", "LEE", "YI", "RHEE", "RI", "LY"),
    ("PARK", "PAK", "BAK", "PAIK"),
    ("CHOI", "CHOE", "CHOY", "CHUI", "CAI", "TSAI", "CHUA"),
    ("JEONG", "JUNG", "CHUNG", "CHONG", "ZHENG", "CHENG", "TEH"),
    ("KANG", "GANG", "JIANG", "KONG"),
    ("ZHOU", "CHOW", "CHAU", "CHOU", "CHEW"),
    ("LIU", "LAU", "LAO", "LOW", "YOO", "YU"),
    ("GUO", "KWOK", "KUO", "QUEK"),
    ("XU", "HSU", "HUI", "HEO", "HUR"),
    ("YANG", "YEUNG", "YEONG", "YEO"),
    ("WU", "WOO", "GOH", "OH", "NG"),
    ("ZHAO", "CHIU", "CHAO", "CHO", "JO"),
    ("SHIN", "SHEN", "SIN", "SIM"),
    ("WANG", "WONG", "ONG"),
)


def _index(groups: tuple[tuple[str, ...], ...]) -> dict[str, frozenset[str]]:
    related: dict[str, set[str]] = {}
    for group in groups:
        for name in group:
            related.setdefault(name, set()).update(n for n in group if n != name)
    return {name: frozenset(others) for name, others in related.items()}


@functools.cache
def given_equivalents() -> dict[str, frozenset[str]]:
    """Each given name in the curated table and the names equivalent to it."""
    return _index(_GIVEN_GROUPS)


@functools.cache
def surname_equivalents() -> dict[str, frozenset[str]]:
    """Each surname in the curated table and its other romanisations."""
    return _index(_SURNAME_GROUPS)


def equivalent_surnames(surname: str) -> frozenset[str]:
    """The other romanisations of a one-word normalised surname (empty when none are known)."""
    return surname_equivalents().get(surname, frozenset())


def are_equivalent_given(wanted: str, held: str) -> bool:
    """True when two one-word given names are the same name in the curated table."""
    return held in given_equivalents().get(wanted, frozenset())
