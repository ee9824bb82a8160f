"""``fieldgate issuer serve``: the agency's credential service (OIDC login → credential)."""

from __future__ import annotations

import signal
import ssl
import threading
from pathlib import Path
from types import FrameType

import click

from fieldgate.cli.files import EXISTING_FILE
from fieldgate.cli.serving import LOG_FORMAT_OPTION, setup_logging
from fieldgate.trust.issuer_service import IssuerService, serve
from fieldgate.trust.keys import KeyFileError, load_private_key
from fieldgate.trust.oidc import load_issuer_config


@click.group()
def issuer() -> None:
    """The agency's credential issuer: exchanges its identity provider's logins."""


@issuer.command("serve")
@click.option(
    "--config",
    "config_path",
    type=EXISTING_FILE,
    required=True,
    help="The issuer's TOML config ([issuer], [issuer.oidc], [issuer.roles.*]).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8443, show_default=True)
@click.option(
    "--url",
    help="The URL investigators use (proofs are bound to it); default: http(s)://HOST:PORT.",
)
@click.option("--tls-cert", type=EXISTING_FILE, help="Serve HTTPS with this certificate.")
@click.option("--tls-key", type=EXISTING_FILE, help="The certificate's private key.")
@LOG_FORMAT_OPTION
def issuer_serve(
    config_path: Path, host: str, port: int, url: str | None, tls_cert: Path | None,
    tls_key: Path | None, log_format: str | None,
) -> None:  # fmt: skip
    """Serve POST /credential until SIGINT/SIGTERM."""
    setup_logging(log_format or "text")
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    try:
        config = load_issuer_config(config_path)
        key = load_private_key(config.key_path)
    except (ValueError, KeyFileError) as exc:
        raise click.ClickException(str(exc)) from None
    tls = None
    if tls_cert is not None and tls_key is not None:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
        tls.load_cert_chain(tls_cert, tls_key)
    scheme = "https" if tls else "http"
    service = IssuerService(config, key, url or "")
    try:
        server = serve(service, host, port, tls)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port} ({exc})") from None
    bound_host, bound_port = server.server_address[:2]
    public = url or f"{scheme}://{bound_host!s}:{bound_port}"
    # With --port 0 the URL is known only now; no request can have arrived before this line
    # was printed, since clients learn the port from it.
    service.url = public
    click.echo(f"issuer listening on {public} (Ctrl-C to stop)")
    stopping = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    stopping.wait()
    server.shutdown()
    server.server_close()
    click.echo("issuer stopped")
