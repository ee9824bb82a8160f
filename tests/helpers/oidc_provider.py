"""A minimal OpenID Connect provider, run as its own process by the issuer tests.

Built from joserfc (the JOSE library of the Authlib project, the one the issuer
itself uses is the same library, but the provider only signs, the issuer only
verifies) and the standard library's HTTP server. It serves what a relying
party consumes from a real IdP: the discovery document, the JWKS, and signed
ID tokens (RS256, a published ``kid``). A full Authlib AuthorizationServer
would need a web framework and user/grant models; the issuer never sees the
login dance, only the ID token that comes out of it, so this is the part a test
needs real. The private key exists only inside this process.

Run: ``python -m tests.helpers.oidc_provider`` → prints ``listening http://127.0.0.1:PORT``.
``POST /test/id-token`` with JSON claims returns an ID token signed by the
provider's key with ``iss``/``iat``/``exp`` filled in unless given.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.request import Request, urlopen

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

KID = "idp-key-1"


def _run() -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig", "alg": "RS256"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    jwks = KeySet([key]).as_dict(private=False)
    discovery = {
        "issuer": url,
        "jwks_uri": f"{url}/jwks",
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
    }

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _json(self, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/.well-known/openid-configuration":
                self._json(discovery)
            elif self.path == "/jwks":
                self._json(jwks)
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            claims = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            now = int(time.time())
            full = {"iss": url, "iat": now, "exp": now + 300, **claims}
            header = {"alg": "RS256", "kid": KID}
            self._json({"id_token": jwt.encode(header, full, key)})

    server.RequestHandlerClass = Handler
    print(f"listening {url}", flush=True)
    server.serve_forever()


@dataclass
class Provider:
    """A running provider: its issuer URL and a way to have it sign an ID token."""

    url: str

    def id_token(self, **claims: Any) -> str:
        """An ID token signed by the provider's own key, with these claims."""
        request = Request(  # noqa: S310 - the provider started by the test, on loopback
            f"{self.url}/test/id-token",
            data=json.dumps(claims).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urlopen(request, timeout=10) as response:  # noqa: S310 - loopback test provider
            return str(json.loads(response.read())["id_token"])

    def jwks(self) -> dict[str, Any]:
        """The provider's published key set (public halves)."""
        with urlopen(f"{self.url}/jwks", timeout=10) as response:  # noqa: S310
            return dict(json.loads(response.read()))


@contextmanager
def oidc_provider() -> Iterator[Provider]:
    """Start the provider process; stop it when done."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.oidc_provider"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening "), line
        yield Provider(line.split()[1])
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


if __name__ == "__main__":
    _run()
