"""Binding a gRPC server to its configured address, with an error a person can act on."""

from __future__ import annotations

import grpc

from fieldgate.core.errors import FieldgateError
from fieldgate.core.tls import TLSFiles


class ListenError(FieldgateError):
    """A server could not listen where its config says."""


def bind(server: grpc.aio.Server, listen: str, tls: TLSFiles | None, what: str) -> int:
    """Add the listening port (mTLS when ``tls``), returning the bound port.

    Raises:
        ListenError: the address is taken, invalid, or the TLS files are unusable.
    """
    try:
        if tls is None:
            port = server.add_insecure_port(listen)
        else:
            port = server.add_secure_port(listen, tls.server_credentials())
    except RuntimeError as exc:  # grpc reports a taken or invalid address this way
        raise ListenError(f"{what} cannot listen on {listen}: {exc}") from None
    if port == 0:
        raise ListenError(f"{what} cannot listen on {listen}")
    return port
