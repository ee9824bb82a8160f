"""Write a runnable sample federation: records, node configs and a broker config.

``fieldgate sample DIR`` writes, for each demo agency, its synthetic records
(JSON Lines) and a node config pointing at the shipped contract, plus a broker
config listing the three nodes, so the README's "run it for real" steps work
with separate processes.
"""

from __future__ import annotations

from pathlib import Path

from fieldgate.demo import CONTRACT_OF
from fieldgate.local_federation import REGO_ROOT, shipped_contract
from fieldgate.synthetic import DEMO_AGENCIES, generate_agency_records, write_jsonl


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_sample(
    directory: Path, *, records_per_agency: int, seed: int, base_port: int
) -> list[Path]:
    """Write the sample into ``directory``; return the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    broker_lines = ["[broker]", 'listen = "127.0.0.1:50051"', "default_deadline_seconds = 3.0", ""]
    for offset, agency in enumerate(DEMO_AGENCIES):
        records = directory / f"{agency.node_id}.jsonl"
        write_jsonl(generate_agency_records(agency, count=records_per_agency, seed=seed), records)
        port = base_port + offset
        config = directory / f"{agency.node_id}.toml"
        config.write_text(
            "\n".join(
                [
                    "[node]",
                    f"id = {_quote(agency.node_id)}",
                    f"agency_name = {_quote(agency.name)}",
                    f'listen = "127.0.0.1:{port}"',
                    f'database = "{agency.node_id}.sqlite"',
                    f"contract = {_quote(str(shipped_contract(CONTRACT_OF[agency.node_id])))}",
                    f"rego_library = {_quote(str(REGO_ROOT / 'lib'))}",
                    "",
                    "[node.contact]",
                    f"unit = {_quote(agency.unit)}",
                    f"phone = {_quote(agency.phone)}",
                    "",
                ]
            ),
            encoding="utf-8",
        )
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
