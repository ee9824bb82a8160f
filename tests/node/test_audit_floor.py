"""No audit entry younger than the retention floor is ever purged, whatever cutoff is asked."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldgate.node.audit.keys import ensure_key
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit.store import AuditRetentionError, AuditStore
from fieldgate.node.audit.verify import verify_log

NOW = dt.datetime(2027, 6, 1, tzinfo=dt.UTC)


class SetClock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ages=st.lists(st.integers(0, 900), min_size=1, max_size=12),
    cutoff_days=st.integers(-3000, 3000),
)
def test_entries_younger_than_the_floor_survive_any_purge(
    tmp_path_factory: pytest.TempPathFactory, ages: list[int], cutoff_days: int
) -> None:
    directory = tmp_path_factory.mktemp("floor")
    key = ensure_key(directory / "key.pem")
    clock = SetClock(NOW)
    store = AuditStore.open(directory / "a.sqlite", node_id="kcso", key=key, clock=clock)
    for number, age in enumerate(sorted(ages, reverse=True)):
        clock.now = NOW - dt.timedelta(days=age)
        store.append("records_purged", {"n": number})
    clock.now = NOW
    cutoff = NOW + dt.timedelta(days=cutoff_days)
    try:
        store.purge_before(cutoff)
    except AuditRetentionError:
        assert cutoff > NOW - dt.timedelta(days=365)
    store.close()
    with AuditReader(directory / "a.sqlite") as reader:
        kept = [row.document()["data"].get("n") for row in reader.entries("records_purged")]
    young = [n for n, age in enumerate(sorted(ages, reverse=True)) if age < 365]
    assert set(young) <= set(kept)
    assert verify_log(directory / "a.sqlite", public_key=key.public_key()).ok


def test_a_shorter_floor_needs_an_override_reason_which_the_purge_records(tmp_path: Path) -> None:
    key = ensure_key(tmp_path / "key.pem")
    clock = SetClock(NOW - dt.timedelta(days=40))
    store = AuditStore.open(tmp_path / "a.sqlite", node_id="kcso", key=key, clock=clock)
    store.append("records_purged", {"n": 0})
    clock.now = NOW
    with pytest.raises(AuditRetentionError, match="override"):
        store.purge_before(NOW - dt.timedelta(days=30), minimum_days=30)
    purge = store.purge_before(NOW - dt.timedelta(days=30), minimum_days=30, override="order 7")
    store.close()
    assert purge.removed == 1
    with AuditReader(tmp_path / "a.sqlite") as reader:
        entry = reader.entry(purge.purge_entry_seq)
    assert entry is not None
    assert entry.document()["data"]["retention_override"] == "order 7"
