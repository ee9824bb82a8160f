"""The monthly credential review, from a real node's audit log after signed searches."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from fieldgate.client.answer_check import AnswerCheck
from fieldgate.client.broker_client import Requester, SearchClient
from fieldgate.core.tls import DevPKI
from fieldgate.devkit.dev_trust import DevTrust
from fieldgate.devkit.local_federation import NodeSpec, import_records, start_federation
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.policy.shipped import shipped_contract
from fieldgate.trust.config import build_store
from tests.helpers.federation import LoopThread

FIELDGATE = str(Path(sys.executable).parent / "fieldgate")


def test_every_credential_seen_is_listed_and_long_unused_ones_flagged(
    loop: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> None:
    workdir = tmp_path_factory.mktemp("review")
    kit = DevTrust(workdir / "trust")
    kit.add_issuer("bellevue-pd", "local_law_enforcement")
    kit.add_issuer("ice-ero-seattle", "civil_immigration")
    kit.add_node("kcso")
    kit.write()
    pki = DevPKI.create(workdir / "pki", ["broker", "kcso", "investigator"])
    records = workdir / "kcso.jsonl"
    write_jsonl(generate_agency_records(DEMO_AGENCIES[0], count=30, seed=2), records)
    spec = NodeSpec("kcso", "King County", shipped_contract("sanctuary_county"), records)
    import_records(spec, workdir)
    detective = kit.identity(
        "bellevue-pd", "det-4711", ["criminal_investigation", "missing_person"]
    )
    officer = kit.identity("ice-ero-seattle", "ero-0917", ["civil_immigration"])
    federation = loop.run(
        start_federation([spec], workdir, trust=kit.config(), pki=pki, audit=True)
    )
    try:
        with SearchClient(
            federation.broker_address,
            pki.files("investigator"),
            answers=AnswerCheck(build_store(kit.config())),
        ) as client:
            for identity, purpose in ((detective, "criminal_investigation"),
                                      (detective, "missing_person"),
                                      (officer, "civil_immigration")):  # fmt: skip
                client.search(
                    Requester("", "", "", purpose), surname=DEMO_SUBJECT.surname,
                    dob=DEMO_SUBJECT.dob, identity=identity,
                )  # fmt: skip
    finally:
        loop.run(federation.stop())

    def review(today: dt.date) -> dict[str, dict[str, object]]:
        done = subprocess.run(
            [FIELDGATE, "audit", "report", "credentials", "--db",
             str(workdir / "kcso.audit.sqlite"), "--today", today.isoformat(), "--json"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return {row["credential"]: row for row in json.loads(done.stdout)["rows"]}

    ids = {
        name: jwt.decode(i.credential, options={"verify_signature": False})["jti"]
        for name, i in (("detective", detective), ("officer", officer))
    }
    now = review(dt.date.today())
    assert set(now) == set(ids.values())
    row = now[ids["detective"]]
    assert (row["subject"], row["agency"], row["searches"]) == ("det-4711", "bellevue-pd", 2)
    assert row["purposes"] == "criminal_investigation, missing_person"
    assert now[ids["officer"]]["agency_type"] == "civil_immigration"
    assert all(r["flag"] == "" for r in now.values())
    later = review(dt.date.today() + dt.timedelta(days=91))
    assert all("unused for 90+ days" in str(r["flag"]) for r in later.values())
