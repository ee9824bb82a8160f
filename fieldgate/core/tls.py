"""Mutual TLS for every hop: a development CA, certificates, and gRPC credentials.

Investigator → broker and broker → node both run mTLS: the server requires a
client certificate from the federation's CA, and a node knows which broker is
calling from the certificate in the TLS auth context, never from metadata a
caller could set. ``fieldgate pki init`` makes a development CA and
certificates so the demo and the tests run with TLS on; a real federation
issues them from its own CA.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fieldgate.core.config import Section
from fieldgate.core.errors import FieldgateError

# A name usable as a DNS subject alternative name (a node id such as "kcso").
_HOST_LABEL = re.compile(
    r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
)


class TLSError(FieldgateError):
    """TLS files that cannot be used."""


@dataclass(frozen=True)
class TLSFiles:
    """One party's CA bundle, certificate and key (PEM files).

    Attributes:
        ca: certificates of the CA(s) whose peers this party accepts.
        cert: this party's certificate chain.
        key: this party's private key.
    """

    ca: Path
    cert: Path
    key: Path

    def read(self) -> tuple[bytes, bytes, bytes]:
        """(ca, cert, key) bytes, naming a missing file in the error."""
        try:
            return self.ca.read_bytes(), self.cert.read_bytes(), self.key.read_bytes()
        except OSError as exc:
            raise TLSError(f"cannot read TLS file {exc.filename}: {exc.strerror}") from None

    def server_credentials(self) -> grpc.ServerCredentials:
        """Server credentials that require a client certificate from the CA."""
        ca, cert, key = self.read()
        return grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=ca, require_client_auth=True
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """Client credentials presenting this party's certificate."""
        ca, cert, key = self.read()
        return grpc.ssl_channel_credentials(
            root_certificates=ca, private_key=key, certificate_chain=cert
        )


def tls_files(section: Section) -> TLSFiles:
    """Read a ``tls`` table (``ca``, ``cert``, ``key``), naming any bad key."""
    files = TLSFiles(section.path("ca"), section.path("cert"), section.path("key"))
    return files


def peer_name(auth_context: Mapping[str, Iterable[bytes]]) -> str:
    """The calling party's certificate common name, or "" on a plaintext connection."""
    names = list(auth_context.get("x509_common_name") or [])
    return names[0].decode("utf-8", "replace") if names else ""


def write_pem(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write a PEM file; a private one readable by its owner only."""
    _write(path, data, private=private)


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class DevPKI:
    """A development CA in ``directory`` and the certificates it issued."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    def files(self, name: str) -> TLSFiles:
        """The CA, certificate and key of party ``name``."""
        return TLSFiles(self.ca, self.directory / f"{name}.pem", self.directory / f"{name}.key")

    @classmethod
    def create(cls, directory: Path, names: Iterable[str], *, days: int = 30) -> DevPKI:
        """Make a CA and one certificate per name (usable as server and as client).

        Every certificate names ``localhost`` and ``127.0.0.1``, since the
        development federation runs on loopback, and its party's name as a DNS
        name (a node's id: the broker calls each node expecting its id).
        """
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fieldgate development CA")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        pki = cls(directory)
        _write(pki.ca, ca_cert.public_bytes(serialization.Encoding.PEM))
        _write(directory / "ca.key", _key_pem(ca_key), private=True)
        for name in names:
            key = ec.generate_private_key(ec.SECP256R1())
            cert = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                .issuer_name(ca_name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=days))
                .add_extension(
                    x509.SubjectAlternativeName(
                        [
                            x509.DNSName("localhost"),
                            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                            # The party's own name: the broker checks that the node
                            # it calls holds a certificate naming that node id.
                            *([x509.DNSName(name)] if _HOST_LABEL.fullmatch(name) else []),
                        ]
                    ),
                    critical=False,
                )
                .add_extension(
                    x509.ExtendedKeyUsage(
                        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                    ),
                    critical=False,
                )
                .sign(ca_key, hashes.SHA256())
            )
            files = pki.files(name)
            _write(files.cert, cert.public_bytes(serialization.Encoding.PEM))
            _write(files.key, _key_pem(key), private=True)
        return pki
