"""Fake OpenAI and Anthropic upstream servers for tests.

A :class:`FakeUpstream` is a tiny HTTP/1.1 server on loopback that speaks the
chat-completions streaming protocol of OpenAI or the Messages streaming protocol of
Anthropic on the wire, closely enough for the real ``openai`` and ``anthropic`` SDKs
to consume it (point ``base_url`` at it; never mock the SDKs).

It runs its own asyncio event loop in a background thread, so the same instance
serves sync tests, async tests (whatever loop they run on) and server processes a
test spawns (they only need ``base_url``).

How a request behaves is chosen by *directives* in the text of the last user
message (or in the model name, e.g. model ``"fault-401"``)::

    [fault:MODE]      slow | error_mid | 401 | 429 | 500 | hang | bad_model
    [count:N]         stream "t0 ", "t1 ", ... "t{N-1} "
    [tokens:a|b|c]    stream exactly these tokens (``\\n`` = newline, ``\\|`` = "|")
    [delay:SECONDS]   sleep before each token
    [think:TEXT]      reason first: OpenAI ``delta.reasoning_content`` chunks (DeepSeek,
                      vLLM), Anthropic a signed ``thinking`` block at index 0
    [tool:NAME:JSON]  repeatable: when the request has ``tools``, answer with these tool
                      calls (parallel, in order) instead of text: OpenAI ``delta.tool_calls``
                      (finish ``tool_calls``), Anthropic ``tool_use`` blocks with
                      ``input_json_delta`` (stop ``tool_use``). JSON that does not parse is
                      sent as it is, up to the next ``]``, to test bad arguments.
    [finish:length]   end a text answer with finish ``length`` / stop ``max_tokens``
                      (Responses API: ``response.incomplete``, reason ``max_output_tokens``)

The OpenAI fake also answers ``POST /v1/responses``, the Responses API: its typed SSE
events (``event:`` lines, ``type`` and ``sequence_number`` in each ``data``), the response
object in ``response.created`` / ``completed`` / ``incomplete`` / ``failed``, reasoning as
``reasoning_summary_text`` deltas (a summary part per paragraph of ``[think:...]``), tool
calls as ``function_call`` output items. The same directives apply (to the last user item
of ``input``); ``[fault:error_mid]`` ends with an ``error`` event, ``[fault:failed]`` with
``response.failed``. A conversation that ends with
``function_call_output`` items gets the ``Results:`` answer.

When the conversation ends with tool results (OpenAI ``tool`` messages, an Anthropic user
message of ``tool_result`` blocks), the answer is text: ``"Results: "`` and the results'
contents joined with ``" | "``, so a test sees what the model was given. Directives still
come from the last user message that is not tool results.

Usage::

    with FakeUpstream("openai") as up:
        client = AsyncOpenAI(base_url=up.base_url, api_key="sk-test", max_retries=0)
        ...
        assert up.requests[-1].json["model"] == "gpt-4o-mini"
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import re
import secrets
import string
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from types import TracebackType
from typing import Any, Literal, NamedTuple

__all__ = [
    "FAULT_MODES",
    "Directives",
    "FakeUpstream",
    "Provider",
    "RecordedRequest",
    "parse_directives",
]

Provider = Literal["openai", "anthropic"]

FAULT_MODES = frozenset({"slow", "error_mid", "401", "429", "500", "hang", "bad_model", "failed"})

#: Seconds between tokens for ``[fault:slow]``.
SLOW_DELAY = 0.05
#: Tokens sent before the failure for ``[fault:error_mid]``.
ERROR_MID_AFTER = 2
#: Value of the ``retry-after`` header on ``[fault:429]``.
RETRY_AFTER_SECONDS = 7

_MAX_HEAD = 64 * 1024
_MAX_BODY = 32 * 1024 * 1024
_ALNUM = string.ascii_letters + string.digits


# --------------------------------------------------------------------------- records


@dataclass
class RecordedRequest:
    """One HTTP request the fake received."""

    method: str
    path: str  #: path without the query string, e.g. "/v1/chat/completions"
    headers: dict[str, str]  #: lower-case names; repeated headers joined with ", "
    json: Any  #: parsed JSON body, or None if the body was empty or not JSON
    body: bytes = b""
    query: str = ""  #: raw query string without "?"
    directives: Directives | None = None  #: what the fake decided to do with it

    @property
    def api_key(self) -> str | None:
        """The key the client sent (``x-api-key`` or ``Authorization: Bearer``)."""
        return _api_key(self.headers)


@dataclass
class Directives:
    """Behaviour selected for one request."""

    fault: str | None = None
    count: int | None = None
    delay: float | None = None
    tokens: list[str] | None = None
    think: str | None = None
    #: (name, raw JSON arguments) per ``[tool:NAME:JSON]``, in order
    tools: list[tuple[str, str]] = field(default_factory=list)
    finish: str | None = None

    def token_list(self, default: list[str]) -> list[str]:
        if self.tokens is not None:
            return list(self.tokens)
        if self.count is not None:
            return [f"t{i} " for i in range(self.count)]
        return list(default)

    def token_delay(self) -> float:
        if self.delay is not None:
            return self.delay
        if self.fault == "slow":
            return SLOW_DELAY
        return 0.0


_BRACKET_RE = re.compile(
    r"\[(fault|count|delay|tokens|think|finish):((?:\\.|[^\]\\])*)\]", re.DOTALL
)
_TOOL_RE = re.compile(r"\[tool:([A-Za-z0-9_.\-]+):")
_MODEL_RE = re.compile(r"(fault|count|delay|tokens)-(.+)", re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def _split_tokens(raw: str) -> list[str]:
    if raw == "":
        return []
    out: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            cur.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        if ch == "|":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


def _apply(d: Directives, name: str, value: str) -> None:
    value_s = value.strip()
    try:
        if name == "fault":
            d.fault = value_s
        elif name == "count":
            d.count = max(0, int(value_s))
        elif name == "delay":
            d.delay = max(0.0, float(value_s))
        elif name == "tokens":
            d.tokens = _split_tokens(value)
        elif name == "think":
            d.think = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), value)
        elif name == "finish":
            d.finish = value_s
    except ValueError:
        pass  # a malformed number is ignored, like any other text


def parse_directives(text: str, model: str | None = None) -> Directives:
    """Directives from the model name, then from ``text`` (text wins on conflicts)."""
    d = Directives()
    if model:
        m = _MODEL_RE.fullmatch(model)
        if m:
            _apply(d, m.group(1), m.group(2))
        for m in _BRACKET_RE.finditer(model):
            _apply(d, m.group(1), m.group(2))
    for m in _BRACKET_RE.finditer(text):
        _apply(d, m.group(1), m.group(2))
    d.tools = _tool_directives(text)
    return d


def _tool_directives(text: str) -> list[tuple[str, str]]:
    """``[tool:NAME:JSON]`` in order: the JSON value as written (nested brackets are fine);
    text that is not JSON runs to the next ``]``, so bad arguments can be tested."""
    found: list[tuple[str, str]] = []
    decoder = json.JSONDecoder()
    pos = 0
    while (m := _TOOL_RE.search(text, pos)) is not None:
        start = m.end()
        try:
            _value, end = decoder.raw_decode(text, start)
        except ValueError:
            end = -1
        if end < 0 or not text.startswith("]", end):
            end = text.find("]", start)
            if end < 0:
                break
        found.append((m.group(1), text[start:end]))
        pos = end + 1
    return found


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)
    return ""


def _tool_result_blocks(msg: Any) -> list[dict[str, Any]]:
    """An Anthropic user message's ``tool_result`` blocks."""
    content = msg.get("content") if isinstance(msg, dict) else None
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


def _last_user_text(body: Any) -> str:
    """The last user message's text, skipping Anthropic messages of tool results."""
    if not isinstance(body, dict):
        return ""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return ""
    for msg in reversed(messages):
        if isinstance(msg, dict) and msg.get("role") == "user":
            if _tool_result_blocks(msg) and not _content_text(msg.get("content")):
                continue
            return _content_text(msg.get("content"))
    return ""


def _tool_results(body: Any) -> list[str] | None:
    """The contents of the tool results the conversation ends with, or None if it does not
    end with any: OpenAI's trailing ``tool`` messages, or an Anthropic user message of
    ``tool_result`` blocks."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not messages:
        return None
    found: list[str] = []
    for msg in reversed(messages):
        if not (isinstance(msg, dict) and msg.get("role") == "tool"):
            break
        found.append(_content_text(msg.get("content")))
    if found:
        return found[::-1]
    last = messages[-1]
    if isinstance(last, dict) and last.get("role") == "user":
        blocks = _tool_result_blocks(last)
        if blocks:
            return [_content_text(b.get("content")) for b in blocks]
    return None


def _pieces(text: str, size: int = 4) -> list[str]:
    """``text`` in small pieces, the way a model streams arguments."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def _words(text: str) -> list[str]:
    """``text`` in words with their trailing spaces, the way a model streams prose."""
    return re.findall(r"\S+\s*|\s+", text)


def _signature(thinking: str) -> str:
    """A stable stand-in for the opaque signature of a thinking block."""
    digest = hashlib.sha256(thinking.encode()).digest()
    return "Eq" + base64.b64encode(digest * 3).decode()


def _all_text(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    chunks = [_content_text(body.get("system"))]
    messages = body.get("messages")
    if isinstance(messages, list):
        for msg in messages:
            if isinstance(msg, dict):
                chunks.append(_content_text(msg.get("content")))
    return " ".join(chunks)


def _responses_view(body: dict[str, Any]) -> dict[str, Any]:
    """A Responses API body as chat-completions ``messages`` (for the directives, the
    ``Results:`` answer and the token estimate): ``input`` (a string, or items), and
    ``instructions`` as the system prompt."""
    raw = body.get("input")
    items: list[Any] = [{"role": "user", "content": raw}] if isinstance(raw, str) else []
    if isinstance(raw, list):
        items = raw
    messages: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "function_call_output":
            messages.append({"role": "tool", "content": _content_text(item.get("output"))})
        elif kind == "function_call":
            messages.append({"role": "assistant", "content": "", "tool_calls": [item]})
        elif kind in (None, "message") and isinstance(item.get("role"), str):
            messages.append({"role": item["role"], "content": item.get("content")})
    return {"system": body.get("instructions"), "messages": messages}


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _api_key(headers: dict[str, str]) -> str | None:
    key = headers.get("x-api-key")
    if key:
        return key
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return None


def _rand(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------- HTTP


class _BadRequest(Exception):
    pass


@dataclass
class _Request:
    method: str
    target: str
    version: str
    headers: dict[str, str]
    body: bytes

    @property
    def keep_alive(self) -> bool:
        conn = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn


class _Answer(NamedTuple):
    """What ``_serve`` works out once for every route: the request's JSON body, its model,
    the tokens to answer with (the ``Results: ...`` answer after tool results), its
    directives and the tool calls to make instead (only when the request offers tools)."""

    body: dict[str, Any]
    model: str
    tokens: list[str]
    d: Directives
    calls: list[tuple[str, str]]


class _Conn:
    """One client connection: buffered reads, disconnect watching, response writing."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buf = bytearray()
        self.eof = False
        self.gone = asyncio.Event()
        self.keep_alive = True  #: whether the current request allows connection reuse
        self._watch: asyncio.Task[None] | None = None

    # -- reading
    async def _fill(self) -> bool:
        if self.eof:
            return False
        try:
            data = await self.reader.read(65536)
        except (ConnectionError, OSError):
            data = b""
        if not data:
            self.eof = True
            self.gone.set()
            return False
        self.buf += data
        return True

    async def read_until(self, sep: bytes, limit: int) -> bytes | None:
        while True:
            idx = self.buf.find(sep)
            if idx >= 0:
                out = bytes(self.buf[:idx])
                del self.buf[: idx + len(sep)]
                return out
            if len(self.buf) > limit:
                raise _BadRequest("header section too large")
            if not await self._fill():
                return None

    async def read_exact(self, n: int) -> bytes | None:
        while len(self.buf) < n:
            if not await self._fill():
                return None
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    async def read_request(self) -> _Request | None:
        head = await self.read_until(b"\r\n\r\n", _MAX_HEAD)
        while head == b"":  # tolerate stray CRLFs between requests
            head = await self.read_until(b"\r\n\r\n", _MAX_HEAD)
        if head is None:
            return None
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest(f"bad request line: {lines[0]!r}")
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise _BadRequest(f"bad header line: {line!r}")
            key = name.lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        if headers.get("expect", "").lower() == "100-continue":
            await self.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await self._read_body(headers)
        if body is None:
            return None
        return _Request(method, target, version, headers, body)

    async def _read_body(self, headers: dict[str, str]) -> bytes | None:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            out = bytearray()
            while True:
                size_line = await self.read_until(b"\r\n", 1024)
                if size_line is None:
                    return None
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError as exc:
                    raise _BadRequest("bad chunk size") from exc
                if size == 0:
                    while True:  # trailers
                        trailer = await self.read_until(b"\r\n", _MAX_HEAD)
                        if trailer is None:
                            return None
                        if trailer == b"":
                            return bytes(out)
                chunk = await self.read_exact(size + 2)
                if chunk is None:
                    return None
                out += chunk[:-2]
                if len(out) > _MAX_BODY:
                    raise _BadRequest("body too large")
        raw_len = headers.get("content-length")
        if raw_len is None:
            return b""
        try:
            length = int(raw_len)
        except ValueError as exc:
            raise _BadRequest("bad content-length") from exc
        if length < 0 or length > _MAX_BODY:
            raise _BadRequest("bad content-length")
        return await self.read_exact(length)

    # -- disconnect watching
    def start_watch(self) -> None:
        """Keep reading while a response is produced so that EOF is seen at once."""
        if self._watch is None and not self.eof:
            self._watch = asyncio.get_running_loop().create_task(self._watch_loop())

    async def _watch_loop(self) -> None:
        while await self._fill():
            pass

    async def stop_watch(self) -> None:
        task, self._watch = self._watch, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def disconnected(self) -> bool:
        return self.eof or self.writer.is_closing()

    async def sleep_or_disconnect(self, seconds: float) -> bool:
        """Sleep; return True if the client went away meanwhile (or before)."""
        if self.disconnected:
            return True
        if seconds <= 0:
            await asyncio.sleep(0)
            return self.disconnected
        try:
            await asyncio.wait_for(self.gone.wait(), seconds)
        except asyncio.TimeoutError:
            return self.disconnected
        return True

    async def wait_disconnect(self) -> None:
        await self.gone.wait()

    # -- writing
    async def write(self, data: bytes) -> bool:
        if self.disconnected:
            return False
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, OSError):
            self.eof = True
            self.gone.set()
            return False
        return not self.writer.is_closing()

    async def send_head(self, status: int, headers: list[tuple[str, str]]) -> bool:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines += [f"{k}: {v}" for k, v in headers]
        return await self.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    async def send_chunk(self, data: bytes) -> bool:
        if not data:
            return True
        return await self.write(f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n")

    async def end_chunks(self) -> bool:
        return await self.write(b"0\r\n\r\n")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


# --------------------------------------------------------------------------- server


class FakeUpstream:
    """A fake OpenAI (``"openai"``) or Anthropic (``"anthropic"``) API on 127.0.0.1."""

    def __init__(self, provider: Provider, *, host: str = "127.0.0.1", port: int = 0) -> None:
        if provider not in ("openai", "anthropic"):
            raise ValueError(f"unknown provider {provider!r}")
        self.provider: Provider = provider
        self.host = host
        self.port = port
        self.default_tokens: list[str] = ["Hello", ",", " world", "!"]
        #: Unexpected exceptions inside the fake (should stay empty).
        self.internal_errors: list[str] = []

        self._cond = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._cancelled = 0
        self._completed = 0
        self._errored = 0

        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._bound_port: int | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeUpstream:
        if self._thread is not None:
            raise RuntimeError("FakeUpstream already started")
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(self._on_loop_error)
        thread = threading.Thread(
            target=self._run_loop, args=(loop,), name=f"FakeUpstream-{self.provider}", daemon=True
        )
        self._loop, self._thread = loop, thread
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._astart(), loop).result(timeout=10)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running() or not loop.is_closed():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._ashutdown(), loop).result(timeout=10)
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._loop = self._thread = None
        self._server = None
        self._bound_port = None

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self._bound_port is not None else "stopped"
        return f"<FakeUpstream {self.provider} {where}>"

    @property
    def base_url(self) -> str:
        if self._bound_port is None:
            raise RuntimeError("FakeUpstream is not started")
        root = f"http://{self.host}:{self._bound_port}"
        return f"{root}/v1" if self.provider == "openai" else root

    # ------------------------------------------------------------------ observations

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, oldest first."""
        with self._cond:
            return list(self._requests)

    @property
    def cancelled(self) -> int:
        """Responses whose client disconnected before they were finished."""
        with self._cond:
            return self._cancelled

    @property
    def completed(self) -> int:
        """Streams that were sent in full (through ``[DONE]`` / ``message_stop``)."""
        with self._cond:
            return self._completed

    @property
    def errored(self) -> int:
        """Streams that ended with an injected mid-stream error (``[fault:error_mid]``)."""
        with self._cond:
            return self._errored

    def reset(self) -> None:
        with self._cond:
            self._requests.clear()
            self._cancelled = self._completed = self._errored = 0
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until ``predicate()`` (evaluated under the fake's lock) is true."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout=timeout)

    def wait_cancelled(self, n: int = 1, timeout: float = 5.0) -> bool:
        return self.wait_for(lambda: self._cancelled >= n, timeout)

    def wait_completed(self, n: int = 1, timeout: float = 5.0) -> bool:
        return self.wait_for(lambda: self._completed >= n, timeout)

    def wait_requests(self, n: int = 1, timeout: float = 5.0) -> bool:
        return self.wait_for(lambda: len(self._requests) >= n, timeout)

    async def wait_cancelled_async(self, n: int = 1, timeout: float = 5.0) -> bool:
        """Like :meth:`wait_cancelled`, without blocking the caller's event loop."""
        return await asyncio.to_thread(self.wait_cancelled, n, timeout)

    def _bump(self, counter: Literal["cancelled", "completed", "errored"]) -> None:
        with self._cond:
            if counter == "cancelled":
                self._cancelled += 1
            elif counter == "completed":
                self._completed += 1
            else:
                self._errored += 1
            self._cond.notify_all()

    # ------------------------------------------------------------------ loop thread

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for t in pending:
                    t.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, (ConnectionError, BrokenPipeError)):
            return  # a client going away is not our problem
        self.internal_errors.append(f"{context.get('message')}: {exc!r}")

    async def _astart(self) -> None:
        # A real API's listen queue, not asyncio's default of 100: when 200 streams connect
        # at once while this loop is busy, an overflowing queue drops SYNs and the SDK's
        # 5 s connect timeout fails requests that never reached us.
        self._server = await asyncio.start_server(self._handle, self.host, self.port, backlog=2048)
        self._bound_port = int(self._server.sockets[0].getsockname()[1])

    async def _ashutdown(self) -> None:
        server = self._server
        if server is not None:
            server.close()
        tasks = [t for t in self._tasks if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        for _ in range(3):  # let transports run their close callbacks
            await asyncio.sleep(0)

    # ------------------------------------------------------------------ connection

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        conn = _Conn(reader, writer)
        try:
            while True:
                try:
                    req = await conn.read_request()
                except _BadRequest as exc:
                    await self._send_error(conn, 400, "invalid_request_error", str(exc), close=True)
                    break
                if req is None:
                    break
                keep = await self._serve(conn, req)
                if not (keep and req.keep_alive) or conn.disconnected:
                    break
        except asyncio.CancelledError:
            pass  # stop()
        except Exception as exc:  # never leak into the loop's exception handler
            self.internal_errors.append(f"handler: {exc!r}")
        finally:
            await conn.stop_watch()
            conn.close()
            if task is not None:
                self._tasks.discard(task)

    async def _serve(self, conn: _Conn, req: _Request) -> bool:
        """Answer one request; return False if the connection must close afterwards."""
        conn.keep_alive = req.keep_alive
        path, _, query = req.target.partition("?")
        parsed: Any = None
        if req.body:
            try:
                parsed = json.loads(req.body)
            except ValueError:
                parsed = None
        record = RecordedRequest(
            method=req.method,
            path=path,
            headers=dict(req.headers),
            json=parsed,
            body=req.body,
            query=query,
        )
        endpoints = (
            ("/v1/chat/completions", "/v1/responses")
            if self.provider == "openai"
            else ("/v1/messages",)
        )
        if req.method != "POST" or path not in endpoints:
            self._record(record)
            msg = f"Invalid URL ({req.method} {path})" if self.provider == "openai" else "Not Found"
            return await self._send_error(conn, 404, "not_found", msg)
        if not isinstance(parsed, dict):
            self._record(record)
            msg = (
                "We could not parse the JSON body of your request. (HINT: This likely means you"
                " aren't using your HTTP library correctly. The OpenAI API expects a JSON"
                " payload, but what was sent was not valid JSON.)"
                if self.provider == "openai"
                else "There was an error parsing the body of your request."
            )
            return await self._send_error(conn, 400, "invalid_request_error", msg)

        model = parsed.get("model")
        model_s = model if isinstance(model, str) else ""
        responses_api = path == "/v1/responses"
        view = _responses_view(parsed) if responses_api else parsed
        directives = parse_directives(_last_user_text(view), model_s)
        record.directives = directives
        self._record(record)
        tokens = directives.token_list(self.default_tokens)
        results = _tool_results(view)
        if results is not None:  # the model read the tool results: it answers with them
            tokens = ["Results: "]
            for i, result in enumerate(results):
                tokens += [" | ", result] if i else [result]
            tokens = [t for t in tokens if t]
        calls = directives.tools if parsed.get("tools") and results is None else []
        stream = parsed.get("stream") is True
        fault = directives.fault

        conn.start_watch()
        try:
            if fault == "401":
                return await self._send_error(
                    conn, 401, "auth", self._auth_message(_api_key(req.headers))
                )
            if fault == "429":
                return await self._send_error(conn, 429, "rate_limit", model_s)
            if fault == "500":
                return await self._send_error(conn, 500, "server", "")
            if fault == "bad_model":
                return await self._send_error(conn, 404, "bad_model", model_s)
            if fault == "hang" and not stream:
                await conn.wait_disconnect()
                self._bump("cancelled")
                return False
            if fault == "error_mid" and not stream:
                return await self._send_error(conn, 500, "server", "")
            if responses_api:
                route = self._responses_stream if stream else self._responses_plain
            elif self.provider == "openai":
                route = self._openai_stream if stream else self._openai_plain
            else:
                route = self._anthropic_stream if stream else self._anthropic_plain
            whole = directives.token_delay() * len(tokens)  # a whole answer: as long as a stream
            if not stream and await conn.sleep_or_disconnect(whole):
                return await self._abandoned(conn)
            return await route(conn, _Answer(parsed, model_s, tokens, directives, calls))
        finally:
            await conn.stop_watch()

    def _record(self, record: RecordedRequest) -> None:
        with self._cond:
            self._requests.append(record)
            self._cond.notify_all()

    # ------------------------------------------------------------------ headers

    def _base_headers(self, content_type: str) -> list[tuple[str, str]]:
        headers = [
            ("date", formatdate(usegmt=True)),
            ("content-type", content_type),
        ]
        if self.provider == "openai":
            headers += [
                ("access-control-expose-headers", "X-Request-ID"),
                ("openai-organization", "user-fakeupstream"),
                ("openai-processing-ms", "7"),
                ("openai-project", "proj_fakeupstream"),
                ("openai-version", "2020-10-01"),
                ("x-request-id", f"req_{uuid.uuid4().hex}"),
                ("x-ratelimit-limit-requests", "10000"),
                ("x-ratelimit-limit-tokens", "30000000"),
                ("x-ratelimit-remaining-requests", "9999"),
                ("x-ratelimit-remaining-tokens", "29999990"),
                ("x-ratelimit-reset-requests", "6ms"),
                ("x-ratelimit-reset-tokens", "0s"),
            ]
        else:
            headers += [
                ("request-id", f"req_011C{_rand(20)}"),
                ("anthropic-organization-id", str(uuid.uuid4())),
                ("x-robots-tag", "none"),
            ]
        return headers

    async def _send_json(
        self,
        conn: _Conn,
        status: int,
        body: Any,
        extra: list[tuple[str, str]] | None = None,
        *,
        close: bool = False,
    ) -> bool:
        data = _dumps(body).encode("utf-8")
        close = close or not conn.keep_alive
        headers = self._base_headers("application/json")
        headers += extra or []
        headers += [
            ("content-length", str(len(data))),
            ("connection", "close" if close else "keep-alive"),
        ]
        ok = await conn.send_head(status, headers) and await conn.write(data)
        return ok and not close

    async def _start_sse(self, conn: _Conn) -> bool:
        headers = self._base_headers("text/event-stream; charset=utf-8")
        headers += [
            ("transfer-encoding", "chunked"),
            ("connection", "keep-alive" if conn.keep_alive else "close"),
            ("cache-control", "no-cache"),
        ]
        return await conn.send_head(200, headers)

    # ------------------------------------------------------------------ errors

    def _auth_message(self, key: str | None) -> str:
        if self.provider == "openai":
            if not key:
                return (
                    "You didn't provide an API key. You need to provide your API key in an"
                    " Authorization header using Bearer auth (i.e. Authorization: Bearer"
                    " YOUR_KEY), or as the password field (with blank username) if you're"
                    " accessing the API from your browser and are prompted for a username and"
                    " password. You can obtain an API key from"
                    " https://platform.openai.com/account/api-keys."
                )
            return (
                f"Incorrect API key provided: {key}. You can find your API key at"
                " https://platform.openai.com/account/api-keys."
            )
        if not key:
            return "x-api-key header is required"
        return f"invalid x-api-key: {key}"

    async def _send_error(
        self, conn: _Conn, status: int, kind: str, detail: str, *, close: bool = False
    ) -> bool:
        extra: list[tuple[str, str]] = []
        if self.provider == "openai":
            err: dict[str, Any]
            if kind == "auth":
                err = {
                    "message": detail,
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            elif kind == "rate_limit":
                err = {
                    "message": (
                        f"Rate limit reached for {detail or 'gpt-4o'} in organization"
                        " org-fakeupstream on requests per min (RPM): Limit 3, Used 3,"
                        f" Requested 1. Please try again in {RETRY_AFTER_SECONDS}s. Visit"
                        " https://platform.openai.com/account/rate-limits to learn more."
                    ),
                    "type": "requests",
                    "param": None,
                    "code": "rate_limit_exceeded",
                }
                extra = [
                    ("retry-after", str(RETRY_AFTER_SECONDS)),
                    ("x-ratelimit-remaining-requests", "0"),
                    ("x-ratelimit-reset-requests", f"{RETRY_AFTER_SECONDS}s"),
                ]
            elif kind == "server":
                err = {
                    "message": (
                        "The server had an error while processing your request. Sorry about that!"
                    ),
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            elif kind == "bad_model":
                err = {
                    "message": (
                        f"The model `{detail}` does not exist or you do not have access to it."
                    ),
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "model_not_found",
                }
            else:  # not_found, invalid_request_error
                err = {
                    "message": detail,
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            body: dict[str, Any] = {"error": err}
        else:
            if kind == "auth":
                etype, msg = "authentication_error", detail
            elif kind == "rate_limit":
                etype = "rate_limit_error"
                msg = (
                    "This request would exceed the rate limit for your organization"
                    " (fakeupstream) of 50 requests per minute. For details, refer to:"
                    " https://docs.claude.com/en/api/rate-limits. You can see the response"
                    " headers for current usage. Please reduce the prompt length or the maximum"
                    " tokens requested, or try again later."
                )
                extra = [
                    ("retry-after", str(RETRY_AFTER_SECONDS)),
                    ("anthropic-ratelimit-requests-limit", "50"),
                    ("anthropic-ratelimit-requests-remaining", "0"),
                    ("x-should-retry", "true"),
                ]
            elif kind == "server":
                etype, msg = "api_error", "Internal server error"
            elif kind == "bad_model":
                etype, msg = "not_found_error", f"model: {detail}"
            elif kind == "not_found":
                etype, msg = "not_found_error", detail
            else:
                etype, msg = "invalid_request_error", detail
            body = {
                "type": "error",
                "error": {"type": etype, "message": msg},
                "request_id": f"req_011C{_rand(20)}",
            }
        return await self._send_json(conn, status, body, extra, close=close)

    # ------------------------------------------------------------------ streaming core

    async def _emit_tokens(
        self,
        conn: _Conn,
        tokens: list[str],
        directives: Directives,
        send_token: Callable[[str], Awaitable[bool]],
    ) -> tuple[bool, int]:
        """Send tokens; return (client still connected, tokens sent)."""
        delay = directives.token_delay()
        limit = ERROR_MID_AFTER if directives.fault == "error_mid" else len(tokens)
        sent = 0
        for tok in tokens[:limit]:
            if await conn.sleep_or_disconnect(delay):
                return False, sent
            if not await send_token(tok):
                return False, sent
            sent += 1
        return True, sent

    async def _abandoned(self, conn: _Conn) -> bool:
        self._bump("cancelled")
        return False

    # ------------------------------------------------------------------ OpenAI

    async def _send_paced(self, conn: _Conn, frames: list[bytes], d: Directives) -> bool:
        """Send frames one by one with the token delay; False if the client went away."""
        delay = d.token_delay()
        for frame in frames:
            if await conn.sleep_or_disconnect(delay) or not await conn.send_chunk(frame):
                return False
        return True

    async def _openai_stream(self, conn: _Conn, answer: _Answer) -> bool:
        body, model, tokens, d, calls = answer
        cid = f"chatcmpl-{_rand(29)}"
        created = int(time.time())
        opts = body.get("stream_options")
        opts = opts if isinstance(opts, dict) else {}
        include_usage = opts.get("include_usage") is True
        obfuscate = opts.get("include_obfuscation", True) is not False

        def chunk(choices: list[dict[str, Any]], usage: Any = None, *, last: bool = False) -> bytes:
            obj: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "service_tier": "default",
                "system_fingerprint": None,
                "choices": choices,
            }
            if include_usage:
                obj["usage"] = usage
            if obfuscate and not last:
                obj["obfuscation"] = _rand(secrets.randbelow(12) + 1)
            return f"data: {_dumps(obj)}\n\n".encode()

        def choice(delta: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
            return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

        if not await self._start_sse(conn):
            return await self._abandoned(conn)
        opening = {"role": "assistant", "content": None if calls else "", "refusal": None}
        if not await conn.send_chunk(chunk(choice(opening))):
            return await self._abandoned(conn)
        if d.fault == "hang":
            await conn.wait_disconnect()
            return await self._abandoned(conn)
        if d.think:  # DeepSeek / vLLM: reasoning deltas before the answer
            frames = [
                chunk(choice({"content": None, "reasoning_content": piece}))
                for piece in _words(d.think)
            ]
            if not await self._send_paced(conn, frames, d):
                return await self._abandoned(conn)
        if calls:
            frames = []
            for index, (name, arguments) in enumerate(calls):
                start = {
                    "index": index,
                    "id": f"call_{_rand(24)}",
                    "type": "function",
                    "function": {"name": name, "arguments": ""},
                }
                frames.append(chunk(choice({"tool_calls": [start]})))
                frames += [
                    chunk(choice({"tool_calls": [{"index": index, "function": {"arguments": p}}]}))
                    for p in _pieces(arguments)
                ]
            if not await self._send_paced(conn, frames, d):
                return await self._abandoned(conn)
            return await self._openai_finish(
                conn, body, chunk, choice, "tool_calls", len(frames), include_usage
            )

        async def send_token(tok: str) -> bool:
            return await conn.send_chunk(chunk(choice({"content": tok})))

        alive, _sent = await self._emit_tokens(conn, tokens, d, send_token)
        if not alive:
            return await self._abandoned(conn)
        if d.fault == "error_mid":
            err = {
                "error": {
                    "message": (
                        "The server had an error while processing your request. Sorry about that!"
                    ),
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            }
            ok = await conn.send_chunk(f"data: {_dumps(err)}\n\n".encode())
            if ok:
                await conn.end_chunks()
            self._bump("errored")
            return False  # close the connection after a mid-stream failure
        finish = "length" if d.finish == "length" else "stop"
        return await self._openai_finish(
            conn, body, chunk, choice, finish, len(tokens), include_usage
        )

    async def _openai_finish(
        self,
        conn: _Conn,
        body: dict[str, Any],
        chunk: Callable[..., bytes],
        choice: Callable[..., list[dict[str, Any]]],
        finish: str,
        completion: int,
        include_usage: bool,
    ) -> bool:
        frames = [chunk(choice({}, finish))]
        if include_usage:
            prompt = _estimate_tokens(_all_text(body))
            frames.append(chunk([], self._openai_usage(prompt, completion), last=True))
        frames.append(b"data: [DONE]\n\n")
        for frame in frames:
            if not await conn.send_chunk(frame):
                return await self._abandoned(conn)
        if not await conn.end_chunks():
            return await self._abandoned(conn)
        self._bump("completed")
        return True

    @staticmethod
    def _openai_usage(prompt: int, completion: int) -> dict[str, Any]:
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    async def _openai_plain(self, conn: _Conn, answer: _Answer) -> bool:
        body, model, tokens, d, _calls = answer
        prompt = _estimate_tokens(_all_text(body))
        result = {
            "id": f"chatcmpl-{_rand(29)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "".join(tokens),
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "length" if d.finish == "length" else "stop",
                }
            ],
            "usage": self._openai_usage(prompt, len(tokens)),
            "service_tier": "default",
            "system_fingerprint": None,
        }
        return await self._send_json(conn, 200, result)

    # ------------------------------------------------------------------ OpenAI Responses

    @staticmethod
    def _response_object(
        body: dict[str, Any],
        rid: str,
        created: int,
        model: str,
        status: str,
        output: list[dict[str, Any]],
        usage: dict[str, Any] | None = None,
        *,
        incomplete: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The ``response`` object, as the Responses API sends it in its lifecycle events."""
        tools = body.get("tools")
        return {
            "id": rid,
            "object": "response",
            "created_at": created,
            "status": status,
            "background": False,
            "error": error,
            "incomplete_details": incomplete,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": None,
            "model": model,
            "output": output,
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "prompt_cache_key": None,
            "reasoning": {"effort": None, "summary": None},
            "safety_identifier": None,
            "service_tier": "default",
            "store": True,
            "temperature": 1.0,
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": "auto",
            "tools": tools if isinstance(tools, list) else [],
            "top_logprobs": 0,
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": usage,
            "user": None,
            "metadata": {},
        }

    @staticmethod
    def _responses_usage(body: dict[str, Any], output: int, reasoning: int) -> dict[str, Any]:
        prompt = _estimate_tokens(_all_text(_responses_view(body)))
        return {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output + reasoning,
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": prompt + output + reasoning,
        }

    @staticmethod
    def _responses_items(
        tokens: list[str], d: Directives, calls: list[tuple[str, str]]
    ) -> list[dict[str, Any]]:
        """The output items of a whole answer: reasoning, then function calls or a message."""
        items: list[dict[str, Any]] = []
        if d.think:
            paragraphs = [text for text in d.think.split("\n\n") if text]
            summary = [{"type": "summary_text", "text": text} for text in paragraphs]
            items.append({"id": f"rs_{_rand(48)}", "type": "reasoning", "summary": summary})
        for name, arguments in calls:
            items.append(
                {
                    "id": f"fc_{_rand(48)}",
                    "type": "function_call",
                    "status": "completed",
                    "arguments": arguments,
                    "call_id": f"call_{_rand(24)}",
                    "name": name,
                }
            )
        if not calls:
            text = {
                "type": "output_text",
                "annotations": [],
                "logprobs": [],
                "text": "".join(tokens),
            }
            status = "incomplete" if d.finish == "length" else "completed"
            items.append(
                {
                    "id": f"msg_{_rand(48)}",
                    "type": "message",
                    "status": status,
                    "content": [text],
                    "role": "assistant",
                }
            )
        return items

    async def _responses_stream(self, conn: _Conn, answer: _Answer) -> bool:
        body, model, tokens, d, calls = answer
        rid, created = f"resp_{_rand(48)}", int(time.time())
        numbers = itertools.count()
        done: list[dict[str, Any]] = []  # the output items sent so far

        def event(kind: str, **fields: Any) -> bytes:
            data = {"type": kind, "sequence_number": next(numbers), **fields}
            return f"event: {kind}\ndata: {_dumps(data)}\n\n".encode()

        def lifecycle(kind: str, status: str, usage: Any = None, **extra: Any) -> bytes:
            response = self._response_object(
                body, rid, created, model, status, list(done), usage, **extra
            )
            return event(kind, response=response)

        def obfuscation() -> str:
            return _rand(secrets.randbelow(12) + 1)

        if not await self._start_sse(conn):
            return await self._abandoned(conn)
        opening = lifecycle("response.created", "in_progress")
        opening += lifecycle("response.in_progress", "in_progress")
        if not await conn.send_chunk(opening):
            return await self._abandoned(conn)
        if d.fault == "hang":
            await conn.wait_disconnect()
            return await self._abandoned(conn)
        items = self._responses_items(tokens, d, calls)
        frames: list[bytes] = []
        for index, item in enumerate(items[:-1] if not calls else items):
            iid = item["id"]
            if item["type"] == "reasoning":
                frames.append(
                    event(
                        "response.output_item.added",
                        output_index=index,
                        item={**item, "summary": []},
                    )
                )
                for number, summary in enumerate(item["summary"]):  # a part per paragraph
                    empty = {"type": "summary_text", "text": ""}
                    where = {"item_id": iid, "output_index": index, "summary_index": number}
                    frames.append(
                        event("response.reasoning_summary_part.added", **where, part=empty)
                    )
                    frames += [
                        event(
                            "response.reasoning_summary_text.delta",
                            **where,
                            delta=piece,
                            obfuscation=obfuscation(),
                        )
                        for piece in _words(summary["text"])
                    ]
                    text = summary["text"]
                    frames.append(event("response.reasoning_summary_text.done", **where, text=text))
                    frames.append(
                        event("response.reasoning_summary_part.done", **where, part=summary)
                    )
            else:  # a function call
                started = {**item, "status": "in_progress", "arguments": ""}
                frames.append(event("response.output_item.added", output_index=index, item=started))
                where = {"item_id": iid, "output_index": index}
                frames += [
                    event(
                        "response.function_call_arguments.delta",
                        **where,
                        delta=piece,
                        obfuscation=obfuscation(),
                    )
                    for piece in _pieces(item["arguments"])
                ]
                frames.append(
                    event(
                        "response.function_call_arguments.done",
                        **where,
                        arguments=item["arguments"],
                    )
                )
            frames.append(event("response.output_item.done", output_index=index, item=item))
            done.append(item)
        if not await self._send_paced(conn, frames, d):
            return await self._abandoned(conn)
        if calls:
            usage = self._responses_usage(body, len(frames), len(_words(d.think or "")))
            return await self._responses_finish(
                conn, lifecycle("response.completed", "completed", usage)
            )

        message = items[-1]
        index = len(done)
        where = {"item_id": message["id"], "output_index": index, "content_index": 0}
        empty = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        started = {**message, "status": "in_progress", "content": []}
        head = event("response.output_item.added", output_index=index, item=started)
        head += event("response.content_part.added", **where, part=empty)
        if not await conn.send_chunk(head):
            return await self._abandoned(conn)

        async def send_token(tok: str) -> bool:
            delta = event(
                "response.output_text.delta",
                **where,
                delta=tok,
                logprobs=[],
                obfuscation=obfuscation(),
            )
            return await conn.send_chunk(delta)

        alive, _sent = await self._emit_tokens(conn, tokens, d, send_token)
        if not alive:
            return await self._abandoned(conn)
        if d.fault in ("error_mid", "failed"):
            message_text = (
                "The server had an error while processing your request. Sorry about that!"
            )
            if d.fault == "error_mid":
                frame = event("error", code="server_error", message=message_text, param=None)
            else:
                failure = {"code": "server_error", "message": message_text}
                frame = lifecycle("response.failed", "failed", error=failure)
            if await conn.send_chunk(frame):
                await conn.end_chunks()
            self._bump("errored")
            return False  # close the connection after a mid-stream failure
        part = message["content"][0]
        frames = [
            event("response.output_text.done", **where, text=part["text"], logprobs=[]),
            event("response.content_part.done", **where, part=part),
            event("response.output_item.done", output_index=index, item=message),
        ]
        done.append(message)
        usage = self._responses_usage(body, len(tokens), len(_words(d.think or "")))
        if d.finish == "length":
            reason = {"reason": "max_output_tokens"}
            frames.append(lifecycle("response.incomplete", "incomplete", usage, incomplete=reason))
        else:
            frames.append(lifecycle("response.completed", "completed", usage))
        return await self._responses_finish(conn, b"".join(frames))

    async def _responses_finish(self, conn: _Conn, frames: bytes) -> bool:
        if not await conn.send_chunk(frames) or not await conn.end_chunks():
            return await self._abandoned(conn)
        self._bump("completed")
        return True

    async def _responses_plain(self, conn: _Conn, answer: _Answer) -> bool:
        body, model, tokens, d, calls = answer
        items = self._responses_items(tokens, d, calls)
        usage = self._responses_usage(body, len(tokens), len(_words(d.think or "")))
        length = d.finish == "length" and not calls
        status = "incomplete" if length else "completed"
        incomplete = {"reason": "max_output_tokens"} if length else None
        result = self._response_object(
            body,
            f"resp_{_rand(48)}",
            int(time.time()),
            model,
            status,
            items,
            usage,
            incomplete=incomplete,
        )
        return await self._send_json(conn, 200, result)

    # ------------------------------------------------------------------ Anthropic

    @staticmethod
    def _sse(event: str, data: dict[str, Any]) -> bytes:
        return f"event: {event}\ndata: {_dumps(data)}\n\n".encode()

    async def _anthropic_stream(self, conn: _Conn, answer: _Answer) -> bool:
        body, model, tokens, d, calls = answer
        sse = self._sse
        prompt = _estimate_tokens(_all_text(body))
        start = {
            "type": "message_start",
            "message": {
                "id": f"msg_01{_rand(22)}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": prompt,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                    "cache_creation": {
                        "ephemeral_5m_input_tokens": 0,
                        "ephemeral_1h_input_tokens": 0,
                    },
                    "output_tokens": 1,
                    "service_tier": "standard",
                },
            },
        }
        if not await self._start_sse(conn):
            return await self._abandoned(conn)
        if not await conn.send_chunk(sse("message_start", start)):
            return await self._abandoned(conn)
        if d.fault == "hang":
            await conn.wait_disconnect()
            return await self._abandoned(conn)

        def block_start(index: int, block: dict[str, Any]) -> bytes:
            data = {"type": "content_block_start", "index": index, "content_block": block}
            frame = sse("content_block_start", data)
            return frame + sse("ping", {"type": "ping"}) if index == 0 else frame

        def block_delta(index: int, delta: dict[str, Any]) -> bytes:
            data = {"type": "content_block_delta", "index": index, "delta": delta}
            return sse("content_block_delta", data)

        def block_stop(index: int) -> bytes:
            return sse("content_block_stop", {"type": "content_block_stop", "index": index})

        index = 0  # of the next content block
        if d.think:  # a signed thinking block first, as with extended thinking enabled
            thinking = {"type": "thinking", "thinking": "", "signature": ""}
            frames = [block_start(0, thinking)]
            frames += [
                block_delta(0, {"type": "thinking_delta", "thinking": piece})
                for piece in _words(d.think)
            ]
            signed = {"type": "signature_delta", "signature": _signature(d.think)}
            frames += [block_delta(0, signed), block_stop(0)]
            if not await self._send_paced(conn, frames, d):
                return await self._abandoned(conn)
            index = 1
        if calls:
            frames = []
            for name, arguments in calls:
                tool_use = {"type": "tool_use", "id": f"toolu_01{_rand(22)}", "name": name}
                frames.append(block_start(index, {**tool_use, "input": {}}))
                frames += [
                    block_delta(index, {"type": "input_json_delta", "partial_json": p})
                    for p in ["", *_pieces(arguments)]
                ]
                frames.append(block_stop(index))
                index += 1
            if not await self._send_paced(conn, frames, d):
                return await self._abandoned(conn)
            return await self._anthropic_finish(conn, "tool_use", len(frames))

        text_index = index
        if not await conn.send_chunk(block_start(text_index, {"type": "text", "text": ""})):
            return await self._abandoned(conn)

        async def send_token(tok: str) -> bool:
            return await conn.send_chunk(
                block_delta(text_index, {"type": "text_delta", "text": tok})
            )

        alive, _sent = await self._emit_tokens(conn, tokens, d, send_token)
        if not alive:
            return await self._abandoned(conn)
        if d.fault == "error_mid":
            err = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
            if await conn.send_chunk(sse("error", err)):
                await conn.end_chunks()
            self._bump("errored")
            return False
        if not await conn.send_chunk(block_stop(text_index)):
            return await self._abandoned(conn)
        stop = "max_tokens" if d.finish == "length" else "end_turn"
        return await self._anthropic_finish(conn, stop, len(tokens))

    async def _anthropic_finish(self, conn: _Conn, stop_reason: str, output_tokens: int) -> bool:
        sse = self._sse
        closing = sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        ) + sse("message_stop", {"type": "message_stop"})
        if not await conn.send_chunk(closing) or not await conn.end_chunks():
            return await self._abandoned(conn)
        self._bump("completed")
        return True

    async def _anthropic_plain(self, conn: _Conn, answer: _Answer) -> bool:
        body, model, tokens, d, _calls = answer
        prompt = _estimate_tokens(_all_text(body))
        result = {
            "id": f"msg_01{_rand(22)}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "".join(tokens)}],
            "stop_reason": "max_tokens" if d.finish == "length" else "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": prompt,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": len(tokens),
                "service_tier": "standard",
            },
        }
        return await self._send_json(conn, 200, result)
