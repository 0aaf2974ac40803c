"""A Python client for any RAIS v1 endpoint: async and sync, over SSE or WebSocket.

It also speaks the other chat-UI protocols rais serves, over SSE: ``protocol="ai-sdk"``
(the Vercel AI SDK's UI message stream, as ``useChat`` posts it) and ``protocol="ag-ui"``
(AG-UI's ``RunAgentInput`` and events). The same messages make each protocol's request,
and each stream is read back into the same RAIS events: ``text``, then ``done`` (with
``usage`` when the stream reported it) or ``error``.

``pip install 'rais[client]'`` (httpx, and websockets for the WebSocket transport)::

    async with AsyncRaisClient("http://127.0.0.1:8000/api/chat") as client:
        async for chunk in client.text("Tell me a story"):
            print(chunk, end="")

    with RaisClient("http://127.0.0.1:8000/api/chat") as client:
        answer = client.complete([{"role": "user", "content": "Hi"}])

What it does for you, as the protocol asks of a client:

- reads the stream the way the browser hooks do (``\\n\\n`` blocks, ``data: `` lines,
  ``:`` comments ignored, unknown event types passed through);
- a dropped connection is retried with ``Last-Event-ID`` set to the last id
  received; events the server sends again are skipped, and a ``204`` means the
  server cannot resume (:class:`ResumeUnavailable`);
- ``abort()`` (or leaving the ``with`` block early) closes the connection, which
  is how a server learns to stop the upstream call;
- ``timeout`` bounds how long the server may stay silent (heartbeats count) and
  ``total_timeout`` how long one answer may take (:class:`RaisTimeout`).

A chunk that breaks its protocol (not JSON, an unknown type, text for a part that is
not open) raises :class:`RaisClientError`. Resuming is RAIS v1's: the AI SDK's and
AG-UI's streams carry no ids, so a dropped connection raises :class:`ConnectionLost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from ._events import TERMINAL_TYPES as TERMINAL
from ._sse_decode import CHUNK_READERS, ChunkError, ChunkReader, SSEBlockDecoder

if TYPE_CHECKING:
    import httpx

    from ._chat import Usage

#: The wire protocols the client speaks: ``protocol=`` on the clients.
Protocol = Literal["rais", "ai-sdk", "ag-ui"]
PROTOCOLS: tuple[str, ...] = ("rais", "ai-sdk", "ag-ui")

__all__ = [
    "PROTOCOLS",
    "AsyncChatStream",
    "AsyncRaisClient",
    "ChatStream",
    "ConnectionLost",
    "Protocol",
    "RaisClient",
    "RaisClientError",
    "RaisHTTPError",
    "RaisStreamError",
    "RaisTimeout",
    "ResumeUnavailable",
    "SSEDecoder",
    "request_body",
    "websocket_url",
]


# -- errors -----------------------------------------------------------------------------


class RaisClientError(Exception):
    """Base class of every error this client raises."""


class RaisHTTPError(RaisClientError):
    """The server refused the request before streaming (a 4xx/5xx, usually with JSON)."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body
        message = body.decode(errors="replace")[:300]
        with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
            error = json.loads(body)["error"]
            message = error["message"] if isinstance(error, dict) else str(error)
        self.message = message
        super().__init__(f"HTTP {status}: {message}")


class RaisStreamError(RaisClientError):
    """The stream ended with an ``error`` event (raised by ``text()`` and ``complete()``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConnectionLost(RaisClientError):
    """The connection dropped before the terminal event and could not be resumed."""

    def __init__(self, message: str, last_event_id: str | None) -> None:
        super().__init__(message)
        self.last_event_id = last_event_id


class ResumeUnavailable(ConnectionLost):
    """The server answered a ``Last-Event-ID`` reconnect with 204: it cannot resume."""


class RaisTimeout(RaisClientError):
    """The server was silent longer than ``timeout``, or the answer took over ``total_timeout``."""


# -- the wire format, without I/O -------------------------------------------------------


class SSEDecoder:
    """Incremental ``text/event-stream`` decoder: bytes in, ``(id, data)`` pairs out.

    Follows the SSE rules the browser hooks rely on (``data:`` lines, ``id:``,
    ``retry:``, ``:`` comments); CRLF is accepted here so a broken server still reads.
    """

    def __init__(self) -> None:
        self._blocks = SSEBlockDecoder(lenient=True)
        self.retry: float | None = None  #: the server's ``retry:`` advice, in seconds

    def feed(self, chunk: bytes) -> list[tuple[str | None, str]]:
        out: list[tuple[str | None, str]] = []
        for block in self._blocks.feed(chunk):
            if block.retry is not None:
                self.retry = block.retry / 1000
            if block.data:
                out.append((block.event_id, "\n".join(block.data)))
        return out


def _id_after(event_id: str | None, last: str | None) -> bool:
    """False for an event the server sent again after a resume.

    Ids ending in a counter (``7``, or ``stream:7`` as rais's resumable streams send)
    are compared by it; other ids only by equality.
    """
    if event_id is None or last is None:
        return True
    head, number = _split_counter(event_id)
    last_head, last_number = _split_counter(last)
    if number is not None and last_number is not None and head == last_head:
        return number > last_number
    return event_id != last


def _split_counter(event_id: str) -> tuple[str, int | None]:
    head = event_id.rstrip("0123456789")
    tail = event_id[len(head) :]
    return head, int(tail) if tail else None


def _body(messages: Any, extra: Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    return {"messages": [dict(m) for m in messages], **extra}


def request_body(messages: Any, protocol: str = "rais", /, **extra: Any) -> dict[str, Any]:
    """The JSON body the client posts for ``messages`` in ``protocol``.

    ``messages`` is a string (one user message) or ``{"role", "content"}`` dicts;
    ``extra`` fields go at the top level, where they can also replace the protocol's own
    (``id`` for the AI SDK's chat id, ``threadId``/``runId`` for AG-UI's):

    - ``rais``: ``{"messages": [...], **extra}``;
    - ``ai-sdk``: what ``DefaultChatTransport`` posts, ``{"id", "messages": [{"id", "role",
      "parts": [{"type": "text", "text"}]}], "trigger": "submit-message", **extra}`` (a
      message that already has ``parts`` is sent as it is);
    - ``ag-ui``: a ``RunAgentInput``, ``{"threadId", "runId", "state", "messages": [{"id",
      "role", "content"}], "tools", "context", "forwardedProps", **extra}``.
    """
    body = _body(messages, {})
    listed: list[dict[str, Any]] = body["messages"]
    if protocol == "rais":
        return {**body, **extra}
    for index, message in enumerate(listed):
        message.setdefault("id", f"msg-{index + 1}")
    if protocol == "ai-sdk":
        ui = [
            message
            if "parts" in message
            else {
                "id": message["id"],
                "role": message.get("role"),
                "parts": [{"type": "text", "text": message.get("content")}],
            }
            for message in listed
        ]
        return {"id": _new_id("chat"), "messages": ui, "trigger": "submit-message", **extra}
    if protocol == "ag-ui":
        return {
            "threadId": _new_id("thread"),
            "runId": _new_id("run"),
            "state": {},
            "messages": listed,
            "tools": [],
            "context": [],
            "forwardedProps": {},
            **extra,
        }
    raise ValueError(f"protocol must be one of {', '.join(map(repr, PROTOCOLS))}, not {protocol!r}")


def _new_id(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex}"


def websocket_url(url: str) -> str:
    """The conventional WebSocket address of an endpoint: ``/api/chat`` -> ``ws://.../api/chat/ws``."""
    if url.startswith("https://"):
        url = "wss://" + url[len("https://") :]
    elif url.startswith("http://"):
        url = "ws://" + url[len("http://") :]
    return url.rstrip("/") + "/ws"


def _decode_event(data: str) -> dict[str, Any]:
    event = json.loads(data)
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise RaisClientError(f"not a RAIS event: {data[:200]!r}")
    return event


def _shutdown(response: httpx.Response) -> None:
    """Close the socket under a streaming response, waking a reader in another thread."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:  # a socket.socket, or asyncio's TransportSocket wrapping one
        with contextlib.suppress(OSError, AttributeError):
            sock.shutdown(socket.SHUT_RDWR)


class _StreamState:
    """What both the sync and the async stream track: ids, resumes, the deadline."""

    def __init__(self, client: _ClientBase, body: dict[str, Any], last_event_id: str | None):
        self.client = client
        self.body = json.dumps(body).encode()
        reader = CHUNK_READERS.get(client.protocol)
        self.reader: ChunkReader | None = None if reader is None else reader()
        if self.reader is not None and last_event_id is not None:
            raise ValueError(f"last_event_id resumes RAIS v1 streams, not {client.protocol}")
        self.last_event_id = last_event_id
        self.resuming = last_event_id is not None
        self.resumes = 0
        self.finished = False
        self.aborted = False
        self.deadline = (
            None if client.total_timeout is None else time.monotonic() + client.total_timeout
        )
        self.retry_delay = client.resume_delay

    def headers(self) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            **self.client.headers,
        }
        if self.resuming and self.last_event_id is not None:
            headers["Last-Event-ID"] = self.last_event_id
        return headers

    def check_deadline(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise RaisTimeout(f"the answer took longer than {self.client.total_timeout} s")

    def check_response(self, status: int, content_type: str, body: bytes | None) -> None:
        if status == 204 and self.resuming:
            raise ResumeUnavailable(
                "the connection dropped and the server cannot resume (204)", self.last_event_id
            )
        if status != 200 or not content_type.startswith("text/event-stream"):
            raise RaisHTTPError(status, body or b"")

    def accept(self, event_id: str | None, data: str) -> list[dict[str, Any]]:
        """The events to hand out: none for one already delivered before a resume, or for
        a chunk of another protocol that only frames the text."""
        if not _id_after(event_id, self.last_event_id if self.resuming else None):
            return []
        if event_id is not None:
            self.last_event_id = event_id
        if self.reader is None:
            events = [_decode_event(data)]
        else:
            try:
                events = self.reader.read(data)
            except ChunkError as exc:
                raise RaisClientError(exc.message) from None
        if any(event["type"] in TERMINAL for event in events):
            self.finished = True
        return events

    def dropped(self, cause: BaseException | None) -> float:
        """Decide to resume (returns the delay) or raise :class:`ConnectionLost`."""
        if self.last_event_id is None:
            raise ConnectionLost(
                "the connection dropped before any event id arrived: nothing to resume from",
                None,
            ) from cause
        if self.resumes >= self.client.max_resumes:
            raise ConnectionLost(
                f"the connection dropped {self.resumes + 1} times", self.last_event_id
            ) from cause
        self.resumes += 1
        self.resuming = True
        return self.retry_delay


class _ClientBase:
    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = 60.0,
        connect_timeout: float = 10.0,
        total_timeout: float | None = None,
        max_resumes: int = 3,
        resume_delay: float = 0.5,
        ws_url: str | None = None,
        protocol: Protocol = "rais",
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(
                f"protocol must be one of {', '.join(map(repr, PROTOCOLS))}, not {protocol!r}"
            )
        self.protocol: Protocol = protocol
        self.url = url
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.max_resumes = max_resumes
        self.resume_delay = resume_delay
        self.ws_url = ws_url or websocket_url(url)

    def _httpx_timeout(self) -> httpx.Timeout:
        import httpx

        return httpx.Timeout(self.timeout, connect=self.connect_timeout)

    def _request_body(self, messages: Any, extra: Mapping[str, Any]) -> dict[str, Any]:
        return request_body(messages, self.protocol, **extra)

    def _ws_body(self, messages: Any, extra: Mapping[str, Any]) -> str:
        if self.protocol != "rais":
            raise ValueError(f"the WebSocket transport is RAIS v1's, not {self.protocol}'s")
        return json.dumps(_body(messages, extra))

    def _ws_options(self) -> dict[str, Any]:
        headers = {k: v for k, v in self.headers.items() if k.lower() != "origin"}
        origin = next((v for k, v in self.headers.items() if k.lower() == "origin"), None)
        return {
            "additional_headers": headers,
            "origin": origin,
            "open_timeout": self.connect_timeout,
            "max_size": None,
        }


def _failure(exc: httpx.HTTPError, state: _StreamState, timeout: float | None) -> BaseException:
    """Sort an httpx failure: a drop worth resuming is returned, anything else raised."""
    import httpx

    if state.aborted:
        return exc  # our own abort() closed the socket; the caller stops quietly
    if isinstance(exc, httpx.TimeoutException):
        raise RaisTimeout(f"no data from the server for {timeout} s") from exc
    if isinstance(exc, httpx.TransportError):
        return exc
    raise exc


# -- async ------------------------------------------------------------------------------


class _StreamControl:
    """What the async and sync streams share: where the answer got to, and abort."""

    _state: _StreamState
    _response: httpx.Response | None

    @property
    def last_event_id(self) -> str | None:
        return self._state.last_event_id

    @property
    def aborted(self) -> bool:
        return self._state.aborted

    @property
    def usage(self) -> Usage | None:
        """The token usage the stream reported (the AI SDK's ``finish`` metadata, AG-UI's
        ``RUN_FINISHED``), once it has ended; RAIS v1 streams do not report it."""
        reader = self._state.reader
        if reader is None or reader.usage is None:
            return None
        from ._chat import Usage

        return Usage(**reader.usage)

    def abort(self) -> None:
        """Close the connection now, from any task or thread; iteration then ends quietly.

        Shutting the socket down wakes a reader blocked on it elsewhere.
        """
        self._state.aborted = True
        if self._response is not None:
            _shutdown(self._response)


class AsyncChatStream(_StreamControl):
    """One answer being streamed: iterate it for event dicts; ``abort()`` to stop it."""

    def __init__(self, client: AsyncRaisClient, state: _StreamState) -> None:
        self._client = client
        self._state = state
        self._response: httpx.Response | None = None
        self._events = self._run()

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._events

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if not self._state.finished:
            self.abort()
        await self._events.aclose()

    async def _run(self) -> AsyncGenerator[dict[str, Any], None]:
        import httpx

        state = self._state
        http = await self._client._http_client()
        while not state.aborted:
            decoder = SSEDecoder()
            cause: BaseException | None = None
            try:
                request = http.build_request("POST", self._client.url, content=state.body)
                request.headers.update(state.headers())
                response = await http.send(request, stream=True)
                self._response = response
                try:
                    if state.aborted:  # abort() came while the request was being sent
                        return
                    ctype = response.headers.get("content-type", "")
                    if response.status_code != 200 or not ctype.startswith("text/event-stream"):
                        state.check_response(response.status_code, ctype, await response.aread())
                    chunks = response.aiter_raw()
                    while True:
                        chunk = await self._next(chunks)
                        if chunk is None:
                            break
                        for event_id, data in decoder.feed(chunk):
                            for event in state.accept(event_id, data):
                                yield event
                            if state.finished or state.aborted:
                                return
                        state.check_deadline()
                finally:
                    self._response = None
                    await response.aclose()
            except httpx.HTTPError as exc:
                cause = _failure(exc, state, self._client.timeout)
            if state.aborted:
                return
            state.retry_delay = decoder.retry or state.retry_delay
            await asyncio.sleep(state.dropped(cause))

    async def _next(self, chunks: AsyncIterator[bytes]) -> bytes | None:
        deadline = self._state.deadline
        try:
            if deadline is None:
                return await chunks.__anext__()
            return await asyncio.wait_for(chunks.__anext__(), max(deadline - time.monotonic(), 0))
        except StopAsyncIteration:
            return None
        except asyncio.TimeoutError:
            raise RaisTimeout(
                f"the answer took longer than {self._client.total_timeout} s"
            ) from None


class AsyncRaisClient(_ClientBase):
    """An asyncio client for a RAIS endpoint (``url`` is the ``POST`` address).

    ``protocol="ai-sdk"`` or ``"ag-ui"`` speaks that protocol to the endpoint instead.
    """

    def __init__(self, url: str, *, http: httpx.AsyncClient | None = None, **options: Any) -> None:
        super().__init__(url, **options)
        self._http = http
        self._owns_http = http is None

    async def _http_client(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(timeout=self._httpx_timeout())
        return self._http

    async def __aenter__(self) -> AsyncRaisClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None and self._owns_http:
            await self._http.aclose()
            self._http = None

    def stream(
        self, messages: Any, *, last_event_id: str | None = None, **extra: Any
    ) -> AsyncChatStream:
        """Start an answer; ``last_event_id`` resumes a stream that an earlier call dropped."""
        return AsyncChatStream(
            self, _StreamState(self, self._request_body(messages, extra), last_event_id)
        )

    async def events(self, messages: Any, **extra: Any) -> AsyncIterator[dict[str, Any]]:
        """Every event of one answer, ending with ``done`` or ``error``."""
        async with self.stream(messages, **extra) as stream:
            async for event in stream:
                yield event

    async def text(self, messages: Any, **extra: Any) -> AsyncIterator[str]:
        """The answer's text chunks; an ``error`` event raises :class:`RaisStreamError`."""
        async for event in self.events(messages, **extra):
            if event["type"] == "text":
                yield event["text"]
            elif event["type"] == "error":
                raise RaisStreamError(str(event.get("error")))

    async def complete(self, messages: Any, **extra: Any) -> str:
        """The whole answer as one string."""
        return "".join([chunk async for chunk in self.text(messages, **extra)])

    async def websocket_events(self, messages: Any, **extra: Any) -> AsyncIterator[dict[str, Any]]:
        """The same events over the WebSocket transport; closing the iterator aborts (1000)."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        body = self._ws_body(messages, extra)
        finished = False
        async with connect(self.ws_url, **self._ws_options()) as ws:
            await ws.send(body)
            try:
                while True:
                    frame = await asyncio.wait_for(ws.recv(), self.timeout)
                    event = _decode_event(frame if isinstance(frame, str) else frame.decode())
                    finished = event["type"] in TERMINAL
                    yield event
                    if finished:
                        return
            except ConnectionClosed as exc:
                raise ConnectionLost(f"the WebSocket closed early ({exc})", None) from exc
            except asyncio.TimeoutError:
                raise RaisTimeout(f"no frame from the server for {self.timeout} s") from None
            finally:
                if not finished:
                    await ws.close(1000)


# -- sync -------------------------------------------------------------------------------


class ChatStream(_StreamControl):
    """One answer being streamed (sync): iterate it; ``abort()`` works from any thread."""

    def __init__(self, client: RaisClient, state: _StreamState) -> None:
        self._client = client
        self._state = state
        self._response: httpx.Response | None = None
        self._events = self._run()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._events

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if not self._state.finished:
            self.abort()
        self._events.close()

    def _run(self) -> Generator[dict[str, Any], None, None]:
        import httpx

        state = self._state
        http = self._client._http_client()
        while not state.aborted:
            decoder = SSEDecoder()
            cause: BaseException | None = None
            try:
                request = http.build_request("POST", self._client.url, content=state.body)
                request.headers.update(state.headers())
                response = http.send(request, stream=True)
                self._response = response
                try:
                    if state.aborted:
                        return
                    ctype = response.headers.get("content-type", "")
                    if response.status_code != 200 or not ctype.startswith("text/event-stream"):
                        state.check_response(response.status_code, ctype, response.read())
                    for chunk in response.iter_raw():
                        for event_id, data in decoder.feed(chunk):
                            yield from state.accept(event_id, data)
                            if state.finished or state.aborted:
                                return
                        state.check_deadline()
                finally:
                    self._response = None
                    response.close()
            except httpx.HTTPError as exc:
                cause = _failure(exc, state, self._client.timeout)
            if state.aborted:
                return
            state.retry_delay = decoder.retry or state.retry_delay
            time.sleep(state.dropped(cause))


class RaisClient(_ClientBase):
    """A blocking client for a RAIS endpoint (``url`` is the ``POST`` address).

    ``protocol="ai-sdk"`` or ``"ag-ui"`` speaks that protocol to the endpoint instead.
    """

    def __init__(self, url: str, *, http: httpx.Client | None = None, **options: Any) -> None:
        super().__init__(url, **options)
        self._http = http
        self._owns_http = http is None

    def _http_client(self) -> httpx.Client:
        if self._http is None:
            import httpx

            self._http = httpx.Client(timeout=self._httpx_timeout())
        return self._http

    def __enter__(self) -> RaisClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._http is not None and self._owns_http:
            self._http.close()
            self._http = None

    def stream(
        self, messages: Any, *, last_event_id: str | None = None, **extra: Any
    ) -> ChatStream:
        """Start an answer; ``last_event_id`` resumes a stream that an earlier call dropped."""
        return ChatStream(
            self, _StreamState(self, self._request_body(messages, extra), last_event_id)
        )

    def events(self, messages: Any, **extra: Any) -> Iterator[dict[str, Any]]:
        """Every event of one answer, ending with ``done`` or ``error``."""
        with self.stream(messages, **extra) as stream:
            yield from stream

    def text(self, messages: Any, **extra: Any) -> Iterator[str]:
        """The answer's text chunks; an ``error`` event raises :class:`RaisStreamError`."""
        for event in self.events(messages, **extra):
            if event["type"] == "text":
                yield event["text"]
            elif event["type"] == "error":
                raise RaisStreamError(str(event.get("error")))

    def complete(self, messages: Any, **extra: Any) -> str:
        """The whole answer as one string."""
        return "".join(self.text(messages, **extra))

    def websocket_events(self, messages: Any, **extra: Any) -> Iterator[dict[str, Any]]:
        """The same events over the WebSocket transport; closing the iterator aborts (1000)."""
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        body = self._ws_body(messages, extra)
        finished = False
        with connect(self.ws_url, **self._ws_options()) as ws:
            ws.send(body)
            try:
                while True:
                    frame = ws.recv(self.timeout)
                    event = _decode_event(frame if isinstance(frame, str) else frame.decode())
                    finished = event["type"] in TERMINAL
                    yield event
                    if finished:
                        return
            except ConnectionClosed as exc:
                raise ConnectionLost(f"the WebSocket closed early ({exc})", None) from exc
            except TimeoutError:
                raise RaisTimeout(f"no frame from the server for {self.timeout} s") from None
            finally:
                if not finished:
                    ws.close(1000)
