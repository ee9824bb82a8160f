"""The broker's cheap checks, run before any signature, limit or nonce is spent.

:func:`refuse_misshapen` ends a search whose sizes, counts or token shapes are
out of bounds (:func:`fieldgate.core.request_shape.check_search_shape`) with
INVALID_ARGUMENT; :func:`forget_nonce` gives back the nonce of a verified
search that is refused before any agency is asked.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import grpc

from fieldgate.broker.metrics import UNKNOWN_PURPOSE, BrokerMetrics
from fieldgate.broker.status import abort, status_for
from fieldgate.core.errors import InvalidRequestError
from fieldgate.core.request_shape import check_search_shape
from fieldgate.trust.verify import SearchVerifier, VerifiedSearch
from fieldgate.v2 import broker_pb2

log = logging.getLogger("fieldgate.broker")

__all__ = ["forget_nonce", "refuse_misshapen"]


async def refuse_misshapen(
    request: broker_pb2.SearchRequest,
    context: grpc.aio.ServicerContext[Any, Any],
    metrics: BrokerMetrics | None,
    started: float,
) -> None:
    """Abort the call with INVALID_ARGUMENT if the search is out of bounds; else return."""
    try:
        check_search_shape(
            request.requester if request.HasField("requester") else None,
            request.query if request.HasField("query") else None,
            request.signed if request.HasField("signed") else None,
        )
    except InvalidRequestError as exc:
        # The message names the field and quotes at most a few characters of it.
        log.warning("search refused before verification: %.300s", exc)
        if metrics is not None:
            metrics.rejected_search(
                UNKNOWN_PURPOSE, "invalid_request", time.perf_counter() - started
            )
        await abort(context, status_for(exc))


def forget_nonce(verifier: SearchVerifier | None, verified: VerifiedSearch | None) -> None:
    """Give back the nonce of a verified search refused before any agency was asked."""
    if verifier is not None and verified is not None:
        verifier.replay.forget(verified.credential_id, verified.nonce)
