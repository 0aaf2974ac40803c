"""The framework-agnostic chat endpoint that every adapter wraps.

An adapter reads the method, body and headers, calls :meth:`ChatEndpoint.handle`,
and returns the :class:`Reply` in its framework's response type. Every decision
(validation, status codes, headers, the source, framing, ids, logging) is made here.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import inspect
import logging
import os
import socket
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypedDict

from . import _telemetry
from . import _threads as threads
from ._bridge import new_stream_context, run_sync
from ._chat import Chat, OnFinish, Turn, access_log, log_value
from ._codecs import AI_SDK, CODECS, RAIS, ProtocolName, detect, protocol_codec
from ._pipeline import Source, rais_events
from ._providers import (
    ProviderConfig,
    check_config,
    preload_sdk,
    provider_stream,
    resolve_provider,
)
from ._reply import SEND_BUFFER, Reply, error_reply, json_reply, limit_send_buffer
from ._request import (
    ChatRequest,
    Headers,
    Limits,
    RequestError,
    chat_request,
    check_content_length,
    decode_body,
    demote_system,
    read_body,
    read_body_sync,
)
from ._resumable import (
    active_stream,
    chat_key,
    new_stream_id,
    owns_stream,
    parse_event_id,
    set_active,
    start_generation,
    tail,
)
from ._sse import FIRST_EVENT_WAIT, hold_first_event_in_task, sse_reply
from ._tools import (
    DEFAULT_MAX_OUTPUT,
    DEFAULT_MAX_STEPS,
    DEFAULT_TOOL_TIMEOUT,
    Tool,
    ToolLike,
    as_tools,
    tool_loop,
)
from .resume import StoreFull, StoreUnavailable, StreamStore, open_store

logger = logging.getLogger("rais")

__all__ = [
    "ChatEndpoint",
    "Configure",
    "EndpointOptions",
    "Handler",
    "ResponseOptions",
    "sse_reply",
]


#: ``handler(messages)`` or ``handler(chat)`` returns (or resolves to) any source the
#: pipeline accepts. A handler whose first parameter is named ``chat`` or annotated
#: :class:`~rais.Chat` gets the whole :class:`~rais.Chat`; any other gets the messages.
Handler: TypeAlias = Callable[[Any], "Source | Awaitable[Source]"]

#: ``configure(chat)`` returns per-request provider settings (``model``, ``system``,
#: ``temperature``, ``max_tokens``, any SDK option) or ``None``; it may raise
#: :class:`~rais.RequestError` to refuse the request (401, 422, 429, ...) before streaming.
Configure: TypeAlias = Callable[
    [Chat], "Mapping[str, Any] | Awaitable[Mapping[str, Any] | None] | None"
]

#: ``owner(chat)`` names who may resume a resumable stream (e.g. the user id).
Owner: TypeAlias = Callable[[Chat], "str | Awaitable[str | None] | None"]

#: Settings ``configure`` may return that are not SDK call options.
_CONFIG_FIELDS = frozenset(
    {"model", "api_key", "base_url", "system", "max_tokens", "timeout", "max_retries", "usage"}
)


class ResponseOptions(TypedDict, total=False):
    """The options of the response helpers (``rais_response``): all but ``handler``."""

    provider: str | None
    configure: Configure | None
    on_finish: OnFinish | None
    model: str | None
    api_key: str | None
    base_url: str | None
    system: str | None
    max_tokens: int
    usage: bool
    limits: Limits
    heartbeat: float | None
    send_timeout: float | None
    send_buffer: int | None
    timeout: float | None
    max_retries: int | None
    first_event_wait: float
    on_finish_timeout: float | None
    options: dict[str, Any]
    protocol: ProtocolName
    resume: StreamStore | str | bool | None
    owner: Owner | None
    resume_grace: float | None
    tools: Sequence[ToolLike]
    max_steps: int
    tool_timeout: float | None
    max_tool_output: int
    client_system: bool


class EndpointOptions(ResponseOptions, total=False):
    """The keyword options every adapter accepts, passed through to :class:`ChatEndpoint`."""

    handler: Handler | None


_ALLOW = "POST, OPTIONS"
_ALLOW_RESUME = "GET, OPTIONS"

#: Every method an adapter routes to the core, so the core answers each (405 JSON).
ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
#: Extension methods (WebDAV's, QUERY) routed too where the framework accepts any name, so
#: that they also get the core's JSON 405 rather than the framework's page.
EXTENSION_METHODS = (
    *("PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK"),
    *("SEARCH", "QUERY", "REPORT"),
)

#: What the core can answer, for OpenAPI documents (FastAPI, Litestar).
OPENAPI_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A RAIS v1 event stream (`data: {json}` events, ending with done or error).",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    204: {"description": "A reconnect with Last-Event-ID that cannot be resumed."},
    400: {"description": "The body is not JSON."},
    401: {"description": "Refused by the app (its configure hook)."},
    405: {"description": "Not POST (the Allow header lists what is)."},
    408: {"description": "The body did not arrive within the body deadline."},
    411: {"description": "A chunked body the WSGI server cannot read."},
    413: {"description": "The body or the conversation is too large."},
    415: {"description": "The body is not application/json."},
    422: {"description": "The body is not a valid chat request, or a value is not allowed."},
    429: {"description": "Rate limited (by the app or the model provider); see Retry-After."},
    502: {"description": "The model provider failed, or refused the server's key or model."},
    503: {"description": "The resumable stream store is unavailable; see Retry-After."},
}
_NO_CONTENT = [("Cache-Control", "no-cache")]


@dataclass
class ChatEndpoint:
    """One configured RAIS endpoint: a provider (or a ``handler``) plus limits and pacing."""

    provider: str | None = None
    handler: Handler | None = None
    #: Per-request settings and refusals: ``configure(chat) -> {"model": ..., ...}``.
    configure: Configure | None = None
    #: Called once per stream with its :class:`~rais.StreamResult`, whatever ended it.
    on_finish: OnFinish | None = None
    model: str | None = None
    api_key: str | None = None
    base_url: str | None = None
    system: str | None = None
    max_tokens: int = 1024
    #: Ask the provider for token usage (OpenAI ``stream_options``; off for servers that reject it).
    usage: bool = True
    limits: Limits = field(default_factory=Limits)
    heartbeat: float | None = field(default_factory=lambda: _env_float("RAIS_HEARTBEAT", 15.0))
    #: Seconds a client may stop reading before its stream is ended and upstream cancelled.
    send_timeout: float | None = field(
        default_factory=lambda: _env_float("RAIS_SEND_TIMEOUT", 30.0)
    )
    #: Bytes the kernel may buffer for a client's stream (``SO_SNDBUF``; Linux doubles it),
    #: where the server hands rais the socket: gunicorn and aiohttp. It bounds what a client
    #: that stops reading holds until the send timeout. ``None`` or 0: the kernel's default.
    send_buffer: int | None = field(
        default_factory=lambda: _env_int("RAIS_SEND_BUFFER", SEND_BUFFER) or None
    )
    timeout: float | None = None
    #: Seconds the response waits for the first event, so that an upstream refusal (its
    #: SDK's retries included) is an HTTP status rather than a 200 with an error event.
    first_event_wait: float = field(
        default_factory=lambda: _env_float("RAIS_FIRST_EVENT_WAIT", FIRST_EVENT_WAIT)
    )
    #: Seconds the terminal event waits for ``on_finish`` (so the next turn finds this one
    #: saved); a slower callback is logged and the stream ends anyway. ``None``: no wait.
    on_finish_timeout: float | None = field(
        default_factory=lambda: _env_float("RAIS_ON_FINISH_TIMEOUT", 5.0) or None
    )
    max_retries: int | None = field(default_factory=lambda: _env_int("RAIS_MAX_RETRIES"))
    options: dict[str, Any] = field(default_factory=dict)
    #: The chat UI's wire protocol: ``"rais"`` (RAIS v1, ``useAIChat``), ``"ai-sdk"`` (the
    #: Vercel AI SDK's ``useChat``), ``"ag-ui"`` (CopilotKit, ``@ag-ui/client``), or
    #: ``"auto"``: decided per request by its body.
    protocol: ProtocolName = "rais"
    #: Resumable streams: a store, ``True``/``"memory://"`` or a ``redis://`` URL.
    resume: StreamStore | str | bool | None = field(
        default_factory=lambda: os.environ.get("RAIS_RESUME_URL") or None,
        repr=False,  # a redis:// URL may carry a password
    )
    #: Who may resume a resumable stream: a reconnect from another owner gets 204.
    owner: Owner | None = None
    #: Stop generating a resumable answer nobody has read for this many seconds (off:
    #: generation runs to its end, paid for, so that a reconnect finds the whole answer).
    resume_grace: float | None = field(
        default_factory=lambda: _env_float("RAIS_RESUME_GRACE", 0.0) or None
    )
    #: Python functions the model may call (the built-in providers run the tool loop);
    #: ``configure`` may return ``tools`` to choose them per request.
    tools: Sequence[ToolLike] = ()
    #: Model calls per answer, at most, in the tool loop.
    max_steps: int = DEFAULT_MAX_STEPS
    #: Seconds one tool call may take (the model is told it timed out).
    tool_timeout: float | None = DEFAULT_TOOL_TIMEOUT
    #: Bytes of a tool's JSON output, at most (the model is told it was too large).
    max_tool_output: int = DEFAULT_MAX_OUTPUT
    #: Let a client's ``system`` messages through as system messages. Off: they reach the
    #: model as ``user`` messages, so the server's ``system`` is its only instruction.
    client_system: bool = False

    def __post_init__(self) -> None:
        self.codec = protocol_codec(self.protocol)  # an unknown protocol fails at start-up
        self.store = open_store(self.resume)
        if self.handler is None:
            self.provider = self.provider or "offline"
        if self.provider is not None:
            resolve_provider(self.provider)  # an unknown provider fails at start-up
            preload_sdk(self.provider)
        self._handler_takes_chat = self.handler is not None and takes_chat(self.handler)
        self._tools: tuple[Tool, ...] = as_tools(self.tools)  # a bad tool fails at start-up
        self.config = ProviderConfig(
            provider=self.provider or "handler",
            model=self.model,
            api_key=self.api_key,
            base_url=self.base_url,
            system=self.system,
            max_tokens=self.max_tokens,
            timeout=self.timeout,
            max_retries=self.max_retries,
            usage=self.usage,
            options=dict(self.options),
        )
        check_config(self.config)  # e.g. an unknown OpenAI api fails at start-up

    # -- the entry points adapters call ----------------------------------------------

    async def handle(
        self,
        method: str,
        body: bytes | AsyncIterable[bytes],
        headers: Headers,
        *,
        request: Any = None,
        http_version: str | None = "1.1",
        chat_id: str | None = None,
    ) -> Reply:
        """Answer one HTTP request. ``body`` may be the raw chunks: they are read here,
        bounded by the limit while reading. ``http_version=None`` means WSGI.

        ``chat_id`` is the path parameter of ``{path}/{chat_id}/stream``, where the same
        view answers the AI SDK's resume requests (:meth:`chat_resume_reply`)."""
        if chat_id is not None:
            return await self.chat_resume_reply(method, chat_id, headers, request, http_version)
        early = self._before_body(method, headers)
        if early is not None:
            return early
        if not isinstance(body, (bytes, bytearray)):
            try:
                body = await read_body(body, headers.get("content-length"), self.limits)
            except RequestError as exc:
                return error_reply(exc)
        return await self._answer(method, bytes(body), headers, request, http_version)

    def handle_sync(
        self,
        method: str,
        read: Callable[[int], bytes],
        headers: Headers,
        *,
        request: Any = None,
        environ: Mapping[str, Any] | None = None,
        chat_id: str | None = None,
    ) -> Reply:
        """:meth:`handle` for WSGI views: the body is read in the calling thread (bounded),
        the rest runs on the shared bridge loop. A sync ``configure`` runs in the calling
        thread, so it can use the framework's request context (Flask's ``g``, a login
        extension's ``current_user``). ``environ`` lets the core put a send timeout on
        the client socket (gunicorn exposes it) so a stalled client frees its thread."""
        if chat_id is not None:
            configured = False
            if method in ("GET", "HEAD"):
                try:
                    configured = (
                        self._configure_here(self._bare(headers, request, AI_SDK.name))
                        is not _NOT_HERE
                    )
                except RequestError as exc:
                    return error_reply(exc)
            return _bridged(
                self.chat_resume_reply(
                    method, chat_id, headers, request, None, configured=configured
                )
            )
        early = self._before_body(method, headers, environ=environ)
        if early is not None:
            return early
        try:
            body = read_body_sync(
                read,
                headers.get("content-length"),
                self.limits,
                interrupt=_reading_stopper(environ),
            )
        except RequestError as exc:
            return error_reply(exc)
        if environ is not None:
            _limit_socket_writes(environ, self.send_timeout, self.send_buffer)
        chat = self._parse(body, headers, request)
        if isinstance(chat, Reply):
            return chat
        if chat is None:
            bare = self._bare(headers, request)
            try:
                configured = self._configure_here(bare) is not _NOT_HERE
            except RequestError as exc:
                return error_reply(exc)
            last_event_id = str(headers.get("last-event-id"))
            return _bridged(
                self.resume_reply(last_event_id, bare, http_version=None, configured=configured)
            )
        try:
            overrides = self._configure_here(chat)
        except RequestError as exc:
            return error_reply(exc)
        if overrides is _NOT_HERE:
            return _bridged(self.stream_reply(chat, http_version=None))
        return _bridged(
            self.stream_reply(chat, http_version=None, overrides=overrides, configured=True)
        )

    def _configure_here(self, chat: Chat) -> Any:
        """Run a sync ``configure`` in this (WSGI) thread, where the framework's request
        context lives; :data:`_NOT_HERE` when it must run on the loop instead."""
        if self.configure is None or _is_async(self.configure) or not _no_loop_here():
            return _NOT_HERE
        if not chat.reconnect:
            chat.messages = self._client_messages(chat.messages)
        return _configure_result(self.configure, chat)

    def _client_messages(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return messages if self.client_system else demote_system(messages)

    def _before_body(
        self, method: str, headers: Headers, *, environ: Mapping[str, Any] | None = None
    ) -> Reply | None:
        """What is answered without reading the body: methods, reconnects, size, chunking."""
        if method == "OPTIONS":
            return Reply(204, [("Allow", _ALLOW)])
        if method != "POST":
            return json_reply(
                405,
                {"error": {"type": "method_not_allowed", "message": "Use POST with a JSON body."}},
                [("Allow", _ALLOW)],
            )
        if headers.get("last-event-id") is not None:
            return None  # a reconnect: its body is ignored, the id says it all
        if environ is not None and _unreadable_chunked(environ, headers):
            return json_reply(
                411,
                {
                    "error": {
                        "type": "length_required",
                        "message": "Send the body with a Content-Length (this server cannot "
                        "read chunked requests).",
                    }
                },
            )
        try:
            check_content_length(headers.get("content-length"), self.limits)
        except RequestError as exc:
            return error_reply(exc)
        return None

    async def _answer(
        self,
        method: str,
        body: bytes,
        headers: Headers,
        request: Any,
        http_version: str | None,
    ) -> Reply:
        chat = self._parse(body, headers, request)
        if isinstance(chat, Reply):
            return chat
        if chat is None:
            last_event_id = str(headers.get("last-event-id"))
            bare = self._bare(headers, request)
            return await self.resume_reply(last_event_id, bare, http_version=http_version)
        return await self.stream_reply(chat, http_version=http_version)

    def _parse(self, body: bytes, headers: Headers, request: Any) -> Chat | Reply | None:
        """The validated :class:`Chat`, a 4xx reply, or ``None`` for a reconnect."""
        if headers.get("last-event-id") is not None:
            return None
        try:
            data = decode_body(body, headers.get("content-type"), self.limits)
            codec = self.codec or detect(data)
            parsed = codec.request(data, self.limits)
        except RequestError as exc:
            return error_reply(exc)
        return Chat(
            parsed.messages, parsed.extra, request=request, headers=headers, protocol=codec.name
        )

    @staticmethod
    def _bare(headers: Headers, request: Any, protocol: str = "rais") -> Chat:
        """A reconnect's Chat: no messages (its body is ignored), for ``configure`` and
        ``owner``."""
        return Chat([], request=request, headers=headers, protocol=protocol, reconnect=True)

    async def _reader_owner(self, chat: Chat, configured: bool) -> str | None:
        """Who a reconnect reads as. It passes the same ``configure`` as a new chat first
        (unless it already has), before anything is replayed: a leaked stream id alone must
        not be enough."""
        if self.configure is not None and not configured:
            await _configure_async(self.configure, chat)
        return await self._owner_of(chat)

    async def stream_reply(
        self,
        chat: Chat | ChatRequest,
        *,
        http_version: str | None = "1.1",
        overrides: Mapping[str, Any] | None = None,
        configured: bool = False,
    ) -> Reply:
        """Configure, then start the event stream for a validated request."""
        if isinstance(chat, ChatRequest):
            chat = Chat(chat.messages, chat.extra)
        try:
            turn, source = await self.prepare(chat, overrides=overrides, configured=configured)
        except RequestError as exc:
            return error_reply(exc)
        if self.store is not None:
            return await self.resumable_reply(self.store, chat, turn, source, http_version)
        return await sse_reply(
            source,
            heartbeat=self.heartbeat,
            http_version=http_version,
            secrets=(self.api_key,),
            turn=turn,
            send_timeout=self.send_timeout,
            send_buffer=self.send_buffer,
            codec=CODECS[chat.protocol],
            first_event_wait=self.first_event_wait,
            on_finish_timeout=self.on_finish_timeout,
        )

    async def prepare(
        self,
        chat: Chat,
        *,
        kind: str = "stream",
        overrides: Mapping[str, Any] | None = None,
        configured: bool = False,
    ) -> tuple[Turn, Source]:
        """Run ``configure`` and pick the source; raises :class:`RequestError` to refuse."""
        config = self.config
        if not configured:
            chat.messages = self._client_messages(chat.messages)
        if self.configure is not None and not configured:
            overrides = await _configure_async(self.configure, chat)
        if overrides and "messages" in overrides:  # server-side history, say
            overrides = dict(overrides)
            chat.messages = self._messages_of(overrides.pop("messages"), "configure")
        tools, max_steps = self._tools, self.max_steps
        if overrides and ("tools" in overrides or "max_steps" in overrides):  # per request
            overrides = dict(overrides)
            tools = self._tools_of(overrides.pop("tools", tools))
            max_steps = int(overrides.pop("max_steps", max_steps))
        if overrides:
            config = with_overrides(config, overrides)
        chat.settings = settings_of(config)
        turn = Turn(
            chat,
            on_finish=self.on_finish,
            model=config.resolved_model or None,
            kind=kind,
        )
        if self.handler is None:
            return turn, self._model_stream(chat.messages, config, tools, max_steps)
        if self.provider is not None:

            def stream_with(extra: Mapping[str, Any]) -> AsyncIterator[Any]:
                messages, chosen_tools, steps = chat.messages, tools, max_steps
                extra = dict(extra)
                if "messages" in extra:
                    messages = self._messages_of(extra.pop("messages"), "chat.stream()")
                if "tools" in extra:
                    chosen_tools = self._tools_of(extra.pop("tools"))
                steps = int(extra.pop("max_steps", steps))
                chosen = with_overrides(config, extra)
                turn.model = chosen.resolved_model or None
                return self._model_stream(messages, chosen, chosen_tools, steps)

            chat._stream_with = stream_with
        argument = chat if self._handler_takes_chat else chat.messages
        return turn, _call_handler(self.handler, argument)

    def _model_stream(
        self,
        messages: list[dict[str, Any]],
        config: ProviderConfig,
        tools: tuple[Tool, ...],
        max_steps: int,
    ) -> AsyncIterator[Any]:
        """The provider's stream; with tools, the tool loop around it."""
        if not tools:
            return provider_stream(messages, config)
        return tool_loop(
            messages,
            config,
            tools,
            max_steps=max_steps,
            timeout=self.tool_timeout,
            max_output=self.max_tool_output,
        )

    def _tools_of(self, tools: Any) -> tuple[Tool, ...]:
        """Tools an app chose per request (an app's mistake there is a 500, not a 422)."""
        try:
            return as_tools(tools)
        except (TypeError, ValueError) as exc:
            logger.error("configure gave invalid tools: %s", exc)
            raise RequestError(
                500, "configure gave invalid tools.", kind="internal_error"
            ) from None

    def _messages_of(self, messages: Any, where: str) -> list[dict[str, Any]]:
        """Messages an app chose itself, checked as a request's are (an app's mistake there
        is a 500, not the client's 422)."""
        try:
            return chat_request({"messages": messages}, self.limits).messages
        except RequestError as exc:
            logger.error("%s gave invalid messages: %s", where, exc.message)
            raise RequestError(
                500, f"{where} gave invalid messages.", kind="internal_error"
            ) from None

    async def resumable_reply(
        self,
        store: StreamStore,
        chat: Chat,
        turn: Turn,
        source: Source,
        http_version: str | None = "1.1",
    ) -> Reply:
        """Generate into ``store`` in a detached task; this client reads it like a reconnect."""
        try:
            owner = await self._owner_of(chat)
        except RequestError as exc:  # configure admitted it: on_finish still runs
            _close_unstarted(source)
            turn.finish("refused", exc.message, exc.status)
            return error_reply(exc)
        stream_id = new_stream_id(owner)
        turn.stream_id = stream_id
        turn.kind = "resumable stream"
        try:
            await store.start(stream_id)  # before any upstream call: fail fast, spend nothing
            chat_id = chat.extra.get("id")
            if chat.protocol == AI_SDK.name and isinstance(chat_id, str) and chat_id:
                await set_active(store, chat_key(owner, chat_id), stream_id)
        except StoreUnavailable as exc:
            _close_unstarted(source)
            turn.finish("refused", "The stream store is unavailable.", 503)
            return _store_unavailable(exc)
        events = rais_events(source, secrets=(self.api_key,), turn=turn)
        # The generation outlives this request: it runs in tasks of its own, in one context.
        context = contextvars.copy_context()
        first, refused = await hold_first_event_in_task(
            events, turn, self.first_event_wait, context
        )
        if refused is not None:
            return refused
        start_generation(
            store,
            stream_id,
            first,
            events,
            turn,
            self.resume_grace,
            self.on_finish_timeout,
            context=context,
        )
        codec = CODECS[chat.protocol]
        stream = tail(store, stream_id, 0, self.heartbeat, encoder=codec.encoder(turn))
        return self._tail_reply(codec.headers(http_version), stream)

    def _tail_reply(self, headers: list[tuple[str, str]], stream: AsyncIterable[bytes]) -> Reply:
        """A resumable stream's tail, paced as the endpoint's own streams are."""
        return Reply(
            200,
            headers,
            stream=stream,
            send_timeout=self.send_timeout,
            send_buffer=self.send_buffer,
        )

    async def resume_reply(
        self,
        last_event_id: str,
        chat: Chat | None = None,
        *,
        http_version: str | None = "1.1",
        configured: bool = False,
    ) -> Reply:
        """Answer a reconnect: the events after ``last_event_id`` then the live tail, or 204.
        ``configure`` authorizes it first (``configured``: it already has)."""
        chat = chat if chat is not None else Chat([], reconnect=True)
        try:
            owner = await self._reader_owner(chat, configured)
        except RequestError as exc:
            return error_reply(exc)
        position = parse_event_id(last_event_id) if self.store is not None else None
        if self.store is None or position is None:
            # Resume off, or not an id we issued: 204 tells the client to stop retrying.
            return Reply(204, list(_NO_CONTENT))
        stream_id, after = position
        if not owns_stream(stream_id, owner):
            access_log.info("stream resume refused: another owner")
            return Reply(204, list(_NO_CONTENT))
        try:
            batch = await self.store.read(stream_id, after, 0)
        except StoreUnavailable as exc:
            return _store_unavailable(exc)
        if batch is None:  # unknown, expired, already complete, or trimmed: cannot resume
            return Reply(204, list(_NO_CONTENT))
        access_log.info("stream resumed after=%d", after)
        stream = _telemetry.reading(
            tail(self.store, stream_id, after, self.heartbeat, batch), stream_id, after, "rais"
        )
        return self._tail_reply(RAIS.headers(http_version), stream)

    async def chat_resume_reply(
        self,
        method: str,
        chat_id: str,
        headers: Headers,
        request: Any = None,
        http_version: str | None = "1.1",
        *,
        configured: bool = False,
    ) -> Reply:
        """The AI SDK's resume, ``GET {api}/{chat_id}/stream``: the chat's reply in progress
        replayed from its ``start`` then followed live, or 204 when there is none (resume
        off, no such chat for this owner, or its reply has ended)."""
        if method == "OPTIONS":
            return Reply(204, [("Allow", _ALLOW_RESUME)])
        if method not in ("GET", "HEAD"):
            return json_reply(
                405,
                {"error": {"type": "method_not_allowed", "message": "Resume with GET."}},
                [("Allow", _ALLOW_RESUME)],
            )
        store = self.store
        if store is None or self.codec not in (None, AI_SDK):
            return Reply(204, list(_NO_CONTENT))
        chat = self._bare(headers, request, AI_SDK.name)
        try:
            owner = await self._reader_owner(chat, configured)
        except RequestError as exc:
            return error_reply(exc)
        try:
            stream_id = await active_stream(store, chat_key(owner, chat_id))
            if stream_id is None or not owns_stream(stream_id, owner):
                return Reply(204, list(_NO_CONTENT))
            batch = await store.read(stream_id, 0, 0)
        except StoreUnavailable as exc:
            return _store_unavailable(exc)
        if batch is None or (batch and batch[-1].terminal):  # gone, or already ended
            return Reply(204, list(_NO_CONTENT))
        access_log.info("stream resumed chat=%s", log_value(chat_id, 64))
        turn = Turn(chat)
        turn.stream_id = stream_id  # the same message id as the reply's first reader saw
        stream = _telemetry.reading(
            tail(store, stream_id, 0, self.heartbeat, batch, encoder=AI_SDK.encoder(turn)),
            stream_id,
            0,
            AI_SDK.name,
        )
        return self._tail_reply(AI_SDK.headers(http_version), stream)

    async def _owner_of(self, chat: Chat | None) -> str | None:
        """``owner(chat)``; one that raises is the app's 500, as a JSON error."""
        if self.owner is None or chat is None:
            return None
        with _callback_failures("owner", "The request could not be authorized."):
            if _is_async(self.owner):
                owner = await self.owner(chat)  # type: ignore[misc]
            else:
                owner = await threads.run("callback", self.owner, chat)
                if inspect.isawaitable(owner):
                    owner = await owner
        return None if owner is None else str(owner)


def resume_path(path: str, param: str) -> str:
    """The AI SDK's resume route beside a chat route: ``{path}/{chat_id}/stream``, in a
    framework's own syntax for the path parameter (``{chat_id}``, ``<chat_id>``...)."""
    return path.rstrip("/") + "/" + param + "/stream"


def endpoint_for(handler: Handler | Source, options: Mapping[str, Any]) -> ChatEndpoint:
    """The endpoint behind a response helper: ``handler`` is a handler, or a ready source
    (a generator already built from the messages) that is streamed as it is."""
    if callable(handler) and not isinstance(handler, (AsyncIterable, Iterable)):
        return ChatEndpoint(handler=handler, **options)
    source = handler
    return ChatEndpoint(handler=lambda _messages: source, **options)


def _is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
    )


def _no_loop_here() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return True
    return False


#: What :meth:`ChatEndpoint._configure_here` returns when ``configure`` must run elsewhere.
_NOT_HERE: Any = object()


@contextlib.contextmanager
def _callback_failures(name: str, message: str) -> Iterator[None]:
    """An app callback may refuse with a :class:`RequestError`; anything else it raises
    is a 500 JSON error (logged), never the framework's own error page."""
    try:
        yield
    except RequestError:
        raise
    except Exception:
        logger.exception("%s raised", name)
        raise RequestError(500, message, kind="internal_error") from None


def _configure_failures() -> contextlib.AbstractContextManager[None]:
    return _callback_failures("configure", "The request could not be configured.")


def _configure_result(configure: Configure, chat: Chat) -> Mapping[str, Any] | None:
    """Call a sync ``configure`` in this thread."""
    with _configure_failures():
        result = configure(chat)
    if inspect.isawaitable(result):  # a sync function that returned a coroutine
        raise RequestError(500, "configure returned an awaitable here.", kind="internal_error")
    return result


async def _configure_async(configure: Configure, chat: Chat) -> Mapping[str, Any] | None:
    """Await an async ``configure``; a sync one runs in a worker thread, never blocking the
    event loop (and so it may use a sync ORM, e.g. Django's, from an async server)."""
    with _configure_failures():
        if _is_async(configure):
            return await configure(chat)  # type: ignore[no-any-return, misc]
        result = await threads.run("callback", configure, chat)
        if inspect.isawaitable(result):
            result = await result
        return result  # type: ignore[no-any-return]


def takes_chat(handler: Callable[..., Any]) -> bool:
    """Whether ``handler`` asks for the :class:`~rais.Chat` (first parameter named ``chat``
    or annotated ``Chat``) rather than the plain messages the docs' handlers take."""
    try:
        parameters = list(inspect.signature(handler).parameters.values())
    except (TypeError, ValueError):
        return False
    if not parameters:
        return False
    first = parameters[0]
    annotation = first.annotation
    if annotation is Chat:
        return True
    if isinstance(annotation, str) and annotation.rpartition(".")[2] == "Chat":
        return True
    return first.name == "chat"


def with_overrides(config: ProviderConfig, overrides: Mapping[str, Any]) -> ProviderConfig:
    """The endpoint's settings with a request's overrides; unknown keys are SDK options."""
    fields = {key: value for key, value in overrides.items() if key in _CONFIG_FIELDS}
    options = {key: value for key, value in overrides.items() if key not in _CONFIG_FIELDS}
    if "options" in options:
        options.update(options.pop("options") or {})
    if options:
        fields["options"] = {**config.options, **options}
    return dataclasses.replace(config, **fields) if fields else config


def settings_of(config: ProviderConfig) -> dict[str, Any]:
    """What a handler may read back: the provider settings this request will use."""
    return {
        "provider": config.provider,
        "model": config.resolved_model or None,
        "system": config.system,
        "max_tokens": config.max_tokens,
        **config.options,
    }


def _unreadable_chunked(environ: Mapping[str, Any], headers: Headers) -> bool:
    """A chunked body the WSGI server does not de-chunk for us (Django reads none of it)."""
    if headers.get("content-length"):
        return False
    encoding = str(headers.get("transfer-encoding") or "").lower()
    return "chunked" in encoding and not environ.get("wsgi.input_terminated")


def _bridged(reply: Coroutine[Any, Any, Reply]) -> Reply:
    """A WSGI view's reply, made on the bridge loop in a context its stream then runs in
    too (:func:`~rais._bridge.run_sync`)."""
    context = new_stream_context()
    made = run_sync(reply, context=context)
    made.context = context
    return made


def _reading_stopper(environ: Mapping[str, Any] | None) -> Callable[[], None] | None:
    """How to wake a WSGI thread blocked reading a body past its deadline: shut the
    socket's reading side (gunicorn hands us its socket; the answer can still be sent)."""
    sock = None if environ is None else environ.get("gunicorn.socket")
    if sock is None:
        return None

    def stop() -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RD)

    return stop


def _limit_socket_writes(
    environ: Mapping[str, Any], timeout: float | None, send_buffer: int | None
) -> None:
    """A stalled client must not pin a WSGI thread for ever, nor hold megabytes of its
    answer: gunicorn hands us its socket."""
    sock = environ.get("gunicorn.socket")
    if timeout and sock is not None:
        with contextlib.suppress(Exception):
            sock.settimeout(timeout)
    limit_send_buffer(sock, send_buffer)


def _store_unavailable(exc: StoreUnavailable) -> Reply:
    if isinstance(exc, StoreFull):
        kind, message, retry = "store_full", str(exc), "5"
    else:
        kind, retry = "store_unavailable", "1"
        message = "Resumable streams are unavailable right now: the stream store cannot be reached."
    return json_reply(503, {"error": {"type": kind, "message": message}}, [("Retry-After", retry)])


def _close_unstarted(source: Source) -> None:
    """A source that will never be read: a handler not yet called (a coroutine) is closed
    so that it is not reported as never awaited."""
    if inspect.iscoroutine(source):
        source.close()


async def _call_handler(handler: Handler, argument: Any) -> Source:
    """Call the handler inside the stream, so even its first failure is an ``error`` event."""
    source = handler(argument)
    if inspect.isawaitable(source):
        source = await source
    return source


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _env_int(name: str, default: int | None = None) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else default
