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
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias, TypedDict

from .events import HEARTBEAT, Event, sse_frame
from .pipeline import EventFeed, Source, access_log, log_stream, rais_events, with_heartbeats
from .providers import ProviderConfig, preload_sdk, provider_stream, resolve_provider
from .request import ChatRequest, Limits, RequestError, parse_chat_request
from .resume import (
    StoreUnavailable,
    StreamStore,
    new_stream_id,
    open_store,
    parse_event_id,
    start_generation,
    tail,
)

__all__ = ["ChatEndpoint", "EndpointOptions", "Handler", "Headers", "Reply", "sse_reply"]


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
    resume: StreamStore | str | bool | None


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
    #: Resumable streams: a store, ``True``/``"memory://"`` or a ``redis://`` URL.
    resume: StreamStore | str | bool | None = field(
        default_factory=lambda: os.environ.get("RAIS_RESUME_URL") or None,
        repr=False,  # a redis:// URL may carry a password
    )

    def __post_init__(self) -> None:
        self.store = open_store(self.resume)
        if self.handler is None:
            self.provider = self.provider or "offline"
            resolve_provider(self.provider)  # an unknown provider fails at start-up
            preload_sdk(self.provider)
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
        last_event_id = headers.get("last-event-id")
        if last_event_id is not None:
            # A reconnect: its body (often the same chat) is ignored, the id says it all.
            return await self.resume_reply(str(last_event_id), http_version=http_version)
        try:
            request = parse_chat_request(body, headers.get("content-type"), self.limits)
        except RequestError as exc:
            return json_reply(exc.status, exc.body())
        return await self.stream_reply(request, http_version=http_version)

    async def stream_reply(
        self, request: ChatRequest, *, http_version: str | None = "1.1"
    ) -> Reply:
        """Start the event stream for a validated request."""
        if self.store is not None:
            return await self.resumable_reply(self.store, request, http_version=http_version)
        return await sse_reply(
            self.source(request.messages),
            heartbeat=self.heartbeat,
            http_version=http_version,
            secrets=(self.api_key,),
        )

    async def resumable_reply(
        self, store: StreamStore, request: ChatRequest, *, http_version: str | None = "1.1"
    ) -> Reply:
        """Generate into ``store`` in a detached task; this client reads it like a reconnect."""
        started = time.perf_counter()
        stream_id = new_stream_id()
        try:
            await store.start(stream_id)  # before any upstream call: fail fast, spend nothing
        except StoreUnavailable:
            return _store_unavailable()
        failures: list[BaseException] = []
        events = rais_events(
            self.source(request.messages), secrets=(self.api_key,), failures=failures
        )
        first, refused = await _hold_for_first_event(events, failures, started)
        if refused is not None:
            return refused
        start_generation(store, stream_id, first, events, started)
        stream = tail(store, stream_id, 0, self.heartbeat)
        return Reply(200, sse_headers(http_version), stream=stream)

    async def resume_reply(self, last_event_id: str, *, http_version: str | None = "1.1") -> Reply:
        """Answer a reconnect: the events after ``last_event_id`` then the live tail, or 204."""
        position = parse_event_id(last_event_id) if self.store is not None else None
        if self.store is None or position is None:
            # Resume off, or not an id we issued: 204 tells the client to stop retrying.
            return Reply(204, [("Cache-Control", "no-cache")])
        stream_id, after = position
        try:
            batch = await self.store.read(stream_id, after, 0)
        except StoreUnavailable:
            return _store_unavailable()
        if batch is None:  # unknown, expired, already complete, or trimmed: cannot resume
            return Reply(204, [("Cache-Control", "no-cache")])
        access_log.info("stream resumed after=%d", after)
        stream = tail(self.store, stream_id, after, self.heartbeat, batch)
        return Reply(200, sse_headers(http_version), stream=stream)

    def source(self, messages: list[dict[str, Any]]) -> Source:
        """The token source for ``messages``: the handler's, or the provider's."""
        if self.handler is not None:
            return _call_handler(self.handler, messages)
        return provider_stream(messages, self.config)


def _store_unavailable() -> Reply:
    message = "Resumable streams are unavailable right now: the stream store cannot be reached."
    return json_reply(
        503, {"error": {"type": "store_unavailable", "message": message}}, [("Retry-After", "1")]
    )


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
    started = time.perf_counter()  # time to first token counts from the request
    failures: list[BaseException] = []
    feed = EventFeed()
    events = with_heartbeats(
        rais_events(source, secrets=secrets, failures=failures), heartbeat, feed=feed
    )
    first, refused = await _hold_for_first_event(events, failures, started)
    if refused is not None:
        return refused
    return Reply(200, sse_headers(http_version), stream=_sse(first, events, started, feed.ready))


async def _hold_for_first_event(
    events: AsyncGenerator[Event, None], failures: list[BaseException], started: float
) -> tuple[asyncio.Future[Event], Reply | None]:
    """Wait up to :data:`FIRST_EVENT_WAIT` for the first event; an upstream that failed
    at once with an HTTP status is refused with that status (and ``events`` closed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FIRST_EVENT_WAIT
    first = asyncio.ensure_future(events.__anext__())
    try:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(first), deadline - loop.time())
            # A heartbeat while nothing is sent yet means nothing: keep waiting for a real one.
            if not first.done() or first.cancelled() or first.exception() is not None:
                break
            if first.result() is not HEARTBEAT or loop.time() >= deadline:
                break
            first = asyncio.ensure_future(events.__anext__())
    except BaseException:  # the request itself was cancelled (client gone): stop upstream now
        first.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait([first])
            await events.aclose()
        raise
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
            access_log.info(
                "stream refused status=%d tokens=0 ttft=- duration=%.3fs",
                status,
                time.perf_counter() - started,
            )
            return first, json_reply(
                status, {"error": {"type": "upstream_error", "message": message}}, extra
            )
    return first, None


async def _sse(
    first: asyncio.Future[Event],
    events: AsyncGenerator[Event, None],
    started: float,
    ready: Callable[[], list[Event]] = list,
) -> AsyncIterator[bytes]:
    """Frame events as SSE with ``id:`` fields, and log one line per stream.

    Events that are ``ready()`` (already produced) go out with the one awaited, in one
    chunk: one write per burst rather than per token, and the same bytes on the wire.
    """
    first_token: float | None = None
    tokens = 0
    outcome = "disconnected"
    number = 0
    pending = [first]  # dropped once done: an idle stream need not keep the task alive
    del first
    try:
        batch = [await pending[0]]
        pending.clear()
        while True:
            frames: list[bytes] = []
            for event in (*batch, *ready()):
                if event is HEARTBEAT:
                    frames.append(b": ping\n\n")
                    continue
                number += 1
                if event.type == "text":
                    tokens += 1
                    if first_token is None:
                        first_token = time.perf_counter() - started
                frames.append(sse_frame(event, str(number)))  # escapes lone surrogates
                if event.terminal:
                    outcome = event.type
                    break
            yield frames[0] if len(frames) == 1 else b"".join(frames)
            if outcome != "disconnected":
                return
            batch = [await events.__anext__()]
    except StopAsyncIteration:  # pragma: no cover - the pipeline always ends with a terminal
        outcome = "ended"
    finally:
        if pending and not pending[0].done():  # disconnected before the first event
            pending[0].cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait(pending)
        with contextlib.suppress(BaseException):
            await events.aclose()
        log_stream(outcome, tokens, first_token, started)


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
