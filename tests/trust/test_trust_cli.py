"""``fieldgate trust`` with a signed bundle, and ``fieldgate warrant issue`` naming its holder."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jwt
from click.testing import CliRunner

from fieldgate.cli.main import cli
from fieldgate.trust.config import TrustConfig, build_store


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_a_signed_bundle_is_kept_signed_and_verifies_for_a_pinning_party(tmp_path: Path) -> None:
    for name in ("authority", "issuer", "node"):
        assert _run("keygen", str(tmp_path / name))[0] == 0
    bundle = tmp_path / "trust.json"
    code, _ = _run(
        "trust", "add-issuer", str(bundle), "--id", "bellevue-pd", "--agency", "bellevue-pd",
        "--agency-type", "local_law_enforcement", "--key", str(tmp_path / "issuer.pub"),
    )  # fmt: skip
    assert code == 0
    assert (
        _run("trust", "sign", str(bundle), "--authority-key", str(tmp_path / "authority"))[0] == 0
    )
    assert set(json.loads(bundle.read_text())) == {"signed"}
    # Changing a signed bundle needs the authority's key: a clear message, the file untouched.
    before = bundle.read_bytes()
    code, output = _run(
        "trust", "add-node", str(bundle), "--id", "kcso", "--key", str(tmp_path / "node.pub")
    )
    assert code != 0
    assert "--authority-key" in output
    assert "Traceback" not in output
    assert bundle.read_bytes() == before
    code, output = _run(
        "trust", "add-node", str(bundle), "--id", "kcso", "--key", str(tmp_path / "node.pub"),
        "--authority-key", str(tmp_path / "authority"),
    )  # fmt: skip
    assert code == 0, output
    revocations = tmp_path / "revocations.json"
    assert _run("trust", "revoke", str(revocations))[0] == 0
    config = TrustConfig(bundle, revocations, authority_key=tmp_path / "authority.pub")
    state = build_store(config).current(dt.datetime.now(dt.UTC))
    assert set(state.issuers) == {"bellevue-pd"}
    assert set(state.nodes) == {"kcso"}
    # Every edit bumps the directory serial; a node joins at the serial of its edit.
    assert state.directory.serial == 2
    assert state.directory.since == {"kcso": 2}
    for node_id in ("spd", "kcso"):  # a new node, then kcso re-keyed
        code, output = _run(
            "trust", "add-node", str(bundle), "--id", node_id, "--key", str(tmp_path / "node.pub"),
            "--authority-key", str(tmp_path / "authority"),
        )  # fmt: skip
        assert code == 0, output
    state = build_store(config).current(dt.datetime.now(dt.UTC))
    assert state.directory.serial == 4
    assert state.directory.since == {"kcso": 2, "spd": 3}  # re-keyed, kcso keeps its own


def test_a_warrant_names_its_holder(tmp_path: Path) -> None:
    assert _run("keygen", str(tmp_path / "court"))[0] == 0
    common = (
        "warrant", "issue", "--court-key", str(tmp_path / "court"), "--court", "us-wawd",
        "--id", "W-1", "--name", "DOE, JOHN", "--dob", "1980-04-12", "--covers", "location",
        "--expires", "2030-01-01",
    )  # fmt: skip
    code, output = _run(*common)
    assert code != 0
    assert "--applicant-agency" in output
    code, output = _run(
        *common, "--applicant-agency", "fbi-seattle", "--case-number", "FBI-1",
        "--investigator", "sa-2231",
    )  # fmt: skip
    assert code == 0, output
    claims = jwt.decode(output.strip(), options={"verify_signature": False})
    assert claims["holder"] == {
        "agency": "fbi-seattle",
        "case_number": "FBI-1",
        "subject": "sa-2231",
    }
