"""``fieldgate node audit-init`` and the audit log's retention floor, as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

from fieldgate.node.audit.schema import AuditReader
from tests.node.test_audit_retention import write_catalog, write_records
from tests.test_cli_audit import _node_config, assert_clean_failure, run


def configured(tmp_path: Path, retention: str = "retention_days = 365") -> tuple[Path, Path]:
    catalog = write_catalog(tmp_path)
    imported = run("node", "import", "--db", str(tmp_path / "node.sqlite"), "--catalog",
                   str(catalog), str(write_records(tmp_path)))  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    config = _node_config(tmp_path, catalog)
    config.write_text(config.read_text().replace("retention_days = 365", retention))
    return config, tmp_path / "node.audit.sqlite"


def test_a_deleted_log_is_refused_until_audit_init_records_a_new_one(tmp_path: Path) -> None:
    config, log = configured(tmp_path)
    first = run("node", "purge", "--config", str(config), "--today", "2026-06-01")
    assert first.returncode == 0, first.stderr
    for suffix in ("", "-wal", "-shm"):
        log.with_name(log.name + suffix).unlink(missing_ok=True)
    refused = run("node", "purge", "--config", str(config))
    assert_clean_failure(refused, "audit-init")
    assert "missing or empty" in refused.stderr
    assert not log.exists()
    assert_clean_failure(
        run("node", "audit-init", "--config", str(config), "--reason", " "), "--reason"
    )
    made = run("node", "audit-init", "--config", str(config), "--reason", "INC-1", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["mode"] == "new"
    again = run("node", "purge", "--config", str(config), "--json")
    assert again.returncode == 0, again.stderr
    with AuditReader(log) as reader:
        kinds = [row.kind for row in reader.entries()]
        first_entry = reader.entry(1)
    assert kinds[0] == "audit_initialised"
    assert first_entry is not None
    assert first_entry.document()["data"]["reason"] == "INC-1"
    assert run("audit", "verify", "--db", str(log)).returncode == 0


def test_a_retention_below_the_floor_needs_a_stated_override(tmp_path: Path) -> None:
    config, _ = configured(tmp_path, "retention_days = 30")
    assert_clean_failure(run("node", "purge", "--config", str(config)), "retention_days")
    config.write_text(
        config.read_text().replace(
            "retention_days = 30", 'retention_days = 30\nretention_override = "court order 7"'
        )
    )
    done = run("node", "purge", "--config", str(config), "--json")
    assert done.returncode == 0, done.stderr
    assert "retention floor overridden" in done.stderr
    assert json.loads(done.stdout)["audit_retention_days"] == 30
