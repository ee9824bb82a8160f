"""The ``fieldgate`` command as a person runs it: real processes, real servers."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

from fieldgate.devkit.synthetic import DEMO_SUBJECT
from tests.conftest import DemoFederation

FIELDGATE = str(Path(sys.executable).parent / "fieldgate")
ROOT = Path(__file__).resolve().parents[1]
DETECTIVE_FLAGS = [
    "--subject", "det-4711", "--agency", "bellevue-pd",
    "--agency-type", "local_law_enforcement", "--purpose", "criminal_investigation",
    "--case", "BPD-2026-018233", "--insecure",
]  # fmt: skip


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FIELDGATE, *args], capture_output=True, text=True, timeout=60, cwd=cwd, check=False
    )


# The documented JSON shape (README, "Search results as JSON"). Changing it breaks users.
TOP_KEYS = {"schema", "request_id", "summary", "agencies", "not_asked"}
SUMMARY_KEYS = {
    "agencies",
    "answered",
    "failed",
    "failed_verification",
    "not_answering",
    "did_not_answer",
    "hits",
    "not_asked",
}
AGENCY_KEYS = {
    "node_id",
    "agency_name",
    "status",
    "detail",
    "answered",
    "not_answering_reason",
    "elapsed_seconds",
    "hits",
}
HIT_KEYS = {"reference", "record_id", "record_kind", "score", "match_reasons", "contact", "fields"}
CONTACT_KEYS = {"agency", "unit", "phone"}
FIELD_KEYS = {"value", "sensitivity", "mask"}


def test_search_json_has_the_documented_shape(demo: DemoFederation) -> None:
    name = f"{DEMO_SUBJECT.surname}, {DEMO_SUBJECT.given_name}"
    done = run(
        "search", "--broker", demo.broker_address, "--name", name, "--dob", DEMO_SUBJECT.dob,
        *DETECTIVE_FLAGS, "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) == TOP_KEYS
    assert document["schema"] == "fieldgate.search/v1"
    assert set(document["summary"]) == SUMMARY_KEYS
    assert document["summary"]["agencies"] == 3
    assert document["summary"]["hits"] == sum(len(a["hits"]) for a in document["agencies"])
    hits = [h for a in document["agencies"] for h in a["hits"]]
    assert hits
    for agency in document["agencies"]:
        assert set(agency) == AGENCY_KEYS
        assert agency["status"] in {"answered", "timed_out", "unreachable", "error"}
        assert agency["answered"] is (agency["status"] == "answered")
    for hit in hits:
        assert set(hit) == HIT_KEYS
        assert set(hit["contact"]) == CONTACT_KEYS
        assert 0 <= hit["score"] <= 1
        for field in hit["fields"].values():
            assert set(field) == FIELD_KEYS
    kcso = next(a for a in document["agencies"] if a["node_id"] == "kcso")
    booking = next(h for h in kcso["hits"] if h["record_kind"] == "booking")
    assert booking["fields"]["surname"] == {
        "value": DEMO_SUBJECT.surname,
        "sensitivity": "identity",
        "mask": None,
    }
    assert booking["fields"]["address"]["mask"] == "city"
    assert booking["score"] > 0.9
    assert booking["match_reasons"]
    # A pointer answer carries no match evidence: it could reveal the withheld birth date.
    spd = next(a for a in document["agencies"] if a["node_id"] == "spd")
    assert spd["hits"]
    assert all(h["score"] == 0 and h["match_reasons"] == [] for h in spd["hits"])
    assert all(a["elapsed_seconds"] == 0 for a in document["agencies"])


def test_search_table_names_each_agency(demo: DemoFederation) -> None:
    done = run(
        "search", "--broker", demo.broker_address, "--surname", DEMO_SUBJECT.surname,
        "--given", DEMO_SUBJECT.given_name, "--dob", DEMO_SUBJECT.dob, *DETECTIVE_FLAGS,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for agency in ("King County Sheriff's Office", "Seattle Police Department", "Pierce County"):
        assert agency in done.stdout
    assert "3/3 agencies answered" in done.stdout


def test_refused_search_is_a_message_not_a_traceback(demo: DemoFederation) -> None:
    done = run("search", "--broker", demo.broker_address, "--name", "*", *DETECTIVE_FLAGS)
    assert done.returncode != 0
    assert "wildcards" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_unreachable_broker_is_a_message(tmp_path: Path) -> None:
    done = run(
        "search", "--broker", "127.0.0.1:1", "--name", "DOE, JOHN", "--dob", "1980-04-12",
        *DETECTIVE_FLAGS, "--deadline", "1",
    )  # fmt: skip
    assert done.returncode != 0
    assert "127.0.0.1:1" in done.stderr
    assert "Traceback" not in done.stderr


def test_import_with_a_bad_line_names_it_and_loads_nothing(tmp_path: Path) -> None:
    good = {"record_id": "A-1", "record_kind": "booking", "surname": "DOE", "given_name": "JOHN"}
    lines = [
        json.dumps(good),
        json.dumps({**good, "record_id": "A-2"}),
        json.dumps({**good, "record_id": "A-3", "dob": "1980-13-45"}),
        json.dumps({**good, "record_id": "A-4"}),
    ]
    source = tmp_path / "records.jsonl"
    source.write_text("\n".join(lines) + "\n")
    db = tmp_path / "node.sqlite"
    done = run("node", "import", "--db", str(db), str(source))
    assert done.returncode == 2
    assert "line 3" in done.stderr
    assert "dob" in done.stderr
    assert "Traceback" not in done.stderr
    source.write_text("\n".join(lines[:2]) + "\n")
    done = run("node", "import", "--db", str(db), str(source), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"imported": 2, "records_in_store": 2}


def test_contract_test_command_runs_the_shipped_tests() -> None:
    done = run("contract", "test", "rego/", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["failed"] == 0
    assert report["passed"] >= 20
    packages = {r["package"] for r in report["results"]}
    for contract in ("sanctuary_county", "permissive", "pointer_only"):
        assert f"fieldgate.contracts.{contract}_test" in packages


def test_contract_test_command_fails_on_a_failing_rule(tmp_path: Path) -> None:
    suite = tmp_path / "contracts" / "bad"
    suite.mkdir(parents=True)
    (tmp_path / "lib").mkdir()
    (suite / "contract.rego").write_text("package bad\nimport rego.v1\nallow := false\n")
    (suite / "contract_test.rego").write_text(
        "package bad_test\nimport rego.v1\ntest_allow if data.bad.allow\n"
    )
    done = run("contract", "test", str(tmp_path))
    assert done.returncode == 1
    assert "FAILED" in done.stdout
    assert "test_allow" in done.stdout


def test_keys_and_credentials_for_sealed_searches(tmp_path: Path) -> None:
    """keygen makes the X25519 key answers are sealed to; the credential names it and the reach."""
    done = run("keygen", str(tmp_path / "det.key"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["crv"] == "Ed25519"
    done = run("keygen", "--x25519", str(tmp_path / "det.enc"))
    assert done.returncode == 0, done.stderr
    enc_jwk = json.loads(done.stdout)
    assert enc_jwk["crv"] == "X25519"
    assert "d" not in enc_jwk
    assert (tmp_path / "det.enc").stat().st_mode & 0o077 == 0  # the private half: owner only
    assert run("keygen", str(tmp_path / "issuer.key")).returncode == 0
    done = run(
        "credential", "issue", "--issuer-key", str(tmp_path / "issuer.key"),
        "--issuer", "bellevue-pd", "--agency", "bellevue-pd",
        "--agency-type", "local_law_enforcement", "--subject", "det-4711",
        "--purpose", "criminal_investigation", "--holder-key", str(tmp_path / "det.key.pub"),
        "--holder-enc-key", str(tmp_path / "det.enc.pub"), "--reach", "kcso", "--reach", "spd",
        "-o", str(tmp_path / "det.credential"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = run("credential", "show", str(tmp_path / "det.credential"))
    claims = json.loads(shown.stdout)
    assert claims["enc"] == enc_jwk
    assert claims["reach"] == ["kcso", "spd"]
    # An Ed25519 key where the X25519 one belongs is named, not a traceback.
    wrong = run(
        "credential", "issue", "--issuer-key", str(tmp_path / "issuer.key"),
        "--issuer", "bellevue-pd", "--agency", "bellevue-pd",
        "--agency-type", "local_law_enforcement", "--subject", "det-4711",
        "--purpose", "criminal_investigation", "--holder-key", str(tmp_path / "det.key.pub"),
        "--holder-enc-key", str(tmp_path / "det.key.pub"),
    )  # fmt: skip
    assert wrong.returncode != 0
    assert "not an X25519 key" in wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_search_takes_sex_and_an_age_range_as_corroboration(demo: DemoFederation) -> None:
    name = f"{DEMO_SUBJECT.surname}, {DEMO_SUBJECT.given_name}"
    age = _age(DEMO_SUBJECT.dob)
    common = ["search", "--broker", demo.broker_address, "--name", name, "--dob", DEMO_SUBJECT.dob]
    agrees = run(
        *common, "--sex", "m", "--age-min", str(age - 1), "--age-max", str(age + 1),
        *DETECTIVE_FLAGS, "--json",
    )  # fmt: skip
    assert agrees.returncode == 0, agrees.stderr
    kcso = _agency(json.loads(agrees.stdout), "kcso")
    assert any(h["fields"] for h in kcso["hits"])
    # Born outside the range given: the match is weaker, so no field leaves.
    contradicts = run(*common, "--age-max", str(age - 10), *DETECTIVE_FLAGS, "--json")
    assert contradicts.returncode == 0, contradicts.stderr
    kcso = _agency(json.loads(contradicts.stdout), "kcso")
    assert all(h["fields"] == {} for h in kcso["hits"])


def test_search_refuses_a_bad_age_range_naming_the_option() -> None:
    done = run(
        "search", "--name", "DOE, JOHN", "--age-min", "50", "--age-max", "20", *DETECTIVE_FLAGS
    )
    assert done.returncode == 2
    assert "--age-min" in done.stderr
    assert "Traceback" not in done.stderr
    done = run("search", "--name", "DOE, JOHN", "--sex", "male", *DETECTIVE_FLAGS)
    assert done.returncode == 2
    assert "--sex" in done.stderr
    assert "Traceback" not in done.stderr


def _age(dob: str) -> int:
    born, today = date.fromisoformat(dob), date.today()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _agency(document: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(a for a in document["agencies"] if a["node_id"] == node_id)
