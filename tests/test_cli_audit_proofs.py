"""``fieldgate audit prove ...`` at the agency, ``fieldgate audit verify-proof`` at an outside
auditor who holds only the node's public key (and the checkpoints they were shown before)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fieldgate.node.audit.canonical import canonical_json
from fieldgate.node.audit.keys import public_hex
from fieldgate.node.audit.note import TreeHead, sign_note
from tests.helpers.audit import make_log
from tests.node.test_audit_writer import attack, rechain

FIELDGATE = str(Path(sys.executable).parent / "fieldgate")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FIELDGATE, *args], capture_output=True, text=True, timeout=60, check=False
    )


def _setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A closed log of 20 entries, its signing key and the public key file the auditor has."""
    log, key = make_log(tmp_path, entries=20, every=5)
    public = tmp_path / "node.pub"
    public.write_text(public_hex(key.public_key()) + "\n", encoding="utf-8")
    return log, tmp_path / "audit-key.pem", public


def _prove(*args: str) -> dict[str, object]:
    done = run("audit", "prove", *args, "--json")
    assert done.returncode == 0, done.stderr
    document: dict[str, object] = json.loads(done.stdout)
    return document


def _check(proof: dict[str, object], public: Path, tmp: Path, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    path = tmp / "proof.json"
    path.write_text(json.dumps(proof), encoding="utf-8")
    done = run("audit", "verify-proof", str(path), "--key", str(public), *extra, "--json")
    assert "Traceback" not in done.stderr
    return done.returncode, json.loads(done.stdout)


def test_an_inclusion_proof_holds_and_an_altered_entry_does_not(tmp_path: Path) -> None:
    log, key, public = _setup(tmp_path)
    proof = _prove("inclusion", "--db", str(log), "--entry", "7", "--key", str(key))
    assert proof["tree_size"] == 20
    assert proof["entry"] == 7
    code, found = _check(proof, public, tmp_path)
    assert code == 0, found
    assert found["ok"] is True

    entry = json.loads(str(proof["entry_body"]))
    entry["data"]["request_id"] = "nobody-asked-this"
    code, found = _check({**proof, "entry_body": canonical_json(entry)}, public, tmp_path)
    assert code == 1
    assert "altered" in found["problems"][0]
    # Another entry's body with this entry's proof does not hold either.
    other = _prove("inclusion", "--db", str(log), "--entry", "8", "--key", str(key))
    code, _ = _check({**proof, "entry_body": other["entry_body"]}, public, tmp_path)
    assert code == 1


def test_a_proof_against_the_wrong_checkpoint_or_key_does_not_hold(tmp_path: Path) -> None:
    log, key, public = _setup(tmp_path)
    proof = _prove("inclusion", "--db", str(log), "--entry", "3", "--key", str(key))
    smaller = _prove("inclusion", "--db", str(log), "--entry", "3", "--size", "10",
                     "--key", str(key))  # fmt: skip
    # The proof for size 20 presented with the checkpoint of size 10.
    code, found = _check({**proof, "checkpoint": smaller["checkpoint"]}, public, tmp_path)
    assert code == 1
    assert "size" in found["problems"][0]
    # An auditor who holds the checkpoint of size 10 asks about size 20: named as such.
    held = tmp_path / "held.note"
    held.write_text(str(smaller["checkpoint"]), encoding="utf-8")
    code, found = _check(proof, public, tmp_path, "--checkpoint", str(held))
    assert code == 1
    assert "not one the proof is about" in found["problems"][0]
    # A checkpoint of the right size whose root differs: shown another log.
    origin = TreeHead.parse(str(proof["checkpoint"]).split("\n\n")[0] + "\n").origin
    forged = sign_note(
        TreeHead(origin, 20, b"\x01" * 32).body(), origin, Ed25519PrivateKey.generate()
    )
    held.write_text(forged, encoding="utf-8")
    code, found = _check(proof, public, tmp_path, "--checkpoint", str(held))
    assert code == 1
    assert "another root" in found["problems"][0]
    # The same proof with a note signed by someone else's key.
    code, found = _check({**proof, "checkpoint": forged}, public, tmp_path)
    assert code == 1
    assert any("not signed with the node's key" in p for p in found["problems"])


def test_a_consistency_proof_holds_until_history_is_rewritten(tmp_path: Path) -> None:
    log, key, public = _setup(tmp_path)
    old = _prove("inclusion", "--db", str(log), "--entry", "1", "--size", "10", "--key", str(key))
    held = tmp_path / "held.note"  # what the auditor kept when shown the log at size 10
    held.write_text(str(old["checkpoint"]), encoding="utf-8")
    proof = _prove("consistency", "--db", str(log), "--from", "10", "--key", str(key))
    assert proof["old_size"] == 10
    assert proof["tree_size"] == 20
    code, found = _check(proof, public, tmp_path, "--checkpoint", str(held))
    assert code == 0, found
    assert found["checkpoints_held_checked"] == 1

    def change(db: sqlite3.Connection) -> None:  # a key holder rewrites entry 4
        body = json.loads(db.execute("SELECT body FROM entries WHERE seq = 4").fetchone()[0])
        body["data"]["request_id"] = "nobody-asked-this"
        db.execute("UPDATE entries SET body = ? WHERE seq = 4", (canonical_json(body),))
        rechain(db, 4)

    attack(log, change)
    rewritten = _prove("consistency", "--db", str(log), "--from", "10", "--key", str(key))
    code, found = _check(rewritten, public, tmp_path, "--checkpoint", str(held))
    assert code == 1
    assert "another root" in " ".join(found["problems"])
    # The rewritten log's own old checkpoint swapped for the one the auditor holds: no proof
    # leads from it.
    code, found = _check({**rewritten, "old_checkpoint": old["checkpoint"]}, public, tmp_path)
    assert code == 1
    assert "rewritten" in found["problems"][0]


def test_text_output_and_mistakes_get_messages(tmp_path: Path) -> None:
    log, key, public = _setup(tmp_path)
    out = tmp_path / "p.json"
    done = run("audit", "prove", "inclusion", "--db", str(log), "--entry", "2", "--key",
               str(key), "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "entry 2 is in the tree of size 20" in done.stdout
    assert json.loads(out.read_text(encoding="utf-8"))["entry"] == 2
    checked = run("audit", "verify-proof", str(out), "--key", str(public))
    assert checked.returncode == 0
    assert "holds" in checked.stdout
    for args, words in (
        (("inclusion", "--db", str(log), "--entry", "99", "--key", str(key)), "entry 99"),
        (("inclusion", "--db", str(log), "--entry", "2"), "no witnessed checkpoint"),
        (("consistency", "--db", str(log), "--from", "15", "--to", "5", "--key", str(key)),
         "sizes must rise"),
    ):  # fmt: skip
        failed = run("audit", "prove", *args)
        assert failed.returncode == 2, failed
        assert words in failed.stderr
        assert "Traceback" not in failed.stderr
    out.write_text("{not json", encoding="utf-8")
    broken = run("audit", "verify-proof", str(out), "--key", str(public))
    assert broken.returncode == 2
    assert "cannot read a proof" in broken.stderr
