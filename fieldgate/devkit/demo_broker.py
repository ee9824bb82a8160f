"""What the demo shows about the broker: it routes what it cannot read, and cannot lie.

:class:`BrokerTap` stands where the broker's operator stands: in front of the
real broker, with the broker's own certificate, it records every byte the
broker is sent and every byte it sends back, and on request forges one
agency's answer the way a tampering operator would (signed with its own key,
sealed to the requester's public key from the credential it relays).
:func:`broker_saw` then searches everything the broker had — those bytes, its
log lines and its search log — for the person searched and every released
value; :func:`forgery_caught` checks the client caught the forgery.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jwt

from fieldgate.client.results import SearchResult
from fieldgate.core.tls import TLSFiles
from fieldgate.trust.answers import AnswerSigner, unverified_nonce
from fieldgate.trust.keys import enc_key_from_jwk, generate_key
from fieldgate.v2 import broker_pb2, broker_pb2_grpc

MIN_SECRET_LENGTH = 6
"""Shorter released values (``M``, ``173``) would turn up in random ciphertext bytes by
chance; every name, date and identifier the demo releases is longer."""


class BrokerTap(broker_pb2_grpc.BrokerServiceServicer):
    """A proxy with the broker's certificate in front of the real broker (see module doc)."""

    def __init__(self, upstream: str, client_tls: TLSFiles, server_tls: TLSFiles) -> None:
        """Forward to ``upstream`` over mTLS as ``client_tls``; serve as ``server_tls``."""
        self._channel = grpc.aio.secure_channel(upstream, client_tls.channel_credentials())
        self._stub = broker_pb2_grpc.BrokerServiceStub(self._channel)
        self._server_tls = server_tls
        self._server: grpc.aio.Server | None = None
        self.received: list[bytes] = []
        """Every request, serialized, as the broker received it."""
        self.relayed: list[bytes] = []
        """Every response, serialized, as the broker sent it."""
        self.forge: str = ""
        """Node id whose answer to forge ("" for none)."""
        self.address = ""

    async def start(self) -> str:
        """Serve on a free loopback port; its address."""
        self._server = grpc.aio.server()
        broker_pb2_grpc.add_BrokerServiceServicer_to_server(self, self._server)
        port = self._server.add_secure_port("127.0.0.1:0", self._server_tls.server_credentials())
        await self._server.start()
        self.address = f"127.0.0.1:{port}"
        return self.address

    async def stop(self) -> None:
        """Stop serving and close the upstream channel."""
        if self._server is not None:
            await self._server.stop(0.5)
        await self._channel.close(None)

    async def Search(
        self, request: broker_pb2.SearchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> broker_pb2.SearchResponse:
        self.received.append(request.SerializeToString())
        response: broker_pb2.SearchResponse = await self._stub.Search(request, timeout=30)
        if self.forge:
            _forge(response, request, self.forge)
        self.relayed.append(response.SerializeToString())
        return response

    async def SearchStream(
        self,
        request: broker_pb2.SearchStreamRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[broker_pb2.SearchStreamResponse]:
        self.received.append(request.SerializeToString())
        async for event in self._stub.SearchStream(request, timeout=30):
            self.relayed.append(event.SerializeToString())
            yield event

    async def ListNodes(
        self, request: broker_pb2.ListNodesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> broker_pb2.ListNodesResponse:
        listed: broker_pb2.ListNodesResponse = await self._stub.ListNodes(request, timeout=10)
        return listed


def _forge(
    response: broker_pb2.SearchResponse, request: broker_pb2.SearchRequest, node_id: str
) -> None:
    """Replace ``node_id``'s answer with a no-record answer the operator signed and sealed."""
    claims = jwt.decode(request.signed.credential, options={"verify_signature": False})
    forged = AnswerSigner(node_id, generate_key()).seal(
        recipient=enc_key_from_jwk(claims.get("enc")),
        nonce=unverified_nonce(request.signed.proof),
        proof=request.signed.proof,
        hits=[],
    )
    for result in response.results:
        if result.node_id == node_id:
            result.answer.CopyFrom(forged)


class BrokerLog(logging.Handler):
    """The broker's own log lines while the demo searches."""

    def __init__(self) -> None:
        """Collect every line, from DEBUG up."""
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@dataclass(frozen=True)
class BrokerSaw:
    """What the broker held, and which secrets were among it."""

    received_bytes: int
    relayed_bytes: int
    log_lines: int
    log_rows: int
    secrets_checked: int
    found: tuple[str, ...]
    """Secrets found anywhere the broker held them (must be empty)."""


def secrets_of(subject: Iterable[str], results: Iterable[SearchResult]) -> list[str]:
    """The person searched for and every released value long enough to look for."""
    values = {str(v.value) for r in results for a in r.agencies for h in a.hits
              for v in h.fields.values()}  # fmt: skip
    return sorted({*subject, *(v for v in values if len(v) >= MIN_SECRET_LENGTH)})


def broker_saw(
    tap: BrokerTap, log: BrokerLog, search_log: Path | None, secrets: list[str]
) -> BrokerSaw:
    """Search every byte the broker received and relayed, its log and its search log."""
    rows: list[str] = []
    if search_log is not None and search_log.exists():
        with sqlite3.connect(search_log) as db:
            rows = [repr(row) for row in db.execute("SELECT * FROM searches")]
    blobs = [*tap.received, *tap.relayed]
    texts = [*log.lines, *rows]
    found = []
    for secret in secrets:
        forms = {secret, secret.upper(), secret.lower()}
        if any(f.encode() in b for f in forms for b in blobs) or any(
            f in t for f in forms for t in texts
        ):
            found.append(secret)
    return BrokerSaw(
        sum(map(len, tap.received)),
        sum(map(len, tap.relayed)),
        len(log.lines),
        len(rows),
        len(secrets),
        tuple(found),
    )


def forgery_caught(result: SearchResult, node_id: str) -> bool:
    """Whether the client showed the forged agency as failed verification, with no data."""
    view = next((a for a in result.agencies if a.node_id == node_id), None)
    return view is not None and view.status == "failed_verification" and not view.hits
