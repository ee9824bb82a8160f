"""The client's side of the sealed protocol: keys to seal to, and the check of every answer.

:class:`AnswerCheck` gives the node encryption keys a search is sealed to
(the signed trust bundle's ``nodes[].enc``) and opens and verifies each
agency's sealed answer (see :mod:`fieldgate.trust.answers`). An agency whose
answer does not open or verify — missing, unsigned, signed by another key,
altered, swapped with another agency's, or replayed from another search — is
shown as ``failed_verification`` with the reason, its hits dropped: never as
data and never as "no record". A node that signed ``not_answering`` is shown
as ``not_answering`` ("could not answer: <reason>"), never as "no record". A
trust bundle that cannot be read fails every answer (fail closed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from fieldgate.client.results import AgencyView, SearchResult, agency_view, hit_view
from fieldgate.core.vocabulary import not_answering_words
from fieldgate.trust.answers import NOT_ANSWERING, AnswerVerificationError, open_answer
from fieldgate.trust.audience import Directory
from fieldgate.trust.trust_bundle import TrustStore, TrustUnavailable
from fieldgate.v2 import broker_pb2

log = logging.getLogger("fieldgate.client")

FAILED_VERIFICATION = "failed_verification"
"""The status of an agency whose answer did not verify."""
NOT_ANSWERING_STATUS = "not_answering"
"""The status of an agency whose node signed that it could not answer."""


@dataclass(frozen=True)
class SentSearch:
    """What the client keeps of a search it sent, to check the answers against."""

    proof: str
    nonce: str
    enc_key: X25519PrivateKey
    deadline_seconds: float


class AnswerCheck:
    """Seals to and verifies answers from the nodes of a trust bundle."""

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

    def node_keys(self) -> dict[str, X25519PublicKey]:
        """Node id → the X25519 key to seal a query to.

        Raises:
            TrustUnavailable: the trust bundle cannot be used (nothing is sent).
        """
        return dict(self.trust.current(self._clock()).node_enc)

    def directory(self) -> Directory:
        """The trust bundle's serial and nodes' ``since``: what a compact audience names.

        Raises:
            TrustUnavailable: the trust bundle cannot be used (nothing is sent).
        """
        return self.trust.current(self._clock()).directory

    def view(self, wire: broker_pb2.AgencyResult, sent: SentSearch) -> AgencyView:
        """One agency's part, opened and verified (or marked as failed verification)."""
        plain = agency_view(wire)
        if wire.status != broker_pb2.NODE_STATUS_ANSWERED:
            return dataclasses.replace(plain, hits=())
        now = self._clock()
        try:
            try:
                keys = dict(self.trust.current(now).nodes)
            except TrustUnavailable as exc:
                raise AnswerVerificationError("unknown_node", str(exc)) from None
            if wire.hits:
                raise AnswerVerificationError("malformed", "clear hits beside a sealed search")
            answer = open_answer(
                wire.answer,
                enc_key=sent.enc_key,
                node_id=wire.node_id,
                nonce=sent.nonce,
                proof=sent.proof,
                node_keys=keys,
                now=now,
                skew_seconds=self.skew,
                max_age_seconds=sent.deadline_seconds + 2 * self.skew,
            )
        except AnswerVerificationError as exc:
            self.failed[exc.reason] += 1
            log.warning("answer of %s failed verification: %s", wire.node_id, exc)
            return dataclasses.replace(
                plain,
                status=FAILED_VERIFICATION,
                detail=f"the answer failed verification ({exc.reason}); "
                "treat it as neither data nor 'no record'",
                hits=(),
            )
        if answer.status == NOT_ANSWERING:
            return dataclasses.replace(
                plain,
                status=NOT_ANSWERING_STATUS,
                # The reason is inside the node's signature: no broker can add or strip it.
                detail=f"{plain.agency_name}: {not_answering_words(answer.reason)}",
                not_answering_reason=answer.reason,
                hits=(),
            )
        return dataclasses.replace(plain, hits=tuple(hit_view(h) for h in answer.hits))

    def result(self, response: broker_pb2.SearchResponse, sent: SentSearch) -> SearchResult:
        """The search result with every answer opened and verified."""
        return SearchResult(
            response.request_id, tuple(self.view(wire, sent) for wire in response.results)
        )
