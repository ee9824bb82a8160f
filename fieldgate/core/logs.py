"""Log output for servers: human text or one JSON object per line.

``fieldgate node serve`` and ``fieldgate broker serve`` take ``--log-format
json`` (or ``log_format = "json"`` in their config) for log collectors. Every
line is one JSON object with ``time`` (UTC, ISO 8601), ``level``, ``logger``,
``message`` and, while a search is being handled, ``request_id`` — the id the
broker gives a search and sends to every node, so one search can be followed
from the broker through every node (and into each node's audit log, which
carries the same id).

The request id travels in a :mod:`contextvars` variable: set once where a
search arrives (:func:`request_context`), it is on every line logged while
handling it, including from worker threads started with
:func:`asyncio.to_thread`, which copies the context.

The formatter is a few lines of the standard library rather than a package
(python-json-logger and the like): it needs no dependency, and it decides
exactly which fields may go out — only the message and the fields below,
never arbitrary ``extra`` values a caller might fill with names.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import datetime as dt
import json
import logging
import os
import sys
import threading
from collections.abc import Iterator

LOG_FORMATS = ("text", "json")
"""Accepted values of ``--log-format`` and ``log_format``."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
"""The search being handled in this context ("" outside one)."""


@contextlib.contextmanager
def request_context(request_id: str) -> Iterator[None]:
    """Tag every log line inside the block with ``request_id``."""
    token = request_id_var.set(request_id)
    try:
        yield
    finally:
        request_id_var.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            document["request_id"] = str(request_id)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The plain format, with ``[request_id]`` after the logger name inside a search."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if not request_id:
            return text
        head, sep, tail = text.partition(f"{record.name}: ")
        return f"{head}{record.name} [{request_id}]: {tail}" if sep else text


def configure_logging(log_format: str, level: int) -> None:
    """Send the root logger's output to stderr in ``log_format`` at ``level``.

    Replaces the handlers set earlier (``fieldgate -v`` sets a text one).
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


NATIVE_LOGGER = "grpc.native"
"""Logger name of lines written straight to the stderr file descriptor by native code."""


def capture_native_stderr() -> None:
    """Route everything written to file descriptor 2 through the logging handlers.

    gRPC's C core (and any other native code) writes its own log lines straight
    to the stderr descriptor, bypassing :mod:`logging`: in a JSON log stream
    such a line breaks every collector's parser. After this call the root
    logger's handlers write to a copy of the original stderr, and each line
    anything else writes to descriptor 2 becomes a record of
    :data:`NATIVE_LOGGER` (formatted like every other line). For the serving
    commands only: it takes over the process's stderr for good.
    """
    original = os.dup(2)
    stream = os.fdopen(original, "w", buffering=1, encoding="utf-8", errors="replace")
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    native = logging.getLogger(NATIVE_LOGGER)

    def pump() -> None:
        with os.fdopen(read_end, "r", encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if line.strip():
                    native.warning("%s", line.rstrip("\n")[:4000])

    thread = threading.Thread(target=pump, name="native-stderr", daemon=True)
    thread.start()

    def drain() -> None:
        # At exit: end the pipe so the last lines written are logged, not lost.
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os.close(2)
        thread.join(timeout=2)

    atexit.register(drain)
