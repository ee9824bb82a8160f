"""``fieldgate credential issue --outbound-policy``: the issuer binds its agency's reach."""

from __future__ import annotations

from pathlib import Path

import jwt
from click.testing import CliRunner

from fieldgate.cli.main import cli


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def _federation(tmp_path: Path) -> Path:
    """A signed bundle whose directory lists a county node and an immigration node."""
    for name in ("authority", "rogue", "issuer", "kcso", "ice", "det"):
        assert _run("keygen", str(tmp_path / name))[0] == 0
    bundle = tmp_path / "trust.json"
    code, output = _run(
        "trust", "add-issuer", str(bundle), "--id", "kcso", "--agency", "kcso",
        "--agency-type", "local_law_enforcement", "--key", str(tmp_path / "issuer.pub"),
    )  # fmt: skip
    assert code == 0, output
    assert (
        _run("trust", "sign", str(bundle), "--authority-key", str(tmp_path / "authority"))[0] == 0
    )
    for node_id, agency, kind in (
        ("kcso", "kcso", "local_law_enforcement"),
        ("ice-ero", "ice-ero-seattle", "civil_immigration"),
    ):
        code, output = _run(
            "trust", "add-node", str(bundle), "--id", node_id, "--key",
            str(tmp_path / "kcso.pub"), "--agency", agency, "--agency-type", kind,
            "--jurisdiction", "WA", "--authority-key", str(tmp_path / "authority"),
        )  # fmt: skip
        assert code == 0, output
    return bundle


def _issue(tmp_path: Path, *extra: str) -> tuple[int, str]:
    return _run(
        "credential", "issue", "--issuer-key", str(tmp_path / "issuer"), "--issuer", "kcso",
        "--agency", "kcso", "--agency-type", "local_law_enforcement", "--subject", "det-4711",
        "--purpose", "criminal_investigation", "--holder-key", str(tmp_path / "det.pub"),
        *extra,
    )  # fmt: skip


def test_the_issuer_binds_the_county_reach_into_the_credential(tmp_path: Path) -> None:
    bundle = _federation(tmp_path)
    out = tmp_path / "det.credential"
    code, output = _issue(
        tmp_path, "--outbound-policy", "king_county", "--trust-bundle", str(bundle),
        "--authority-key", str(tmp_path / "authority.pub"), "-o", str(out),
    )  # fmt: skip
    assert code == 0, output
    assert "reach: kcso" in output
    assert "not reached: ice-ero: King County ordinance (2018)" in output
    claims = jwt.decode(out.read_text().strip(), options={"verify_signature": False})
    assert claims["reach"] == ["kcso"]
    assert claims["unreached"] == {
        "King County ordinance (2018): never a civil immigration agency": ["ice-ero"]
    }
    # Without a policy: a legacy credential, no reach claim at all.
    code, output = _issue(tmp_path)
    assert code == 0, output
    assert "reach" not in jwt.decode(output.strip(), options={"verify_signature": False})


def test_bad_outbound_options_are_named_not_tracebacks(tmp_path: Path) -> None:
    bundle = _federation(tmp_path)
    code, output = _issue(tmp_path, "--outbound-policy", "king_county")
    assert code != 0
    assert "--trust-bundle" in output
    code, output = _issue(
        tmp_path, "--outbound-policy", "no_such_policy", "--trust-bundle", str(bundle),
        "--authority-key", str(tmp_path / "authority.pub"),
    )  # fmt: skip
    assert code != 0
    assert "no_such_policy" in output
    assert "king_county" in output  # the shipped ones are listed
    # A directory not signed by the pinned authority is not used (fail closed).
    code, output = _issue(
        tmp_path, "--outbound-policy", "king_county", "--trust-bundle", str(bundle),
        "--authority-key", str(tmp_path / "rogue.pub"),
    )  # fmt: skip
    assert code != 0
    assert "not signed by the pinned federation authority key" in output
    wrong = tmp_path / "wrong.rego"
    wrong.write_text("package fieldgate.contracts.x\nimport rego.v1\nallow := true\n")
    code, output = _issue(
        tmp_path, "--outbound-policy", str(wrong), "--trust-bundle", str(bundle),
        "--authority-key", str(tmp_path / "authority.pub"),
    )  # fmt: skip
    assert code != 0
    assert "not fieldgate.outbound" in output
    assert "Traceback" not in output
