"""``fieldgate credential login``: exchange the agency login for a credential, and renew it.

The client asks its identity provider for an ID token whose ``nonce`` is
:func:`fieldgate.trust.oidc.key_thumbprint` of its signing key (the issuer
checks it), proves possession of that key, and stores the credential it gets.
A stored credential with more than ``renew_before`` of life left is kept.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from fieldgate.core.errors import FieldgateError
from fieldgate.trust.keys import enc_public_jwk, public_jwk
from fieldgate.trust.oidc import possession_proof

TIMEOUT_SECONDS = 15.0


class LoginFailed(FieldgateError):
    """The credential issuer refused the login or could not be reached (the message says why)."""


def remaining(path: Path) -> dt.timedelta | None:
    """Life left in the credential stored at ``path``; None if there is none to read."""
    try:
        claims = jwt.decode(path.read_text().strip(), options={"verify_signature": False})
        expiry = dt.datetime.fromtimestamp(int(claims["exp"]), dt.UTC)
    except (OSError, jwt.InvalidTokenError, KeyError, TypeError, ValueError):
        return None
    return expiry - dt.datetime.now(dt.UTC)


def login(
    issuer_url: str, id_token: str, key: Ed25519PrivateKey, enc_key: X25519PrivateKey | None
) -> str:
    """POST the exchange to the issuer; the credential, or LoginFailed with its reason."""
    body = {
        "id_token": id_token,
        "holder_key": public_jwk(key.public_key()),
        "proof": possession_proof(key, issuer_url, id_token),
    }
    if enc_key is not None:
        body["holder_enc_key"] = enc_public_jwk(enc_key.public_key())
    if not issuer_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        # The ID token is a bearer secret until exchanged: plain HTTP only on loopback.
        raise LoginFailed(f"{issuer_url}: the issuer must be reached over HTTPS")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked just above
        issuer_url.rstrip("/") + "/credential",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            answer = json.loads(response.read(1_000_000))
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read(64_000)).get("error", exc.reason)
        except (ValueError, AttributeError):
            reason = exc.reason
        finally:
            exc.close()  # it holds the response open
        raise LoginFailed(f"the issuer refused: {reason}") from None
    except (OSError, ValueError) as exc:
        raise LoginFailed(f"{issuer_url}: cannot reach the issuer ({exc})") from None
    token = answer.get("credential") if isinstance(answer, dict) else None
    if not isinstance(token, str):
        raise LoginFailed(f"{issuer_url}: the answer carries no credential")
    return token
