"""Catalog changes reviewed like contract changes, at the command line (issue 16, item 9).

Before, adding ``ssn`` to ``identity`` released it whole to every criminal
investigator under the sanctuary contract, and ``fieldgate contract check``
printed "ok" without a finding. Now check lists each field released by class,
and ``contract diff`` (persona and audit replay) judges OLD and NEW each with
its own catalog and refuses a catalog change that releases a field.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from fieldgate.cli.main import cli
from fieldgate.policy.catalog import default_catalog_path
from fieldgate.policy.shipped import shipped_contract
from fieldgate.trust.keys import generate_key, save_private_key, save_public_key

ROOT = Path(__file__).resolve().parents[1]
SANCTUARY = str(shipped_contract("sanctuary_county"))
STANDARD = str(default_catalog_path())
SSN = '\n[fields.ssn]\nclass = "{cls}"\ntype = "string"\ndescription = "Social security number"\n'


def with_ssn(directory: Path, cls: str = "identity") -> str:
    path = directory / f"ssn-{cls}.toml"
    path.write_text(default_catalog_path().read_text() + SSN.format(cls=cls))
    return str(path)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_check_names_every_field_released_by_class(tmp_path: Path) -> None:
    done = invoke(
        "contract", "check", "--contract", SANCTUARY, "--catalog", with_ssn(tmp_path), "--json"
    )
    report = json.loads(done.output)
    by_class = {f["name"] for f in report["findings"] if f["kind"] == "released_by_class"}
    # The new field, and the identity fields the contract never names.
    assert {"ssn", "surname", "dob"} <= by_class
    # Masked by name (address, phone) and never released (citizenship): not findings.
    assert not by_class & {"address", "phone", "citizenship"}
    table = invoke("contract", "check", "--contract", SANCTUARY, "--catalog", with_ssn(tmp_path))
    assert "released_by_class" in table.output
    assert "fields released by class" in table.output  # not a bare "ok"


def test_diff_flags_what_a_catalog_change_releases(tmp_path: Path) -> None:
    args = (
        "contract", "diff", SANCTUARY, SANCTUARY,
        "--records", str(ROOT / "rego" / "examples"),
        "--personas", str(ROOT / "rego" / "personas"),
        "--old-catalog", STANDARD, "--new-catalog", with_ssn(tmp_path), "--json",
    )  # fmt: skip
    done = invoke(*args)
    assert done.exit_code == 1, done.output
    report = json.loads(done.output)
    assert report["catalog_changes"] == {"ssn": {"old_class": "", "new_class": "identity"}}
    assert report["catalog_widened"] == ["ssn"]
    detective = next(p for p in report["personas"] if p["name"] == "detective")
    (gain,) = detective["classes"]["identity"]["wider"]
    assert (gain["field"], gain["old"], gain["new"]) == ("ssn", "withheld", "released")
    assert invoke(*args, "--accept-widening").exit_code == 0


def test_diff_lets_a_catalog_change_the_contract_never_releases_pass(tmp_path: Path) -> None:
    done = invoke(
        "contract", "diff", SANCTUARY, SANCTUARY,
        "--records", str(ROOT / "rego" / "examples"),
        "--personas", str(ROOT / "rego" / "personas"),
        "--old-catalog", STANDARD, "--new-catalog", with_ssn(tmp_path, "immigration_status"),
        "--json",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["catalog_widened"] == []
    assert report["catalog_changes"]["ssn"]["new_class"] == "immigration_status"


def test_bundle_build_records_the_catalog_and_acknowledgements(tmp_path: Path) -> None:
    key = generate_key()
    save_private_key(key, tmp_path / "policy.key")
    save_public_key(key.public_key(), tmp_path / "policy.pub.pem")
    out = tmp_path / "b.tar.gz"
    done = invoke(
        "contract", "bundle", "build",
        "--contract-dir", str(ROOT / "rego" / "contracts" / "sanctuary_county"),
        "--lib", str(ROOT / "rego" / "lib"), "--key", str(tmp_path / "policy.key"),
        "--out", str(out), "--acknowledge", "ssn",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    shown = json.loads(
        invoke(
            "contract", "bundle", "verify", str(out), "--key", str(tmp_path / "policy.pub.pem")
        ).output
    )
    assert shown["catalog_acknowledged"] == ["ssn"]
    assert shown["reviewed_catalog"]["dob"] == "identity"
