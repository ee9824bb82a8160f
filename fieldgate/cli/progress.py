"""The progress bar every long ``fieldgate node`` command shows on standard error."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TimeRemainingColumn,
)


def progress_bar(console: Console, *, by_bytes: bool, disable: bool = False) -> Progress:
    """A transient bar counting bytes of a file (``by_bytes``) or items done of a total."""
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn() if by_bytes else MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=disable,
    )
