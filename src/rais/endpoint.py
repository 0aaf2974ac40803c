"""The framework-agnostic chat endpoint that every adapter wraps.

An adapter reads the method, body and headers, calls :meth:`ChatEndpoint.handle`,
and returns the :class:`Reply` in its framework's response type. Every decision
(validation, status codes, headers, the source, framing, ids, logging) is made here.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias, TypedDict

from .events import HEARTBEAT, Event
from .pipeline import Source, rais_events, with_heartbeats
from .providers import ProviderConfig, provider_stream, resolve_provider
from .request import ChatRequest, Limits, RequestError, parse_chat_request

__all__ = ["ChatEndpoint", "EndpointOptions", "Handler", "Headers", "Reply", "sse_reply"]

access_log = logging.getLogger("rais.access")

#: ``handler(messages)`` returns (or resolves to) any source the pipeline accepts.
Handler: TypeAlias = Callable[[list[dict[str, Any]]], "Source | Awaitable[Source]"]

#: How long to hold the response for a first event, so that an upstream that fails at
#: once (bad key, 429, unknown model) is answered with its real HTTP status.
FIRST_EVENT_WAIT = 0.5


class EndpointOptions(TypedDict, total=False):
    """The keyword options every adapter accepts, passed through to :class:`ChatEndpoint`."""

    provider: str | None
    handler: Handler | None
    model: str | None
    api_key: str | None
    base_url: str | None
    system: str | None
    max_tokens: int
    limits: Limits
    heartbeat: float | None
    timeout: float | None
    max_retries: int | None
    options: dict[str, Any]


class Headers(Protocol):
    """Any case-insensitive header mapping (Starlette, Django, Werkzeug, Quart all fit)."""

    def get(self, key: str, /) -> Any: ...


@dataclass
class Reply:
    """What to answer: a JSON error (``body``) or an event stream (``stream``)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None

    @property
    def media_type(self) -> str:
        return dict(self.headers).get("Content-Type", "application/json")


def json_reply(status: int, data: dict[str, Any], headers: Iterable[tuple[str, str]] = ()) -> Reply:
    body = json.dumps(data, separators=(",", ":")).encode()
    return Reply(status, [("Content-Type", "application/json"), *headers], body)


@dataclass
class ChatEndpoint:
    """One configured RAIS endpoint: a provider (or a ``handler``) plus limits and pacing."""

    provider: str | None = None
    handler: Handler | None = None
    model: str | None = None
    api_key: str | None = None
    base_url: str | None = None
    system: str | None = None
    max_tokens: int = 1024
    limits: Limits = field(default_factory=Limits)
    heartbeat: float | None = field(default_factory=lambda: _env_float("RAIS_HEARTBEAT", 15.0))
    timeout: float | None = None
    max_retries: int | None = field(default_factory=lambda: _env_int("RAIS_MAX_RETRIES"))
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.handler is None:
            self.provider = self.provider or "offline"
            resolve_provider(
                self.provider
            )  # an unknown provider fails at start-up, not per request
        elif self.provider is not None:
            raise ValueError("pass either provider= or handler=, not both")
        self.config = ProviderConfig(
            provider=self.provider or "handler",
            model=self.model,
            api_key=self.api_key,
            base_url=self.base_url,
            system=self.system,
            max_tokens=self.max_tokens,
            timeout=self.timeout,
            max_retries=self.max_retries,
            options=dict(self.options),
        )

    # -- the one entry point adapters call -------------------------------------------

    async def handle(
        self, method: str, body: bytes, headers: Headers, *, http_version: str | None = "1.1"
    ) -> Reply:
        """Answer one HTTP request. ``http_version=None`` means WSGI (no hop-by-hop headers)."""
        if method == "OPTIONS":
            return Reply(204, [("Allow", "POST, OPTIONS")])
        if method != "POST":
            return json_reply(
                405,
                {"error": {"type": "method_not_allowed", "message": "Use POST with a JSON body."}},
                [("Allow", "POST, OPTIONS")],
            )
        if headers.get("last-event-id") is not None:
            # Resuming is not enabled: the spec's answer is 204 so the client stops retrying.
            return Reply(204, [("Cache-Control", "no-cache")])
        try:
            request = parse_chat_request(body, headers.get("content-type"), self.limits)
        except RequestError as exc:
            return json_reply(exc.status, exc.body())
        return await self.stream_reply(request, http_version=http_version)

    async def stream_reply(
        self, request: ChatRequest, *, http_version: str | None = "1.1"
    ) -> Reply:
        """Start the event stream for a validated request."""
        return await sse_reply(
            self.source(request.messages),
            heartbeat=self.heartbeat,
            http_version=http_version,
            secrets=(self.api_key,),
        )

    def source(self, messages: list[dict[str, Any]]) -> Source:
        """The token source for ``messages``: the handler's, or the provider's."""
        if self.handler is not None:
            return _call_handler(self.handler, messages)
        return provider_stream(messages, self.config)


async def _call_handler(handler: Handler, messages: list[dict[str, Any]]) -> Source:
    """Call the handler inside the stream, so even its first failure is an ``error`` event."""
    source = handler(messages)
    if inspect.isawaitable(source):
        source = await source
    return source


async def sse_reply(
    source: Source,
    *,
    heartbeat: float | None = None,
    http_version: str | None = "1.1",
    secrets: Iterable[str | None] = (),
) -> Reply:
    """Start streaming ``source``; a source that fails before its first event gets an HTTP error.

    The reply is held for at most :data:`FIRST_EVENT_WAIT` so that an upstream that
    fails at once (bad key, 429, unknown model) is answered with its real status and
    ``Retry-After``; later failures are ``error`` events.
    """
    failures: list[BaseException] = []
    events = with_heartbeats(rais_events(source, secrets=secrets, failures=failures), heartbeat)
    first = asyncio.ensure_future(events.__anext__())
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.shield(first), FIRST_EVENT_WAIT)
    if first.done() and not first.cancelled() and first.exception() is None:
        event = first.result()
        status = getattr(failures[0], "status", None) if failures else None
        if event.type == "error" and isinstance(status, int) and 400 <= status < 600:
            await events.aclose()
            extra = []
            retry = getattr(failures[0], "retry_after", None)
            if retry:
                extra.append(("Retry-After", str(retry)))
            message = json.loads(event.data)["error"]
            return json_reply(
                status, {"error": {"type": "upstream_error", "message": message}}, extra
            )
    return Reply(200, sse_headers(http_version), stream=_sse(first, events))


async def _sse(
    first: asyncio.Future[Event], events: AsyncGenerator[Event, None]
) -> AsyncIterator[bytes]:
    """Frame events as SSE with ``id:`` fields, and log one line per stream."""
    started = time.perf_counter()
    first_token: float | None = None
    tokens = 0
    outcome = "disconnected"
    number = 0
    try:
        event = await first
        while True:
            if event is HEARTBEAT:
                yield b": ping\n\n"
            else:
                number += 1
                if event.type == "text":
                    tokens += 1
                    if first_token is None:
                        first_token = time.perf_counter() - started
                yield f"id: {number}\ndata: {event.data}\n\n".encode()
                if event.terminal:
                    outcome = event.type
                    return
            event = await events.__anext__()
    except StopAsyncIteration:  # pragma: no cover - the pipeline always ends with a terminal
        outcome = "ended"
    finally:
        if not first.done():  # disconnected before the first event: stop that read first
            first.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait([first])
        with contextlib.suppress(BaseException):
            await events.aclose()
        access_log.info(
            "stream %s tokens=%d ttft=%s duration=%.3fs",
            outcome,
            tokens,
            "-" if first_token is None else f"{first_token:.3f}s",
            time.perf_counter() - started,
        )


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


def sse_headers(http_version: str | None) -> list[tuple[str, str]]:
    """SSE response headers; ``Connection`` is hop-by-hop, so only on HTTP/1.1 over ASGI."""
    headers = [
        ("Content-Type", "text/event-stream"),
        ("Cache-Control", "no-cache"),
        ("X-Accel-Buffering", "no"),
    ]
    if http_version == "1.1":
        headers.append(("Connection", "keep-alive"))
    return headers
