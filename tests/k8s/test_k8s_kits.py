"""The per-agency node kit and the federation kit, rendered from copies outside the repository.

Each kit is copied to a temporary directory, the operator's files are made there with
fieldgate's own commands (as README "Running in production" says), and the copy is
rendered with ``kubectl kustomize`` and validated with ``kubernetes-validate --strict``.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.helpers.k8s import K8S, Doc, of_kind, render
from tests.k8s.test_k8s_manifests import kubernetes_validate

FIELDGATE = str(Path(sys.executable).with_name("fieldgate"))
KITS = K8S / "kits"


def _run(*args: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def _kustomize(kubectl: str, directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _operator_files(kit: Path, name: str) -> None:
    """What the operator makes beside the kit: TLS from fieldgate pki, the trust files."""
    _run(FIELDGATE, "pki", "init", str(kit / "pki"), "--name", name)
    (kit / "tls").mkdir()
    shutil.copy(kit / "pki" / "ca.pem", kit / "tls" / "ca.pem")
    shutil.copy(kit / "pki" / f"{name}.pem", kit / "tls" / "cert.pem")
    shutil.copy(kit / "pki" / f"{name}.key", kit / "tls" / "key.pem")
    (kit / "trust").mkdir()
    # Stand-ins for the federation's signed files: the kit only carries them.
    (kit / "trust" / "trust.json").write_text('{"issuers": {}}\n')
    (kit / "trust" / "revocations.json").write_text('{"revoked": []}\n')


def _render(kubectl: str, kit: Path, tmp_path: Path) -> list[Doc]:
    done = _kustomize(kubectl, kit)
    assert done.returncode == 0, done.stderr
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(done.stdout)
    kubernetes_validate(rendered)
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def test_the_node_kit_renders_alone_from_a_copy(kubectl: str, tmp_path: Path) -> None:
    kit = tmp_path / "kcso-node"
    shutil.copytree(KITS / "agency-node", kit)
    refused = _kustomize(kubectl, kit)
    # Without the operator's files there is nothing to render: no placeholder Secret exists.
    assert refused.returncode != 0
    assert "tls/" in refused.stderr or "trust/" in refused.stderr
    _operator_files(kit, "agency")
    docs = _render(kubectl, kit, tmp_path)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds.count("CronJob") == 2
    assert {"Namespace", "StatefulSet", "NetworkPolicy", "PersistentVolumeClaim"} <= set(kinds)
    namespace = next(d for d in docs if d["kind"] == "Namespace")["metadata"]["name"]
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == namespace, doc["metadata"]["name"]
    secrets = [d for d in docs if d["kind"] == "Secret"]
    assert len(secrets) == 1
    key = base64.b64decode(secrets[0]["data"]["key.pem"]).decode()
    assert key == (kit / "tls" / "key.pem").read_text()
    assert "PLACEHOLDER" not in yaml.safe_dump_all(docs)
    service = next(d for d in docs if d["kind"] == "Service" and d["spec"].get("type"))
    assert service["spec"]["type"] == "LoadBalancer"
    policy = next(d for d in docs if d["metadata"]["name"] == "fieldgate-node-ingress")
    sources = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    assert {"ipBlock": {"cidr": service["spec"]["loadBalancerSourceRanges"][0]}} in sources
    jobs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "CronJob"}
    backup = jobs["fieldgate-node-backup"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert backup["containers"][0]["args"][:2] == ["node", "backup"]
    # The audit key is referenced by name, never generated from or carried in the kit.
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert volumes["audit-key"]["secret"]["secretName"] == "fieldgate-node-audit-key"
    assert volumes["tls"]["secret"]["secretName"] == secrets[0]["metadata"]["name"]


def test_the_federation_kit_renders_alone_from_a_copy(kubectl: str, tmp_path: Path) -> None:
    kit = tmp_path / "federation"
    shutil.copytree(KITS / "federation", kit)
    assert _kustomize(kubectl, kit).returncode != 0
    _operator_files(kit, "broker")
    docs = _render(kubectl, kit, tmp_path)
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("Deployment", "fieldgate-broker") in names
    assert ("Deployment", "fieldgate-directory") in names
    assert ("StatefulSet", "fieldgate-witness") in names
    assert "PLACEHOLDER" not in yaml.safe_dump_all(docs)


def _readme_steps() -> list[str]:
    """The shell lines of README "One agency joining an existing federation"."""
    text = (K8S.parent / "README.md").read_text(encoding="utf-8")
    section = text.split("### One agency joining an existing federation", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.replace("\\\n", " ").splitlines() if not line.startswith("#")]


def test_the_readme_steps_that_run_here_make_a_renderable_kit(kubectl: str, tmp_path: Path) -> None:
    """Copy, key generation and rendering, run as README says (network and cluster steps not)."""
    steps = _readme_steps()
    local = [s for s in steps if s.startswith(("cp ", "fieldgate ", "mkdir "))]
    assert any("fieldgate pki init" in s for s in local)
    assert any("fieldgate keygen" in s for s in local)
    assert any(s.startswith("kubectl kustomize .") for s in steps)
    shutil.copytree(KITS, tmp_path / "k8s" / "kits")
    bin_dir = str(Path(FIELDGATE).parent)
    script = " && ".join(local)
    done = subprocess.run(
        ["/bin/bash", "-c", f'export PATH="{bin_dir}:$PATH" && {script}'],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    kit = tmp_path / "kcso-node"
    assert (kit / "kcso.audit-key.pem").exists()
    # The trust files come from the federation's directory (a network step): stand-ins.
    (kit / "trust" / "trust.json").write_text("{}\n")
    (kit / "trust" / "revocations.json").write_text("{}\n")
    docs = _render(kubectl, kit, tmp_path)
    secret = next(d for d in docs if d["kind"] == "Secret")
    cert = base64.b64decode(secret["data"]["cert.pem"]).decode()
    assert cert == (kit / "pki" / "kcso.pem").read_text()


def test_each_demo_agency_names_its_own_secrets(kubectl: str) -> None:
    """The overlays' patches address volumes by position: pin that each lands on its Secret."""
    for sts in of_kind(render(kubectl, "overlays/demo"), "StatefulSet"):
        agency = sts["metadata"]["labels"]["fieldgate.io/agency"]
        volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
        assert volumes["tls"]["secret"]["secretName"] == f"fieldgate-node-tls-{agency}"
        key = volumes["audit-key"]["secret"]["secretName"]
        assert key == f"fieldgate-node-audit-key-{agency}"
