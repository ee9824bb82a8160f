"""Enough file descriptors for a connection to every node: RLIMIT_NOFILE at start.

Each node channel the broker holds is one socket, one file descriptor; a
broker of 8,500 nodes holds up to 8,500 at once, above the usual soft limit of
1,024. At start the broker raises its soft limit to what its nodes need (and
on a directory refresh that grows them), up to the hard limit the operator
granted. When the hard limit is below that, it refuses to start, naming the
limit and the number to set, rather than failing calls one by one later with
"too many open files".
"""

from __future__ import annotations

import logging
import resource

from fieldgate.broker.errors import FileLimitTooLow

log = logging.getLogger("fieldgate.broker")

FD_MARGIN = 1024
"""Descriptors beyond one per node address: listeners, investigators' connections, the
search log, the trust files, metrics and maintenance ports."""


def fds_needed(addresses: int) -> int:
    """File descriptors a broker routing to ``addresses`` node addresses needs."""
    return addresses + FD_MARGIN


def raise_fd_limit(addresses: int) -> int:
    """Raise the soft RLIMIT_NOFILE to what ``addresses`` need; the soft limit now.

    Raises:
        FileLimitTooLow: the hard limit is below what is needed (nothing changed).
    """
    needed = fds_needed(addresses)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise FileLimitTooLow(needed, soft, hard, addresses)
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    log.info("RLIMIT_NOFILE soft limit raised from %d to %d for %d nodes", soft, needed, addresses)
    return needed
