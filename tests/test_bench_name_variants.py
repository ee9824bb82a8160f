"""bench.name_variants at toy size: every class is searched and the figures are computed."""

from __future__ import annotations

from pathlib import Path

from bench.name_variants import CLASSES, run


def test_name_variants_smoke(tmp_path: Path) -> None:
    figures = run(records=600, per_class=3, febrl=0, absent=20, cache=tmp_path)
    per_class = figures["per_class"]
    assert isinstance(per_class, dict)
    assert set(per_class) == set(CLASSES)
    assert all(r["queries"] == 3 for r in per_class.values())
    # Each planted person is found in a store this small, strongly unless the
    # class gives only a pointer's worth of evidence.
    assert figures["recall_min_class"] == 1.0
    assert per_class["compound_surname_year_off"]["recall_strong"] == 0.0
    assert per_class["middle_name"]["recall_strong"] == 1.0
    assert 0.0 <= figures["absent_disclosing_with_fields"] <= 1.0
    assert not list(tmp_path.glob("name-variants-*"))  # the working copy is removed
