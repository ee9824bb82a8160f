"""``fieldgate issuer serve``: the HTTP endpoint that exchanges an ID token for a credential.

One route, ``POST /credential`` with a JSON body::

    {"id_token": "...", "holder_key": {Ed25519 JWK}, "holder_enc_key": {X25519 JWK},
     "proof": "<JWS by the holder key over this issuer's URL and the ID token's hash>"}

answered ``200 {"credential": "..."}`` or ``4xx {"error": "why"}``. Every exchange,
issued or refused, is logged with the subject when known. TLS comes from the
standard library's ``ssl`` (the service is meant to sit behind the agency's
ingress or to be given a certificate).
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fieldgate.trust.keys import KeyFileError, enc_key_from_jwk, key_from_jwk
from fieldgate.trust.oidc import (
    IssuerConfig,
    LoginRefused,
    ProviderKeys,
    check_possession,
    credential_request,
    verify_id_token,
)
from fieldgate.trust.tokens import issue_credential

log = logging.getLogger("fieldgate.issuer")
MAX_BODY = 64 * 1024


class IssuerService:
    """Verify a login and sign the credential; no HTTP here, so it is testable on its own."""

    def __init__(self, config: IssuerConfig, key: Ed25519PrivateKey, url: str) -> None:
        self.config = config
        self.key = key
        self.url = url
        self.provider = ProviderKeys(config.idp_issuer)

    def exchange(self, body: object) -> str:
        """The credential for this request body, or LoginRefused saying why not."""
        if not isinstance(body, dict):
            raise LoginRefused("the request body must be a JSON object")
        id_token, proof = body.get("id_token"), body.get("proof")
        if not isinstance(id_token, str) or not isinstance(proof, str):
            raise LoginRefused("the request needs id_token and proof (strings)")
        try:
            holder = key_from_jwk(body.get("holder_key"))
            enc = body.get("holder_enc_key")
            holder_enc = None if enc is None else enc_key_from_jwk(enc)
        except (KeyFileError, ValueError, TypeError, pyjwt.PyJWTError) as exc:
            raise LoginRefused(f"holder key: {exc}") from None
        check_possession(proof, holder, self.url, id_token)
        claims = verify_id_token(id_token, self.config, self.provider, holder)
        request = credential_request(self.config, claims, holder, holder_enc)
        try:
            token = issue_credential(request, self.key)
        except ValueError as exc:
            raise LoginRefused(str(exc)) from None
        log.info(
            "credential issued",
            extra={"subject": request.subject, "roles": request.roles,
                   "purposes": request.purposes},
        )  # fmt: skip
        return token


def _handler(service: IssuerService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            # The exchange is logged by IssuerService; the access line would repeat it.
            return

        def _reply(self, status: HTTPStatus, body: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            if self.path != "/credential":
                self._reply(HTTPStatus.NOT_FOUND, {"error": "no such route"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                self._reply(HTTPStatus.BAD_REQUEST, {"error": "body missing or too large"})
                return
            try:
                body = json.loads(self.rfile.read(length))
                token = service.exchange(body)
            except ValueError:
                self._reply(HTTPStatus.BAD_REQUEST, {"error": "the body is not JSON"})
            except LoginRefused as exc:
                log.warning("login refused: %s", exc)
                self._reply(HTTPStatus.FORBIDDEN, {"error": str(exc)})
            else:
                self._reply(HTTPStatus.OK, {"credential": token})

    return Handler


def serve(
    service: IssuerService, host: str, port: int, tls: ssl.SSLContext | None = None
) -> ThreadingHTTPServer:
    """Start serving in a background thread; the caller stops it with ``shutdown()``."""
    server = ThreadingHTTPServer((host, port), _handler(service))
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, name="issuer", daemon=True).start()
    return server
