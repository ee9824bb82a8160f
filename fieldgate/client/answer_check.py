"""The client's check of every answer the broker relays (see :mod:`fieldgate.trust.answers`).

An agency whose answer does not verify — unsigned, signed by another key,
altered, swapped with another agency's, or replayed from another search — is
shown as ``failed_verification`` with the reason, its hits dropped: never as
data and never as "no record". A "not answering" answer is verified too (its
reason is signed), so a broker can neither invent nor strip it. A trust
bundle that cannot be read fails every answer (fail closed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable

from fieldgate.client.results import AgencyView, SearchResult, search_result
from fieldgate.trust.answers import AnswerVerificationError, verify_answer
from fieldgate.trust.trust_bundle import TrustStore, TrustUnavailable
from fieldgate.v1 import broker_pb2

log = logging.getLogger("fieldgate.client")

FAILED_VERIFICATION = "failed_verification"
"""The status of an agency whose answer did not verify."""


class AnswerCheck:
    """Verifies relayed answers against the node keys of a trust bundle."""

    def __init__(
        self,
        trust: TrustStore,
        *,
        skew_seconds: float = 60.0,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        """Check against ``trust``'s ``nodes``, allowing ``skew_seconds`` of clock difference."""
        self.trust = trust
        self.skew = skew_seconds
        self._clock = clock
        self.failed: Counter[str] = Counter()
        """Answers that failed verification, by reason."""

    def result(
        self, response: broker_pb2.SearchResponse, nonce: str, deadline_seconds: float
    ) -> SearchResult:
        """The search result with every unverifiable answer marked as such.

        Args:
            response: the broker's answer.
            nonce: the nonce of this search's own proof.
            deadline_seconds: the search's deadline (an answer older than it
                and the clock skew is a replay).
        """
        now = self._clock()
        try:
            keys = dict(self.trust.current(now).nodes)
            trust_error = ""
        except TrustUnavailable as exc:
            keys, trust_error = {}, str(exc)
        plain = search_result(response)
        agencies: list[AgencyView] = []
        for wire, view in zip(response.results, plain.agencies, strict=True):
            if wire.status not in (
                broker_pb2.NODE_STATUS_ANSWERED,
                broker_pb2.NODE_STATUS_NOT_ANSWERING,
            ):
                agencies.append(view)
                continue
            try:
                if trust_error:
                    raise AnswerVerificationError("unknown_node", trust_error)
                verify_answer(
                    wire.answer_signature,
                    node_id=wire.node_id,
                    nonce=nonce,
                    hits=wire.hits,
                    node_keys=keys,
                    now=now,
                    skew_seconds=self.skew,
                    max_age_seconds=deadline_seconds + 2 * self.skew,
                    reason=wire.not_answering_reason,
                )
            except AnswerVerificationError as exc:
                self.failed[exc.reason] += 1
                log.warning("answer of %s failed verification: %s", wire.node_id, exc)
                agencies.append(
                    dataclasses.replace(
                        view,
                        status=FAILED_VERIFICATION,
                        detail=f"the answer failed verification ({exc.reason}); "
                        "treat it as neither data nor 'no record'",
                        hits=(),
                    )
                )
            else:
                agencies.append(view)
        return SearchResult(plain.request_id, tuple(agencies))
