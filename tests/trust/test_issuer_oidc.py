"""The agency's credential issuer against a real OpenID Connect provider process.

The provider (tests/helpers/oidc_provider.py) runs in its own process and signs
ID tokens with a key only it holds; the issuer fetches its discovery document
and JWKS over loopback HTTP, as it would from the agency's IdP. Forged tokens
are made here, by the test acting as an attacker who has only public material.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jwt
from joserfc.jwk import RSAKey

from fieldgate.client.login import LoginFailed, login
from fieldgate.trust.issuer_service import IssuerService, serve
from fieldgate.trust.keys import (
    generate_enc_key,
    generate_key,
    key_from_jwk,
    save_private_key,
)
from fieldgate.trust.oidc import (
    IssuerConfig,
    RoleGrant,
    key_thumbprint,
    load_issuer_config,
    map_claims,
)
from fieldgate.trust.tokens import CREDENTIAL_TYPE
from tests.helpers.oidc_provider import KID, Provider, oidc_provider

FIELDGATE = str(Path(sys.executable).parent / "fieldgate")
AUDIENCE = "fieldgate-kcso"
ROLES = {
    "kcso-detectives": RoleGrant("detective", ("criminal_investigation", "missing_person")),
    "kcso-records": RoleGrant("records_clerk", ()),
}


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with oidc_provider() as running:
        yield running


@pytest.fixture(scope="module")
def issuer_key() -> Ed25519PrivateKey:
    return generate_key()


@pytest.fixture(scope="module")
def issuer_url(provider: Provider, issuer_key: Ed25519PrivateKey) -> Iterator[str]:
    config = IssuerConfig(
        issuer_id="kcso-issuer",
        key_path=Path("unused"),
        agency="kcso",
        agency_type="local_law_enforcement",
        idp_issuer=provider.url,
        audience=AUDIENCE,
        hours=4,
        algorithms=("RS256",),
        roles=ROLES,
    )
    service = IssuerService(config, issuer_key, "")
    server = serve(service, "127.0.0.1", 0)
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield service.url
    server.shutdown()
    server.server_close()


def good_claims(holder: Ed25519PrivateKey, **extra: object) -> dict[str, object]:
    claims: dict[str, object] = {
        "sub": "det-4711",
        "aud": AUDIENCE,
        "groups": ["kcso-detectives", "everyone"],
        "nonce": key_thumbprint(holder.public_key()),
    }
    return {**claims, **extra}


def test_a_valid_login_gets_a_credential_with_the_mapped_claims(
    provider: Provider, issuer_url: str, issuer_key: Ed25519PrivateKey
) -> None:
    holder, enc = generate_key(), generate_enc_key()
    token = login(issuer_url, provider.id_token(**good_claims(holder)), holder, enc)
    assert pyjwt.get_unverified_header(token)["typ"] == CREDENTIAL_TYPE
    claims = pyjwt.decode(token, issuer_key.public_key(), algorithms=["EdDSA"])
    assert claims["iss"] == "kcso-issuer"
    assert claims["sub"] == "det-4711"
    assert claims["agency"] == "kcso"
    assert claims["roles"] == ["detective"]
    assert claims["purposes"] == ["criminal_investigation", "missing_person"]
    assert claims["exp"] - claims["iat"] == 4 * 3600
    assert key_from_jwk(claims["cnf"]["jwk"]) == holder.public_key()
    assert "enc" in claims


def _forged(header: dict[str, object], claims: dict[str, object], signature: bytes) -> str:
    def part(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    sig = base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    return f"{part(header)}.{part(claims)}.{sig}"


def _refused(issuer_url: str, id_token: str, holder: Ed25519PrivateKey) -> str:
    with pytest.raises(LoginFailed) as refused:
        login(issuer_url, id_token, holder, None)
    return str(refused.value)


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({"aud": "another-app"}, "aud"),
        ({"iss": "https://idp.attacker.example"}, "iss"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
        ({"nonce": "someone-elses-key"}, "nonce"),
        ({"sub": None}, "sub"),
    ],
)
def test_a_genuine_token_with_wrong_claims_is_refused(
    provider: Provider, issuer_url: str, extra: dict[str, object], why: str
) -> None:
    holder = generate_key()
    claims = {k: v for k, v in good_claims(holder, **extra).items() if v is not None}
    message = _refused(issuer_url, provider.id_token(**claims), holder)
    assert "the issuer refused" in message
    assert why in message


def test_unsigned_and_alg_none_tokens_are_refused(provider: Provider, issuer_url: str) -> None:
    holder = generate_key()
    claims = {"iss": provider.url, "exp": int(time.time()) + 300, **good_claims(holder)}
    none = _forged({"alg": "none", "kid": KID}, claims, b"")
    assert "algorithm 'none' is not allowed" in _refused(issuer_url, none, holder)
    no_signature = provider.id_token(**good_claims(holder)).rsplit(".", 1)[0] + "."
    assert "signature" in _refused(issuer_url, no_signature, holder)
    assert "not an ID token" in _refused(issuer_url, "not-a-jwt", holder)


def test_key_confusion_and_foreign_keys_are_refused(provider: Provider, issuer_url: str) -> None:
    """HS256 keyed with the IdP's public key, and a key of the right kid the IdP never had."""
    holder = generate_key()
    claims = {"iss": provider.url, "exp": int(time.time()) + 300, **good_claims(holder)}
    public_pem = RSAKey.import_key(provider.jwks()["keys"][0]).as_pem(private=False)
    # Made by hand: joserfc itself refuses to key an HMAC with a public key.
    unsigned = _forged({"alg": "HS256", "kid": KID}, claims, b"")[:-1]
    mac = hmac.new(public_pem, unsigned.encode(), hashlib.sha256).digest()
    confused = _forged({"alg": "HS256", "kid": KID}, claims, mac)
    assert "algorithm 'HS256' is not allowed" in _refused(issuer_url, confused, holder)
    impostor = RSAKey.generate_key(2048, parameters={"kid": KID})
    foreign = jwt.encode({"alg": "RS256", "kid": KID}, claims, impostor)
    assert "signature" in _refused(issuer_url, foreign, holder)


def test_a_login_whose_roles_map_to_no_purpose_gets_nothing(
    provider: Provider, issuer_url: str
) -> None:
    holder = generate_key()
    claims = good_claims(holder, groups=["kcso-records", "unmapped"])
    message = _refused(issuer_url, provider.id_token(**claims), holder)
    assert "det-4711: no role of this login is mapped to any purpose" in message
    config = IssuerConfig("i", Path("k"), "kcso", "local_law_enforcement", "x", "y", roles=ROLES)
    assert map_claims({"sub": "s", "groups": "unmapped"}, config) == ("s", (), ())


def test_a_stolen_id_token_cannot_be_bound_to_another_key(
    provider: Provider, issuer_url: str
) -> None:
    """The thief signs the possession proof with their own key: the nonce names the victim's."""
    victim, thief = generate_key(), generate_key()
    stolen = provider.id_token(**good_claims(victim))
    assert "nonce" in _refused(issuer_url, stolen, thief)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_issuer_serve_and_credential_login_end_to_end(provider: Provider, tmp_path: Path) -> None:
    """The two commands as processes: login stores the credential, a second run keeps it."""
    save_private_key(generate_key(), tmp_path / "issuer.key")
    holder = generate_key()
    save_private_key(holder, tmp_path / "det.key")
    config = _write(
        tmp_path / "issuer.toml",
        f"""
[issuer]
id = "kcso-issuer"
key = "issuer.key"
agency = "kcso"
agency_type = "local_law_enforcement"
hours = 2

[issuer.oidc]
issuer = "{provider.url}"
audience = "{AUDIENCE}"
algorithms = ["RS256"]

[issuer.roles.kcso-detectives]
role = "detective"
purposes = ["criminal_investigation"]
""",
    )
    assert load_issuer_config(config).roles["kcso-detectives"].role == "detective"
    server = subprocess.Popen(
        [FIELDGATE, "issuer", "serve", "--config", str(config), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("issuer listening on http://127.0.0.1:"), line
        url = line.split()[3]
        id_token = provider.id_token(**good_claims(holder))
        out = tmp_path / "det.credential"
        args = [FIELDGATE, "credential", "login", "--issuer", url, "--id-token", "-",
                "--key", str(tmp_path / "det.key"), "-o", str(out)]  # fmt: skip
        first = subprocess.run(args, input=id_token, capture_output=True, text=True, timeout=60)
        assert first.returncode == 0, first.stderr
        claims = pyjwt.decode(out.read_text().strip(), options={"verify_signature": False})
        assert claims["purposes"] == ["criminal_investigation"]
        again = subprocess.run(args, input="", capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stderr
        assert "still valid for 119 min; kept" in again.stderr
        renew = subprocess.run(
            [*args, "--renew-before", "180"], input="junk", capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
        assert renew.returncode == 1
        assert "the issuer refused: not an ID token" in renew.stderr
        assert "Traceback" not in renew.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ('algorithms = ["HS256"]', "issuer.oidc.algorithms: not allowed ['HS256']"),
        ('algorithms = ["none"]', "not allowed ['none']"),
    ],
)
def test_an_issuer_config_allowing_forgeable_algorithms_is_refused(
    tmp_path: Path, line: str, named: str
) -> None:
    config = _write(
        tmp_path / "issuer.toml",
        '[issuer]\nid = "i"\nkey = "k"\nagency = "a"\nagency_type = "local_law_enforcement"\n'
        f'[issuer.oidc]\nissuer = "https://idp"\naudience = "fg"\n{line}\n',
    )
    done = subprocess.run(
        [FIELDGATE, "issuer", "serve", "--config", str(config)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert named in done.stderr
    assert "Traceback" not in done.stderr


def test_made_up_key_ids_do_not_make_the_issuer_refetch_the_jwks(provider: Provider) -> None:
    """One fetch serves every token; an unknown kid refetches at most once a minute."""
    from fieldgate.trust import oidc

    keys = oidc.ProviderKeys(provider.url)
    fetched: list[str] = []
    real_fetch = oidc._fetch_json

    def counting(url: str) -> dict[str, object]:
        fetched.append(url)
        return real_fetch(url)

    oidc_fetch = pytest.MonkeyPatch()
    oidc_fetch.setattr(oidc, "_fetch_json", counting)
    try:
        keys.keys(KID)
        for n in range(20):
            keys.keys(f"made-up-{n}")
    finally:
        oidc_fetch.undo()
    assert len(fetched) == 2  # discovery and JWKS, once
