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
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

from .events import HEARTBEAT, Event
from .pipeline import Source, rais_events, with_heartbeats
from .providers import ProviderConfig, provider_stream, resolve_provider
from .request import ChatRequest, Limits, RequestError, parse_chat_request

__all__ = ["ChatEndpoint", "Handler", "Headers", "Reply"]

access_log = logging.getLogger("rais.access")

#: ``handler(messages)`` returns (or resolves to) any source the pipeline accepts.
Handler: TypeAlias = Callable[[list[dict[str, Any]]], "Source | Awaitable[Source]"]

#: How long to hold the response for a first event, so that an upstream that fails at
#: once (bad key, 429, unknown model) is answered with its real HTTP status.
FIRST_EVENT_WAIT = 0.5


class Headers(Protocol):
    """Any case-insensitive header mapping (Starlette, Django, Werkzeug, Quart all fit)."""

    def get(self, key: str, default: Any = None, /) -> Any: ...


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
    heartbeat: float | None = 15.0
    timeout: float | None = None
    max_retries: int | None = None
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
        """Start the stream; an upstream that fails before its first event gets an HTTP error."""
        failures: list[BaseException] = []
        events = with_heartbeats(self.events(request.messages, failures), self.heartbeat)
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
        return Reply(200, sse_headers(http_version), stream=self.sse(first, events))

    # -- pieces transports reuse -------------------------------------------------------

    def source(self, messages: list[dict[str, Any]]) -> Source | Awaitable[Source]:
        if self.handler is not None:
            return self.handler(messages)
        return provider_stream(messages, self.config)

    async def events(
        self, messages: list[dict[str, Any]], failures: list[BaseException] | None = None
    ) -> AsyncGenerator[Event, None]:
        """The RAIS events for ``messages`` from the handler or the provider."""
        try:
            source = self.source(messages)
            if inspect.isawaitable(source):
                source = await source
        except Exception as exc:  # a handler that fails before yielding still gets one error event
            source = _raise(exc)
        async for event in rais_events(source, secrets=(self.api_key,), failures=failures):
            yield event

    async def sse(
        self, first: asyncio.Future[Event], events: AsyncGenerator[Event, None]
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


async def _raise(exc: BaseException) -> AsyncIterator[str]:
    raise exc
    yield ""  # pragma: no cover - makes this an async generator


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
