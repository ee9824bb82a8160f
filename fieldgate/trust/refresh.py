"""Trust that stays fresh by itself: fetch, verify, then replace — or keep the last good.

``fieldgate trust refresh`` and nodes and brokers configured with a
``source`` (``[node.trust] source``) fetch the federation's trust bundle and
revocation list from a URL (``https://…/``) or a directory, each under the
file name it has locally, and use them only after every check passed:

1. both are signed by the pinned federation authority (a revocation list
   marked as one: :func:`fieldgate.trust.bundle_signing.open_revocations`);
2. both parse as a party's :class:`~fieldgate.trust.trust_bundle.TrustStore`
   reads them;
3. neither is older than the maximum age, nor older than the copy already
   held (no rollback: a replayed old list would un-revoke);

then each file is replaced atomically. Any failure leaves the last good files
in place and raises :class:`TrustRefreshError` naming the step — the files
the party holds only age, and its age alert fires well before it stops.
Fetching uses the standard library's HTTP client (TLS verified against the
system's CAs); signatures are checked with PyJWT (EdDSA), as everywhere else.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import tempfile
import threading
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fieldgate.core.errors import FieldgateError
from fieldgate.trust.trust_bundle import TrustStore, TrustUnavailable

MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
"""The largest trust document fetched (a federation's bundle is kilobytes)."""

FETCH_TIMEOUT_SECONDS = 20.0

log = logging.getLogger("fieldgate.trust")


class TrustRefreshError(FieldgateError):
    """A refresh that was refused; the last good trust files stay in place.

    Attributes:
        step: ``fetch``, ``verify``, ``stale`` or ``rollback``.
    """

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"trust refresh refused ({step}): {message}")
        self.step = step


@dataclass(frozen=True)
class Refreshed:
    """What a refresh installed."""

    bundle_issued_at: dt.datetime
    revocations_issued_at: dt.datetime


def fetch(source: str, name: str) -> bytes:
    """The document ``name`` from ``source`` (a URL prefix or a directory).

    Raises:
        TrustRefreshError: it cannot be fetched (step ``fetch``).
    """
    if source.startswith(("https://", "http://")):
        url = source.rstrip("/") + "/" + name
        try:
            with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS) as answer:  # noqa: S310
                data: bytes = answer.read(MAX_DOCUMENT_BYTES + 1)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise TrustRefreshError("fetch", f"{url}: {exc}") from None
    else:
        path = Path(source) / name
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_DOCUMENT_BYTES + 1)
        except OSError as exc:
            raise TrustRefreshError("fetch", f"{path}: {exc.strerror or exc}") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise TrustRefreshError("fetch", f"{name} is larger than {MAX_DOCUMENT_BYTES} bytes")
    return data


def _install(path: Path, data: bytes) -> None:
    # A file of its own per refresh: parties sharing one copy may refresh at once.
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".refresh.tmp", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(tmp, path)  # atomic: a party never reads half a file
    finally:
        tmp.unlink(missing_ok=True)


def refresh(
    source: str,
    bundle: Path,
    revocations: Path,
    *,
    authority: Ed25519PublicKey,
    max_age: dt.timedelta,
    now: dt.datetime | None = None,
) -> Refreshed:
    """Fetch, verify and install the bundle and revocation list; see the module docstring.

    Args:
        source: a URL prefix (``https://trust.example/federation/``) or a directory.
        bundle: the local trust bundle (its file name is what is fetched).
        revocations: the local revocation list (likewise).
        authority: the pinned federation authority key.
        max_age: the oldest ``issued_at`` accepted (the parties' ``max_age_seconds``).
        now: the time to judge ages at (default: the clock).

    Raises:
        TrustRefreshError: naming the step that refused; nothing was replaced.
    """
    when = now or dt.datetime.now(dt.UTC)
    fetched = {
        bundle: fetch(source, bundle.name),
        revocations: fetch(source, revocations.name),
    }
    bundle.parent.mkdir(parents=True, exist_ok=True)
    # Its own staging directory: parties sharing one copy may refresh at once.
    staging = Path(tempfile.mkdtemp(prefix=f".{bundle.name}.refresh-", dir=bundle.parent))
    try:
        new_bundle, new_revocations = staging / bundle.name, staging / revocations.name
        if new_bundle == new_revocations:
            raise TrustRefreshError("verify", "the bundle and the revocation list share a name")
        new_bundle.write_bytes(fetched[bundle])
        new_revocations.write_bytes(fetched[revocations])
        candidate = TrustStore(new_bundle, new_revocations, max_age=max_age, authority=authority)
        _require_signed_revocations(new_revocations)
        try:
            state = candidate.current(when)
        except TrustUnavailable as exc:
            raise TrustRefreshError("stale" if exc.stale else "verify", str(exc)) from None
        held = TrustStore(bundle, revocations, max_age=dt.timedelta.max, authority=authority)
        try:
            old = held.current(when)
        except TrustUnavailable:
            old = None  # nothing usable held: anything verified is better
        if old is not None and (
            state.bundle_issued_at < old.bundle_issued_at
            or state.revocations_issued_at < old.revocations_issued_at
        ):
            raise TrustRefreshError(
                "rollback", "the source's files are older than those held (a replay?)"
            )
        # The revocation list first: a new bundle never goes live beside an old list.
        _install(revocations, fetched[revocations])
        _install(bundle, fetched[bundle])
        return Refreshed(state.bundle_issued_at, state.revocations_issued_at)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _require_signed_revocations(path: Path) -> None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TrustRefreshError("verify", f"revocation list unreadable: {exc}") from None
    if not (isinstance(document, dict) and set(document) == {"signed"}):
        raise TrustRefreshError(
            "verify", "a fetched revocation list must be signed by the federation authority"
        )


class TrustRefresher:
    """Refreshes a party's trust files from its ``source`` on a schedule, in a thread.

    The first refresh runs at once, then every ``every_seconds``. A refused
    refresh is logged (with its step) and counted; the files held stay as
    they were, and the party's trust-age metric and alert show them ageing.
    """

    def __init__(
        self,
        source: str,
        bundle: Path,
        revocations: Path,
        *,
        authority: Ed25519PublicKey,
        max_age: dt.timedelta,
        every_seconds: float,
    ) -> None:
        """Refresh ``bundle`` and ``revocations`` from ``source`` every ``every_seconds``."""
        self.source = source
        self.bundle = bundle
        self.revocations = revocations
        self.authority = authority
        self.max_age = max_age
        self.every_seconds = every_seconds
        self.refused: Counter[str] = Counter()
        """Refused refreshes by step (fetch, verify, stale, rollback)."""
        self.succeeded = 0
        """Refreshes that installed new files."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trust-refresh", daemon=True)

    def start(self) -> TrustRefresher:
        """Start refreshing (returns self)."""
        self._thread.start()
        return self

    def refresh_now(self) -> bool:
        """One refresh; True if it installed the files (a refusal is logged, never raised)."""
        try:
            done = refresh(
                self.source,
                self.bundle,
                self.revocations,
                authority=self.authority,
                max_age=self.max_age,
            )
        except TrustRefreshError as exc:
            self.refused[exc.step] += 1
            log.error("%s; keeping the trust files held", exc)
            return False
        except OSError as exc:
            self.refused["fetch"] += 1
            log.error("trust refresh failed: %s; keeping the trust files held", exc)
            return False
        self.succeeded += 1
        log.info(
            "trust refreshed from %s: bundle issued %s, revocations issued %s",
            self.source,
            done.bundle_issued_at.isoformat(),
            done.revocations_issued_at.isoformat(),
        )
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh_now()
            # Waiting on the event, not sleeping: close() ends the loop at once.
            self._stop.wait(self.every_seconds)

    def close(self) -> None:
        """Stop refreshing."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=FETCH_TIMEOUT_SECONDS + 5)
