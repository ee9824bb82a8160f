"""What ``fieldgate node serve`` and ``fieldgate broker serve`` share.

Graceful shutdown on a signal, the ``--log-format`` option, and the lines that
say where a started server's metrics and health endpoints listen.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable

import click

from fieldgate.broker.server import RunningBroker
from fieldgate.core.logs import LOG_FORMATS, capture_native_stderr, configure_logging
from fieldgate.node.server import RunningNode

GRACE_SECONDS = 5.0
"""How long in-flight searches may run on after SIGTERM or Ctrl-C."""


async def serve_until_signal(
    start: Callable[[], Awaitable[tuple[str, Callable[[float], Awaitable[None]]]]],
    what: str,
    notes: Callable[[], Iterable[str]] | None = None,
) -> None:
    """Start a server, print where it listens, and stop it gracefully on SIGINT/SIGTERM.

    The first line printed is always ``<what> listening on <address> ...``;
    ``notes`` adds lines after it (the metrics and health ports).
    """
    address, stop = await start()
    click.echo(f"{what} listening on {address} (Ctrl-C to stop)")
    for note in notes() if notes else ():
        click.echo(f"{what} {note}")
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        await stopping.wait()
    finally:
        click.echo(f"{what} stopping (grace {GRACE_SECONDS:.0f} s)")
        await stop(GRACE_SECONDS)


LOG_FORMAT_OPTION = click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default=None,
    help="Log lines as text or one JSON object per line (default: the config's log_format, "
    "else text). JSON logs every search at INFO with its request id.",
)


def setup_logging(log_format: str) -> None:
    """Log to stderr in ``log_format``; JSON output includes INFO (one line per search)."""
    level = logging.getLogger().getEffectiveLevel()
    configure_logging(log_format, min(level, logging.INFO) if log_format == "json" else level)
    if log_format == "json":
        # gRPC's C core logs straight to stderr; in a JSON stream its lines are wrapped too.
        capture_native_stderr()


def ops_notes(running: RunningNode | RunningBroker) -> list[str]:
    """Where the metrics and health endpoints of a started server listen, if anywhere."""
    notes = []
    if running.metrics_endpoint is not None:
        notes.append(f"metrics on http://{running.metrics_endpoint.address}/metrics")
    if running.maintenance is not None:
        notes.append(f"health on {running.maintenance.address} (gRPC, plaintext)")
    return notes
