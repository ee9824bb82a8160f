"""Write a runnable sample federation: records, keys, certificates and configs.

``fieldgate sample DIR`` writes, for each demo agency, its synthetic records
(JSON Lines) and a node config that points at the shipped contract, runs
mutual TLS and verifies signed searches; a broker config listing the three
nodes; a development CA with certificates for the broker, the nodes and one
investigator; a trust bundle and revocation list; and, for that investigator
(a Bellevue PD detective), a private key and an 8-hour credential — so the
README's "run it for real" steps work with separate processes.
"""

from __future__ import annotations

from pathlib import Path

from fieldgate.core.tls import DevPKI
from fieldgate.devkit.demo import CONTRACT_OF
from fieldgate.devkit.dev_trust import DevTrust, answer_key_path, enc_key_path
from fieldgate.devkit.local_federation import BROKER_NAME
from fieldgate.devkit.synthetic import DEMO_AGENCIES, generate_agency_records, write_jsonl
from fieldgate.policy.shipped import rego_root, shipped_contract
from fieldgate.trust.keys import save_private_key

INVESTIGATOR = "det-4711"
"""The sample investigator's subject and certificate name."""


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _trust_and_tls(kind: str, name: str, pki: DevPKI, kit: DevTrust) -> list[str]:
    files = pki.files(name)
    lines = [
        f"[{kind}.tls]",
        f"ca = {_quote(str(files.ca))}",
        f"cert = {_quote(str(files.cert))}",
        f"key = {_quote(str(files.key))}",
    ]
    if kind == "node":
        lines.append(f"allowed_clients = [{_quote(BROKER_NAME)}]")
    return [
        *lines,
        "",
        f"[{kind}.trust]",
        f"bundle = {_quote(str(kit.bundle_path))}",
        f"revocations = {_quote(str(kit.revocations_path))}",
        f"authority_key = {_quote(str(kit.authority_path))}",
        "",
    ]


def write_sample(
    directory: Path, *, records_per_agency: int, seed: int, base_port: int
) -> list[Path]:
    """Write the sample into ``directory``; return the main files written."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    pki = DevPKI.create(
        directory / "pki", [BROKER_NAME, *(a.node_id for a in DEMO_AGENCIES), INVESTIGATOR]
    )
    kit = DevTrust(directory / "trust")
    kit.add_issuer("bellevue-pd", "local_law_enforcement")
    for agency in DEMO_AGENCIES:
        kit.add_node(agency.node_id)  # each node signs its answers; the bundle lists its key
    kit.write()
    identity = kit.identity(
        "bellevue-pd", INVESTIGATOR, ["criminal_investigation", "missing_person"],
        roles=["detective"], hours=8,
    )  # fmt: skip
    credential = directory / f"{INVESTIGATOR}.credential"
    credential.write_text(identity.credential + "\n", encoding="ascii")
    save_private_key(identity.key, directory / f"{INVESTIGATOR}.key")
    assert identity.enc_key is not None  # DevTrust always makes one
    save_private_key(identity.enc_key, directory / f"{INVESTIGATOR}.enc.key")
    written: list[Path] = [
        credential,
        directory / f"{INVESTIGATOR}.key",
        directory / f"{INVESTIGATOR}.enc.key",
    ]
    broker_lines = [
        "[broker]",
        'listen = "127.0.0.1:50051"',
        "default_deadline_seconds = 3.0",
        "",
        *_trust_and_tls("broker", BROKER_NAME, pki, kit),
    ]
    for offset, agency in enumerate(DEMO_AGENCIES):
        records = directory / f"{agency.node_id}.jsonl"
        write_jsonl(generate_agency_records(agency, count=records_per_agency, seed=seed), records)
        port = base_port + offset
        config = directory / f"{agency.node_id}.toml"
        config.write_text(
            "\n".join([
                "[node]",
                f"id = {_quote(agency.node_id)}",
                f"agency_name = {_quote(agency.name)}",
                f'listen = "127.0.0.1:{port}"',
                f'database = "{agency.node_id}.sqlite"',
                f"contract = {_quote(str(shipped_contract(CONTRACT_OF[agency.node_id])))}",
                f"rego_library = {_quote(str(rego_root() / 'lib'))}",
                "",
                "[node.contact]",
                f"unit = {_quote(agency.unit)}",
                f"phone = {_quote(agency.phone)}",
                "",
                *_trust_and_tls("node", agency.node_id, pki, kit),
                f"answer_key = {_quote(str(answer_key_path(kit.config(), agency.node_id)))}",
                f"enc_key = {_quote(str(enc_key_path(kit.config(), agency.node_id)))}",
            ]),
            encoding="utf-8",
        )  # fmt: skip
        broker_lines += [
            "[[nodes]]",
            f"id = {_quote(agency.node_id)}",
            f"agency_name = {_quote(agency.name)}",
            f'address = "127.0.0.1:{port}"',
            "",
        ]
        written += [records, config]
    broker = directory / "broker.toml"
    broker.write_text("\n".join(broker_lines), encoding="utf-8")
    written.append(broker)
    return written
