"""Clean errors at the gRPC edge: no hostile input gets UNKNOWN with internal text.

Without this, grpc answers a handler's unexpected exception with ``UNKNOWN``
and the exception's text ("Exception calling application: 'ascii' codec
can't encode ...") and answers request bytes that do not parse with an
exception class name. Both tell an attacker about the implementation and tell
an honest caller nothing they can act on.

:class:`CleanErrors` is a server interceptor, installed first on the broker
and on every node, that:

- parses each request itself, and answers bytes that are not the method's
  request message with ``INVALID_ARGUMENT`` ("the request is not a valid
  <Message> message") before any handler runs;
- answers any exception a handler did not turn into a status with a generic
  ``INTERNAL`` carrying a request id, and logs the exception under that id
  for the operator.

Statuses a handler sets on purpose (``context.abort``) pass through unchanged.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import grpc
from google.protobuf.message import DecodeError

from fieldgate.core.logs import request_id_var

log = logging.getLogger("fieldgate.ops")

Behavior = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]
StreamBehavior = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], AsyncIterator[Any]]

__all__ = ["CleanErrors", "internal_error_detail"]


class _Malformed:
    """What a request that did not parse is replaced with (never a real message)."""

    def __init__(self, message_name: str) -> None:
        self.message_name = message_name


def internal_error_detail(request_id: str) -> str:
    """The whole of what a caller learns about an internal failure."""
    return f"internal error; quote request id {request_id} to the operator"


def _safe_deserializer(
    deserializer: Callable[[bytes], Any] | None,
) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None
    # FromString is a bound classmethod of the generated class: its name is the message's.
    owner = getattr(deserializer, "__self__", None)
    name = getattr(owner, "__name__", "request")

    def parse(data: bytes) -> Any:
        try:
            return deserializer(data)
        except (DecodeError, ValueError, TypeError, UnicodeDecodeError, RuntimeError):
            return _Malformed(name)

    return parse


async def _refuse_malformed(
    request: Any, context: grpc.aio.ServicerContext[Any, Any]
) -> _Malformed | None:
    if isinstance(request, _Malformed):
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"the request is not a valid {request.message_name} message",
        )
    return None


async def _internal(context: grpc.aio.ServicerContext[Any, Any], exc: BaseException) -> None:
    request_id = request_id_var.get() or uuid.uuid4().hex
    log.error("request %s failed inside the server", request_id, exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL, internal_error_detail(request_id))


class CleanErrors(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Turns unparseable requests into INVALID_ARGUMENT and stray exceptions into INTERNAL."""

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[Any, grpc.RpcMethodHandler[Any, Any]]] = {}

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        behavior = handler.unary_unary or handler.unary_stream
        if behavior is None:  # client streaming: Fieldgate serves none
            return handler
        cached = self._wrapped.get(handler_call_details.method)
        if cached is not None and cached[0] is behavior:
            return cached[1]
        parse = _safe_deserializer(handler.request_deserializer)
        wrapped: grpc.RpcMethodHandler[Any, Any]
        if handler.unary_unary is not None:
            wrapped = grpc.unary_unary_rpc_method_handler(
                _clean_unary(cast(Behavior, handler.unary_unary)),
                request_deserializer=parse,
                response_serializer=handler.response_serializer,
            )
        else:
            wrapped = grpc.unary_stream_rpc_method_handler(
                _clean_stream(cast(StreamBehavior, handler.unary_stream)),
                request_deserializer=parse,
                response_serializer=handler.response_serializer,
            )
        self._wrapped[handler_call_details.method] = (behavior, wrapped)
        return wrapped


def _clean_unary(behavior: Behavior) -> Behavior:
    async def clean(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await _refuse_malformed(request, context)
        try:
            return await behavior(request, context)
        except grpc.aio.AbortError:
            raise  # a status the handler chose
        except Exception as exc:
            await _internal(context, exc)

    return clean


def _clean_stream(behavior: StreamBehavior) -> StreamBehavior:
    async def clean(
        request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        await _refuse_malformed(request, context)
        try:
            async for item in behavior(request, context):
                yield item
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _internal(context, exc)

    return clean
