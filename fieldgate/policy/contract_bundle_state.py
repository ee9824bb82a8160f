"""The bundle rollback high-water mark, kept across node restarts.

A node refuses a signed bundle signed before the newest one it has activated
(``reason=rollback``, see :mod:`fieldgate.policy.contract_bundle`). Kept in memory only, that mark
would be lost on restart, and a restarted node would accept an older,
validly signed bundle put in place while it was down. So every activation is
recorded in a small JSON file next to the node's database
(:func:`state_path`: ``<database>.bundle-state.json``)::

    {"format": 1, "signed_at": 1795000000, "revision": "<render hash>",
     "bundle": "/etc/fieldgate/sanctuary.bundle.tar.gz",
     "recorded_at": "2026-11-21T06:00:00+00:00"}

written atomically (a temporary file in the same directory, fsynced, renamed
over the old one with :func:`os.replace`, the directory fsynced), and read at
start. A state file that exists but cannot be read makes the node refuse every
bundle until an operator repairs or removes it: the mark cannot be known, and
guessing low would let a rollback through.

A deliberate roll back is an operator's act: stop the node, remove the state
(``fieldgate node bundle-state --config NODE.toml --reset``, which prints what
it held), install the older bundle, start the node. A node that starts without
a state file says so in a warning naming the file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fieldgate.policy.errors import PolicyError

STATE_FORMAT = 1
STATE_SUFFIX = ".bundle-state.json"


class BundleStateError(PolicyError):
    """The high-water state file cannot be read or written; the message names it."""


@dataclass(frozen=True)
class HighWater:
    """The newest bundle a node has activated.

    Attributes:
        signed_at: when it was signed (the signature's ``iat``, seconds since the epoch).
        revision: its revision (the ``render`` summary hash).
        bundle: the bundle file it was read from.
        recorded_at: when the node activated it (ISO 8601, UTC).
    """

    signed_at: int
    revision: str
    bundle: str = ""
    recorded_at: str = ""


def state_path(database: Path) -> Path:
    """Where a node whose record store is ``database`` keeps its bundle high-water mark."""
    return database.with_name(database.name + STATE_SUFFIX)


def load_high_water(path: Path) -> HighWater | None:
    """The recorded mark, or None when there is no state file.

    Raises:
        BundleStateError: the file exists but cannot be read or is malformed.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleStateError(f"{path}: cannot read the bundle rollback state: {exc}") from None
    try:
        document = json.loads(text)
        if not isinstance(document, dict) or document.get("format") != STATE_FORMAT:
            raise ValueError(f"not a format {STATE_FORMAT} bundle state")
        signed_at = document["signed_at"]
        if not isinstance(signed_at, int) or isinstance(signed_at, bool) or signed_at < 0:
            raise ValueError(f"signed_at is {signed_at!r}, not a time")
        return HighWater(
            signed_at,
            str(document.get("revision", "")),
            str(document.get("bundle", "")),
            str(document.get("recorded_at", "")),
        )
    except (ValueError, KeyError) as exc:
        raise BundleStateError(f"{path}: malformed bundle rollback state: {exc}") from None


def save_high_water(path: Path, mark: HighWater) -> None:
    """Record ``mark`` durably and atomically: a crash leaves the old file or the new one.

    Raises:
        BundleStateError: it could not be written.
    """
    document = {
        "format": STATE_FORMAT,
        "signed_at": mark.signed_at,
        "revision": mark.revision,
        "bundle": mark.bundle,
        "recorded_at": mark.recorded_at or dt.datetime.now(dt.UTC).isoformat(),
    }
    data = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
    directory = path.parent
    try:
        handle, staged = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(staged, 0o644)
            os.replace(staged, path)
        except BaseException:
            Path(staged).unlink(missing_ok=True)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise BundleStateError(f"{path}: cannot record the bundle rollback state: {exc}") from None


def reset_high_water(path: Path) -> HighWater | None:
    """Remove the recorded mark (a deliberate roll back); return what it held.

    Raises:
        BundleStateError: it could not be removed.
    """
    try:
        held = load_high_water(path)
    except BundleStateError:
        held = None  # a damaged file is removed all the same: that is the repair
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise BundleStateError(f"{path}: cannot remove the bundle rollback state: {exc}") from None
    return held
