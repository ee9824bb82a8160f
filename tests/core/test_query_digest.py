"""``query_digest``: the one digest the broker's and the nodes' logs both record.

Auditors join the broker's search log and each node's disclosure log on it, so
its bytes are pinned here: a change to the canonical form breaks every join
with logs written before it.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import assume, given
from hypothesis import strategies as st

from fieldgate.core.query import PersonQuery, query_digest

PINNED = (
    (
        PersonQuery(
            "MULLER",
            "ANNA MARIA",
            dt.date(1980, 2, 29),
            (("passport", "X1234567"), ("driver_licence", "D-99")),
            25,
        ),
        "d0fb2c7d9462f12db062448c95cc17d2832efa181087efff00bf691c93ef755f",
    ),
    (
        PersonQuery("", "", None, (), 25),
        "29f71bb96095f5e0bb547d2b6087c91268c5dd1583329a6ce1426e93e9fb2aee",
    ),
)


def test_the_digest_bytes_are_pinned() -> None:
    assert [query_digest(query) for query, _ in PINNED] == [digest for _, digest in PINNED]


def test_the_node_and_the_broker_use_the_same_function() -> None:
    """Neither server keeps a copy of its own that could drift (logs hold the keyed
    digest of fieldgate.core.digests; the unkeyed one is for in-memory joins only)."""
    from fieldgate.broker import audit_log, servicer
    from fieldgate.node import search

    for module in (audit_log, servicer, search):
        assert getattr(module, "query_digest", query_digest) is query_digest
    assert servicer.query_digest is query_digest


_IDENTIFIERS = st.lists(
    st.tuples(st.sampled_from(["passport", "ssn", "driver_licence"]), st.text(max_size=8)),
    max_size=4,
)


@given(identifiers=_IDENTIFIERS, max_hits=st.integers(1, 100), surname=st.text(max_size=10))
def test_identifier_order_and_max_hits_do_not_change_the_digest(
    identifiers: list[tuple[str, str]], max_hits: int, surname: str
) -> None:
    one = PersonQuery(surname, "", None, tuple(identifiers), 25)
    other = PersonQuery(surname, "", None, tuple(reversed(identifiers)), max_hits)
    assert query_digest(one) == query_digest(other)


@given(first=st.text(max_size=10), second=st.text(max_size=10))
def test_different_names_digest_differently(first: str, second: str) -> None:
    assume(first != second)
    assert query_digest(PersonQuery(first, "", None, (), 25)) != query_digest(
        PersonQuery(second, "", None, (), 25)
    )
