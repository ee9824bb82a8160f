"""The investigator's client: build a search, send it to a broker, read the result.

Example::

    from fieldgate.client.broker_client import Requester, SearchClient

    me = Requester(subject="det-4711", agency="seattle-pd",
                   agency_type="local_law_enforcement",
                   purpose="criminal_investigation", case_number="2026-001234")
    with SearchClient("127.0.0.1:50051") as client:
        result = client.search(me, surname="Doe", given_name="John", dob="1980-04-12")
    for agency in result.agencies:
        print(agency.agency_name, agency.status, len(agency.hits))

Bad input comes back as :class:`SearchError` with the broker's message.

``search_stream`` (on both clients) yields each agency's part as it ends and
then the whole result (see :mod:`fieldgate.client.stream`)::

    for update in client.search_stream(me, surname="Doe", dob="1980-04-12"):
        print(update.progress)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

import grpc
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from fieldgate.client.answer_check import AnswerCheck, SentSearch
from fieldgate.client.audience import Addressing, address
from fieldgate.client.results import SearchResult, search_result, with_unanswered
from fieldgate.client.stream import (
    SearchFinished,
    SearchUpdate,
    StreamAssembler,
    StreamProtocolError,
)
from fieldgate.core.answer_caps import MAX_BROKER_ANSWER_BYTES
from fieldgate.core.claims import MAX_AUTHORITIES
from fieldgate.core.errors import FieldgateError
from fieldgate.core.tls import TLSFiles
from fieldgate.trust.answers import unverified_nonce
from fieldgate.trust.audience import Directory
from fieldgate.trust.sealed_search import sign_search
from fieldgate.trust.tokens import Identity
from fieldgate.trust.trust_bundle import TrustUnavailable
from fieldgate.v2 import broker_pb2, broker_pb2_grpc, common_pb2

CHANNEL_OPTIONS = [
    # A broker answer is bounded by the sum of the protocol's per-node caps; the
    # broker refuses any one node over its cap, so one node cannot sink the search.
    ("grpc.max_receive_message_length", MAX_BROKER_ANSWER_BYTES),
]


class SearchError(FieldgateError):
    """The broker refused or failed a search.

    Attributes:
        code: the gRPC status code.
        details: the broker's message.
    """

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


@dataclass(frozen=True)
class Warrant:
    """A criminal judicial warrant the requester presents."""

    id: str
    court: str
    subject_surname: str
    subject_given_name: str
    subject_dob: str
    covers: tuple[str, ...]
    expires: str
    record_kinds: tuple[str, ...] = ()

    def to_message(self) -> common_pb2.LegalAuthority:
        """The wire form."""
        return common_pb2.LegalAuthority(
            kind="criminal_judicial_warrant",
            id=self.id,
            court=self.court,
            subject_surname=self.subject_surname,
            subject_given_name=self.subject_given_name,
            subject_dob=self.subject_dob,
            covers=list(self.covers),
            record_kinds=list(self.record_kinds),
            expires=self.expires,
        )


@dataclass(frozen=True)
class Requester:
    """Who is searching and why."""

    subject: str
    agency: str
    agency_type: str
    purpose: str
    case_number: str = ""
    roles: tuple[str, ...] = ()
    warrants: tuple[Warrant, ...] = field(default=())

    def to_message(self) -> common_pb2.Requester:
        """The wire form."""
        return common_pb2.Requester(
            subject=self.subject,
            agency=self.agency,
            agency_type=self.agency_type,
            roles=list(self.roles),
            purpose=self.purpose,
            case_number=self.case_number,
            authority=[w.to_message() for w in self.warrants],
        )


def build_request(
    requester: Requester,
    *,
    surname: str = "",
    given_name: str = "",
    dob: str = "",
    identifiers: Sequence[tuple[str, str]] = (),
    max_hits: int = 0,
    sex: str = "",
    age_range: tuple[int, int] = (0, 0),
    deadline_seconds: float = 0.0,
    identity: Identity | None = None,
    warrant_tokens: Sequence[str] = (),
    audience: Sequence[str] = (),
    node_keys: Mapping[str, X25519PublicKey] | None = None,
    directory: Directory | None = None,
) -> broker_pb2.SearchRequest:
    """Build the broker's wire request.

    With an ``identity`` the search is signed and sealed: the claims come from
    its credential (``requester`` then only gives the purpose and case
    number), the proof names the ``audience`` (node ids of the agencies asked;
    no other node will answer it; the compact form over ``directory`` when
    shorter), and the query and ``warrant_tokens`` are sealed once under a
    content key wrapped to each audience node's key in ``node_keys`` (the trust
    bundle's ``nodes[].enc``). Nothing about the person is sent in the clear.

    ``sex`` and ``age_range`` (minimum, maximum age in years; 0 for not
    given) corroborate a match; they never make one.

    Raises:
        ValueError: a signed search with no audience, an audience node
            without an encryption key, or more warrants than the protocol allows.
    """
    if len(warrant_tokens) > MAX_AUTHORITIES:
        # Refused before sealing: every node would refuse the whole search.
        raise ValueError(
            f"--warrant-token (warrant_tokens) given {len(warrant_tokens)} times; a search "
            f"presents at most {MAX_AUTHORITIES} warrants (protocol v2)"
        )
    query = common_pb2.PersonQuery(
        surname=surname,
        given_name=given_name,
        dob=dob,
        identifiers=[common_pb2.Identifier(kind=k, value=v) for k, v in identifiers],
        max_hits=max_hits,
        sex=sex,
        age_min=age_range[0],
        age_max=age_range[1],
    )
    if identity is None:
        return broker_pb2.SearchRequest(
            requester=requester.to_message(), query=query, deadline_seconds=deadline_seconds
        )
    signed = sign_search(
        credential=identity.credential,
        holder_key=identity.key,
        query=query,
        purpose=requester.purpose,
        case_number=requester.case_number,
        audience=audience,
        node_keys=node_keys or {},
        warrants=warrant_tokens,
        directory=directory,
    )
    return broker_pb2.SearchRequest(signed=signed, deadline_seconds=deadline_seconds)


BROKER_MAX_DEADLINE_SECONDS = 10.0
"""The broker's default cap on a search's deadline (``max_deadline_seconds``)."""


def call_timeout(request: broker_pb2.SearchRequest) -> float:
    """How long the client waits for the broker: the search's deadline and a margin.

    The broker answers by the deadline with every agency's status, so the
    margin only covers the broker's own work and the network.
    """
    return (request.deadline_seconds or BROKER_MAX_DEADLINE_SECONDS) + 5.0


def sent_search(request: broker_pb2.SearchRequest, identity: Identity | None) -> SentSearch | None:
    """What a signed search's answers are checked against (None for a development search).

    Raises:
        SearchError: a signed search from an identity without an X25519 key.
    """
    if identity is None or not request.HasField("signed"):
        return None
    if identity.enc_key is None:
        raise SearchError(
            grpc.StatusCode.FAILED_PRECONDITION,
            "a signed search needs your X25519 key (answers are sealed to it)",
        )
    return SentSearch(
        request.signed.proof,
        unverified_nonce(request.signed.proof),
        identity.enc_key,
        request.deadline_seconds or BROKER_MAX_DEADLINE_SECONDS,
    )


def _addressed(result: SearchResult, addressing: Addressing) -> SearchResult:
    """``result`` with the agencies not asked, and those addressed but left out of the
    broker's answer shown as did not answer (never silently dropped)."""
    return replace(with_unanswered(result, addressing.audience), not_asked=addressing.not_asked)


def _with_not_asked(update: SearchUpdate, addressing: Addressing) -> SearchUpdate:
    """The stream's final update carries the agencies not asked and not relayed, as
    ``search`` does."""
    if isinstance(update, SearchFinished):
        return replace(update, result=_addressed(update.result, addressing))
    return update


def checked_result(
    response: broker_pb2.SearchResponse, answers: AnswerCheck | None, sent: SentSearch | None
) -> SearchResult:
    """The result; every answer to a signed search opened and verified."""
    if sent is None:
        return search_result(response)
    if answers is None:
        raise SearchError(
            grpc.StatusCode.FAILED_PRECONDITION, "a signed search needs the trust bundle"
        )
    return answers.result(response, sent)


def _sealing(answers: AnswerCheck | None, identity: Identity | None) -> dict[str, Any]:
    """The keys a signed search is sealed to and the directory its audience is
    encoded over (nothing for a development search): keyword arguments of
    :func:`build_request`.

    Raises:
        SearchError: a signed search without a usable trust bundle.
    """
    if identity is None:
        return {}
    if answers is None:
        raise SearchError(
            grpc.StatusCode.FAILED_PRECONDITION,
            "a signed search needs the trust bundle: its nodes' keys seal the query",
        )
    try:
        return {"node_keys": answers.node_keys(), "directory": answers.directory()}
    except TrustUnavailable as exc:
        raise SearchError(grpc.StatusCode.FAILED_PRECONDITION, str(exc)) from None


def _directory(answers: AnswerCheck | None) -> Directory | None:
    """The directory a credential's compact reach is evaluated over, if the bundle is usable
    (if not, sealing refuses the search with the bundle's own error)."""
    try:
        return answers.directory() if answers is not None else None
    except TrustUnavailable:
        return None


def _build(requester: Requester, **kwargs: Any) -> broker_pb2.SearchRequest:
    """:func:`build_request`, its refusals as :class:`SearchError` (nothing was sent).

    Raises:
        SearchError: INVALID_ARGUMENT, e.g. an audience node without an encryption key.
    """
    try:
        return build_request(requester, **kwargs)
    except ValueError as exc:
        raise SearchError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None


def _assembler(answers: AnswerCheck | None, sent: SentSearch | None) -> StreamAssembler:
    """A stream assembler that opens and verifies each agency's answer to a signed search."""
    if sent is None:
        return StreamAssembler()
    if answers is None:
        raise SearchError(
            grpc.StatusCode.FAILED_PRECONDITION, "a signed search needs the trust bundle"
        )
    checker = answers
    return StreamAssembler(lambda wire: checker.view(wire, sent))


class SearchClient:
    """A blocking client of one broker, over mutual TLS when ``tls`` is given.

    With ``answers`` (the trust bundle's node keys) every agency's answer to a
    signed search is verified; one that fails is shown as
    ``failed_verification``, its hits dropped.
    """

    def __init__(
        self, address: str, tls: TLSFiles | None = None, *, answers: AnswerCheck | None = None
    ) -> None:
        self._answers = answers
        if tls is None:
            self._channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
        else:
            self._channel = grpc.secure_channel(
                address, tls.channel_credentials(), options=CHANNEL_OPTIONS
            )
        self._stub = broker_pb2_grpc.BrokerServiceStub(self._channel)

    def node_ids(self) -> list[str]:
        """The node ids the broker routes to, in its configured order.

        Raises:
            SearchError: the broker could not be reached.
        """
        try:
            listed = self._stub.ListNodes(broker_pb2.ListNodesRequest(), timeout=10.0)
        except grpc.RpcError as exc:
            raise SearchError(exc.code(), exc.details() or "") from None
        return [n.node_id for n in listed.nodes]

    def _audience(self, identity: Identity | None, audience: Sequence[str] | None) -> Addressing:
        if identity is None:
            return Addressing([])
        listed = self.node_ids() if audience is None else None
        return address(identity.credential, listed, audience, _directory(self._answers))

    def search(
        self,
        requester: Requester,
        *,
        surname: str = "",
        given_name: str = "",
        dob: str = "",
        identifiers: Sequence[tuple[str, str]] = (),
        max_hits: int = 0,
        sex: str = "",
        age_range: tuple[int, int] = (0, 0),
        deadline_seconds: float = 0.0,
        identity: Identity | None = None,
        warrant_tokens: Sequence[str] = (),
        audience: Sequence[str] | None = None,
    ) -> SearchResult:
        """Search the federation for one person.

        Args:
            requester: who is searching and why.
            surname: surname as known.
            given_name: given name as known.
            dob: date of birth, YYYY-MM-DD.
            identifiers: exact identifiers as (kind, value).
            max_hits: most hits per agency (0: the nodes' default).
            sex: ``M``, ``F`` or ``X`` as you believe it: corroboration only.
            age_range: (minimum, maximum) age in years, 0 for not given:
                corroboration only, never a match on its own.
            deadline_seconds: how long to wait for agencies (0: the broker's default).
            identity: the investigator's credential and key; signs the search.
            warrant_tokens: signed warrant attestations to present (with ``identity``).
            audience: node ids a signed search is addressed to; None: every
                node the broker lists (``ListNodes``) within the credential's
                ``reach`` (the others are the result's ``not_asked``).

        Raises:
            SearchError: the broker refused the search or could not be reached.
            AudienceError: ``audience`` leaves the credential's reach, or no
                listed node is within it (nothing was sent).
        """
        addressing = self._audience(identity, audience)
        request = _build(
            requester,
            surname=surname,
            given_name=given_name,
            dob=dob,
            identifiers=identifiers,
            max_hits=max_hits,
            sex=sex,
            age_range=age_range,
            deadline_seconds=deadline_seconds,
            identity=identity,
            warrant_tokens=warrant_tokens,
            audience=addressing.audience,
            **_sealing(self._answers, identity),
        )
        sent = sent_search(request, identity)
        try:
            response = self._stub.Search(request, timeout=call_timeout(request))
        except grpc.RpcError as exc:
            raise SearchError(exc.code(), exc.details() or "") from None
        return _addressed(checked_result(response, self._answers, sent), addressing)

    def search_stream(
        self,
        requester: Requester,
        *,
        surname: str = "",
        given_name: str = "",
        dob: str = "",
        identifiers: Sequence[tuple[str, str]] = (),
        max_hits: int = 0,
        sex: str = "",
        age_range: tuple[int, int] = (0, 0),
        deadline_seconds: float = 0.0,
        identity: Identity | None = None,
        warrant_tokens: Sequence[str] = (),
        audience: Sequence[str] | None = None,
    ) -> Iterator[SearchUpdate]:
        """Search the federation, yielding each agency's part as soon as it ends.

        Takes the arguments of :meth:`search`. Yields a
        :class:`~fieldgate.client.stream.SearchStarted` naming every agency asked, one
        :class:`~fieldgate.client.stream.AgencyEnded` per agency in the order they end,
        then a :class:`~fieldgate.client.stream.SearchFinished` whose ``result`` is what
        :meth:`search` returns. Leaving the loop early (or Ctrl-C) cancels the
        search at the broker.

        Raises:
            SearchError: the broker refused the search, could not be reached,
                or broke the stream's order.
        """
        addressing = self._audience(identity, audience)
        request = _build(
            requester,
            surname=surname,
            given_name=given_name,
            dob=dob,
            identifiers=identifiers,
            max_hits=max_hits,
            sex=sex,
            age_range=age_range,
            deadline_seconds=deadline_seconds,
            identity=identity,
            warrant_tokens=warrant_tokens,
            audience=addressing.audience,
            **_sealing(self._answers, identity),
        )
        assembler = _assembler(self._answers, sent_search(request, identity))
        call = self._stub.SearchStream(
            broker_pb2.SearchStreamRequest(search=request), timeout=call_timeout(request)
        )
        try:
            for event in call:
                yield _with_not_asked(assembler.add(event), addressing)
            assembler.finish()
        except grpc.RpcError as exc:
            raise SearchError(exc.code(), exc.details() or "") from None
        except StreamProtocolError as exc:
            raise SearchError(exc.code, str(exc)) from None
        finally:
            # Ends the call at the broker if the caller stopped early; a no-op once done.
            call.cancel()  # type: ignore[no-untyped-call]  # untyped in grpc-stubs

    def close(self) -> None:
        """Close the connection."""
        self._channel.close()

    def __enter__(self) -> SearchClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncSearchClient:
    """An asyncio client of one broker; as :class:`SearchClient`."""

    def __init__(
        self, address: str, tls: TLSFiles | None = None, *, answers: AnswerCheck | None = None
    ) -> None:
        self._answers = answers
        if tls is None:
            self._channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        else:
            self._channel = grpc.aio.secure_channel(
                address, tls.channel_credentials(), options=CHANNEL_OPTIONS
            )
        self._stub = broker_pb2_grpc.BrokerServiceStub(self._channel)

    async def node_ids(self) -> list[str]:
        """As :meth:`SearchClient.node_ids`."""
        try:
            listed = await self._stub.ListNodes(broker_pb2.ListNodesRequest(), timeout=10.0)
        except grpc.aio.AioRpcError as exc:
            raise SearchError(exc.code(), exc.details() or "") from None
        return [n.node_id for n in listed.nodes]

    async def _audience(
        self, identity: Identity | None, audience: Sequence[str] | None
    ) -> Addressing:
        if identity is None:
            return Addressing([])
        listed = await self.node_ids() if audience is None else None
        return address(identity.credential, listed, audience, _directory(self._answers))

    async def search(
        self,
        requester: Requester,
        *,
        surname: str = "",
        given_name: str = "",
        dob: str = "",
        identifiers: Sequence[tuple[str, str]] = (),
        max_hits: int = 0,
        sex: str = "",
        age_range: tuple[int, int] = (0, 0),
        deadline_seconds: float = 0.0,
        identity: Identity | None = None,
        warrant_tokens: Sequence[str] = (),
        audience: Sequence[str] | None = None,
    ) -> SearchResult:
        """As :meth:`SearchClient.search`."""
        addressing = await self._audience(identity, audience)
        request = _build(
            requester,
            surname=surname,
            given_name=given_name,
            dob=dob,
            identifiers=identifiers,
            max_hits=max_hits,
            sex=sex,
            age_range=age_range,
            deadline_seconds=deadline_seconds,
            identity=identity,
            warrant_tokens=warrant_tokens,
            audience=addressing.audience,
            **_sealing(self._answers, identity),
        )
        sent = sent_search(request, identity)
        try:
            response = await self._stub.Search(request, timeout=call_timeout(request))
        except grpc.aio.AioRpcError as exc:
            raise SearchError(exc.code(), exc.details() or "") from None
        return _addressed(checked_result(response, self._answers, sent), addressing)

    async def search_stream(
        self,
        requester: Requester,
        *,
        surname: str = "",
        given_name: str = "",
        dob: str = "",
        identifiers: Sequence[tuple[str, str]] = (),
        max_hits: int = 0,
        sex: str = "",
        age_range: tuple[int, int] = (0, 0),
        deadline_seconds: float = 0.0,
        identity: Identity | None = None,
        warrant_tokens: Sequence[str] = (),
        audience: Sequence[str] | None = None,
    ) -> AsyncIterator[SearchUpdate]:
        """As :meth:`SearchClient.search_stream`; cancelling the task cancels the search."""
        addressing = await self._audience(identity, audience)
        request = _build(
            requester,
            surname=surname,
            given_name=given_name,
            dob=dob,
            identifiers=identifiers,
            max_hits=max_hits,
            sex=sex,
            age_range=age_range,
            deadline_seconds=deadline_seconds,
            identity=identity,
            warrant_tokens=warrant_tokens,
            audience=addressing.audience,
            **_sealing(self._answers, identity),
        )
        assembler = _assembler(self._answers, sent_search(request, identity))
        call = self._stub.SearchStream(
            broker_pb2.SearchStreamRequest(search=request), timeout=call_timeout(request)
        )
        try:
            async for event in call:
                yield _with_not_asked(assembler.add(event), addressing)
            assembler.finish()
        except grpc.aio.AioRpcError as exc:
            raise SearchError(exc.code(), exc.details() or "") from None
        except StreamProtocolError as exc:
            raise SearchError(exc.code, str(exc)) from None
        finally:
            call.cancel()

    async def close(self) -> None:
        """Close the connection."""
        await self._channel.close(None)
