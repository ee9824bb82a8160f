"""Certificates that fit a deployment: names and addresses given, the party's role bound in.

``fieldgate pki`` issues, from a federation CA, certificates for one party each:

- the **role** is bound in the certificate as a URI subject alternative name
  ``fieldgate:role:<role>`` (one of :data:`ROLES`), so a server can tell a
  broker from an investigator by what the CA signed, never by a name the
  caller chose;
- the **extended key usage** follows the role: an ``investigator`` or
  ``operator`` certificate is a client certificate only (``clientAuth``), so
  a TLS client refuses it as a server — an investigator's CLI will not talk
  to a fake broker presenting a detective's certificate (the TLS library
  checks the server certificate's purpose); brokers, nodes and witnesses
  serve and call, so theirs carry ``serverAuth`` and ``clientAuth``;
- the **names** are exactly those given (``--dns``, ``--ip``): a node's
  certificate names its node id (the broker checks it) and the DNS names and
  addresses it is reached at, so broker→node TLS works outside loopback. A
  client-only certificate names no host at all.

Built with the ``cryptography`` library's X.509 builder; nothing here is
home-made cryptography. Which role a server admits is :data:`ADMITTED`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fieldgate.core.tls import TLSError, TLSFiles, write_pem

ROLE_PREFIX = "fieldgate:role:"
"""A role's URI subject alternative name is this prefix and the role."""

ROLES = ("broker", "node", "witness", "investigator", "operator")
"""Every role a certificate can carry."""

CLIENT_ONLY = frozenset({"investigator", "operator"})
"""Roles whose certificates may only be presented by a TLS client."""

ADMITTED: Mapping[str, frozenset[str]] = {
    "node": frozenset({"broker", "operator"}),
    "broker": frozenset({"investigator", "operator"}),
    "witness": frozenset({"node", "operator"}),
}
"""Server role → the client roles it answers."""


@dataclass(frozen=True)
class CertificateInfo:
    """What a certificate says about its party."""

    subject: str
    """The common name."""
    roles: frozenset[str]
    """The ``fieldgate:role:`` roles bound in it (empty for a certificate without one)."""
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    server: bool
    """Whether it may be presented by a TLS server (``serverAuth``)."""
    client: bool
    """Whether it may be presented by a TLS client (``clientAuth``)."""
    not_after: dt.datetime
    """When it expires (UTC)."""


def describe(pem: bytes) -> CertificateInfo:
    """Read what a PEM certificate says (the first one of a chain).

    Raises:
        TLSError: it is not a PEM certificate.
    """
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise TLSError(f"not a PEM certificate: {exc}") from None
    return _info(cert)


def _info(cert: x509.Certificate) -> CertificateInfo:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
        dns = tuple(san.get_values_for_type(x509.DNSName))
        ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        uris, dns, ips = [], (), ()
    try:
        usages = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        usages = {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    return CertificateInfo(
        subject=str(names[0].value) if names else "",
        roles=frozenset(u[len(ROLE_PREFIX) :] for u in uris if u.startswith(ROLE_PREFIX)),
        dns_names=dns,
        ip_addresses=ips,
        server=ExtendedKeyUsageOID.SERVER_AUTH in usages,
        client=ExtendedKeyUsageOID.CLIENT_AUTH in usages,
        not_after=cert.not_valid_after_utc,
    )


def peer_roles(auth_context: Mapping[str, Iterable[bytes]]) -> frozenset[str] | None:
    """The roles in the calling party's certificate; None on a plaintext connection."""
    pems = list(auth_context.get("x509_pem_cert") or [])
    if not pems:
        return None
    try:
        return describe(pems[0]).roles
    except TLSError:
        return frozenset()


def caller_admitted(server_role: str, roles: frozenset[str] | None) -> bool:
    """Whether a caller with ``roles`` may call a ``server_role`` server.

    A plaintext connection (None) is the server's own choice (development);
    a certificate without any role is judged by the server's other checks
    (development certificates made by ``pki init``); a certificate with
    roles must hold one the server admits.
    """
    if not roles:
        return True
    return bool(roles & ADMITTED.get(server_role, frozenset()))


def check_server_role(address: str, tls: TLSFiles, role: str, timeout: float = 10.0) -> None:
    """Refuse a server at ``address`` whose certificate binds a role other than ``role``.

    One TLS handshake with the standard library (the federation CA, this
    party's client certificate, the server's name checked as gRPC checks it)
    reads the server's certificate before any search is sent. A certificate
    without a role (development, ``pki init``) is left to the name check.

    Raises:
        TLSError: the server cannot be reached over TLS, or holds another role's certificate.
    """
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(tls.ca))
    context.load_cert_chain(str(tls.cert), str(tls.key))
    context.set_alpn_protocols(["h2"])
    try:
        with (
            socket.create_connection((host, int(port)), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as conn,
        ):
            der = conn.getpeercert(binary_form=True)
    except (OSError, ValueError) as exc:
        raise TLSError(f"{address}: TLS handshake failed: {exc}") from None
    if der is None:
        raise TLSError(f"{address}: presented no certificate")
    info = _info(x509.load_der_x509_certificate(der))
    if info.roles and role not in info.roles:
        raise TLSError(
            f"{address} presents a certificate for {', '.join(sorted(info.roles))} "
            f"({info.subject!r}), not a {role}'s: refusing to send it anything"
        )


def _ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
        key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise TLSError(f"{directory}: no usable CA (ca.pem, ca.key): {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TLSError(f"{directory}/ca.key: not an EC key")
    return cert, key


def issue(
    directory: Path,
    name: str,
    role: str,
    *,
    dns: Sequence[str] = (),
    ips: Sequence[str] = (),
    days: int = 90,
    now: dt.datetime | None = None,
) -> tuple[TLSFiles, CertificateInfo]:
    """Issue ``name``'s certificate and key from the CA in ``directory``.

    Args:
        directory: holds ``ca.pem`` and ``ca.key``; ``<name>.pem`` and ``<name>.key`` go there.
        name: the party (common name; a node's id is also added as a DNS name).
        role: one of :data:`ROLES`.
        dns: DNS names the party serves at (not for client-only roles).
        ips: IP addresses the party serves at (not for client-only roles).
        days: validity.
        now: the issue time (default: the clock).

    Raises:
        TLSError: a bad role, name, address, or a client-only role given names.
    """
    if role not in ROLES:
        raise TLSError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if role in CLIENT_ONLY and (dns or ips):
        raise TLSError(f"an {role} certificate is a client certificate: it names no host")
    try:
        addresses = [ipaddress.ip_address(ip) for ip in ips]
    except ValueError as exc:
        raise TLSError(f"--ip: {exc}") from None
    hosts = [*dns, *([name] if role == "node" and name not in dns else [])]
    for host in hosts:
        try:
            x509.DNSName(host)
        except ValueError as exc:
            raise TLSError(f"--dns {host!r}: {exc}") from None
    ca_cert, ca_key = _ca(directory)
    when = now or dt.datetime.now(dt.UTC)
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if role not in CLIENT_ONLY:
        usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(when - dt.timedelta(minutes=5))
        .not_valid_after(min(when + dt.timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.UniformResourceIdentifier(ROLE_PREFIX + role),
                    *(x509.DNSName(h) for h in hosts),
                    *(x509.IPAddress(a) for a in addresses),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    files = TLSFiles(directory / "ca.pem", directory / f"{name}.pem", directory / f"{name}.key")
    pem = cert.public_bytes(serialization.Encoding.PEM)
    write_pem(files.cert, pem)
    write_pem(
        files.key,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        private=True,
    )
    return files, describe(pem)


def expiry_of(path: Path) -> dt.datetime | None:
    """When the (first) certificate in ``path`` expires; None if it cannot be read."""
    try:
        return describe(path.read_bytes()).not_after
    except (OSError, TLSError):
        return None
