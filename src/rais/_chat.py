"""What an app sees of one chat: the request (:class:`Chat`), and its end (:class:`StreamResult`).

One :class:`Chat` is built per request by the core, on every adapter and transport.
``configure(chat)`` and ``handler(chat)`` get it with the validated messages, the
extra body fields, the framework's own request object and its headers, so an app
can authenticate, pick a model and remember who asked without ContextVars or
re-reading the body. ``on_finish(result)`` gets a :class:`StreamResult` exactly once
per stream, whatever ended it, with the text, the outcome, timings and token usage.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ._errors import redact
from ._request import Headers, RequestError
from .shutdown import server_stopping

__all__ = ["Chat", "OnFinish", "Outcome", "StreamResult", "Usage"]

logger = logging.getLogger("rais")
access_log = logging.getLogger("rais.access")

#: How a stream ended: ``done``/``error`` (its terminal event), the client left, the
#: server shut down, the client stopped reading (send timeout), or it was refused
#: with an HTTP error before streaming.
Outcome = Literal["done", "error", "disconnected", "shutdown", "timeout", "refused"]


@dataclass(frozen=True)
class Usage:
    """Token usage as the provider reported it; ``None`` means not reported, not zero.

    A source may yield one; it is recorded for ``on_finish``, never sent. Reports in
    one stream add up: Anthropic (and LangChain) report the prompt tokens first and the
    completion tokens at the end.
    """

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.total_tokens is None and None not in (self.prompt_tokens, self.completion_tokens):
            total = (self.prompt_tokens or 0) + (self.completion_tokens or 0)
            object.__setattr__(self, "total_tokens", total)

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        prompt = _plus(self.prompt_tokens, other.prompt_tokens)
        completion = _plus(self.completion_tokens, other.completion_tokens)
        if prompt is not None and completion is not None:
            return Usage(prompt, completion)  # the total follows from the parts
        return Usage(prompt, completion, _plus(self.total_tokens, other.total_tokens))


def _plus(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else a + b


class Chat:
    """One chat request: validated ``messages``, the client's ``extra`` body fields, the
    framework's ``request`` (Starlette/FastAPI ``Request``, Django ``HttpRequest``,
    Flask/Quart ``request``, ...) and its ``headers``.

    ``state`` is the app's own per-request storage (a user id set in ``configure``,
    read back in ``on_finish``); ``log`` adds ``key=value`` fields to the access line.
    """

    __slots__ = (
        "_stream_with",
        "extra",
        "headers",
        "log",
        "messages",
        "protocol",
        "request",
        "settings",
        "state",
    )

    def __init__(
        self,
        messages: list[dict[str, Any]],
        extra: Mapping[str, Any] | None = None,
        *,
        request: Any = None,
        headers: Headers | None = None,
        protocol: str = "rais",
    ) -> None:
        self.messages = messages
        #: The wire protocol of this request: ``rais``, ``ai-sdk`` or ``ag-ui``.
        self.protocol = protocol
        self.extra: dict[str, Any] = dict(extra or {})
        self.request = request
        self.headers: Any = headers if headers is not None else {}
        self.state: dict[str, Any] = {}
        self.log: dict[str, object] = {}
        #: Provider settings for this request: the endpoint's, then ``configure``'s.
        self.settings: dict[str, Any] = {}
        self._stream_with: Callable[[Mapping[str, Any]], AsyncIterator[Any]] | None = None

    def stream(self, **overrides: Any) -> AsyncIterator[Any]:
        """Stream the endpoint's provider for these messages, from inside a handler.

        Uses this request's settings (the endpoint's, then ``configure``'s) with
        ``overrides`` on top (``system=``, ``model=``, ``temperature=``, ...), and
        records token usage for ``on_finish``. The endpoint needs ``provider=``.
        """
        if self._stream_with is None:
            raise RuntimeError(
                "chat.stream() needs an endpoint with provider= (and handler=), "
                "or use rais.provider_stream(messages, provider=...)"
            )
        return self._stream_with(overrides)

    def option(
        self,
        name: str,
        *,
        allowed: Collection[Any] | Callable[[Any], bool] | None = None,
        between: tuple[float, float] | None = None,
        default: Any = None,
    ) -> Any:
        """A client-chosen body field, used only when the server allows it.

        Missing: ``default``. Present but not in ``allowed`` (or outside ``between``,
        inclusive): a 422 JSON error before streaming starts.
        """
        if name not in self.extra or self.extra[name] is None:
            return default
        value = self.extra[name]
        ok = True
        if between is not None:
            low, high = between
            ok = (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and low <= value <= high
            )
        if ok and allowed is not None:
            ok = allowed(value) if callable(allowed) else _member(value, allowed)
        if not ok:
            hint = f" (between {between[0]} and {between[1]})" if between else ""
            if allowed is not None and not callable(allowed):
                hint = " (one of " + ", ".join(repr(v) for v in allowed) + ")"
            raise RequestError(422, f"'{name}' is not an allowed value{hint}.", kind="not_allowed")
        return value

    def __repr__(self) -> str:  # never the content: reprs end up in logs
        return f"<Chat messages={len(self.messages)} extra={sorted(self.extra)}>"


def _member(value: Any, allowed: Collection[Any]) -> bool:
    try:
        return value in allowed
    except TypeError:  # an unhashable value (a list) against a set
        return False


@dataclass(frozen=True)
class StreamResult:
    """How one stream ended, for ``on_finish``: called once per stream, on every transport."""

    chat: Chat
    #: The text streamed so far (the whole answer when ``outcome == "done"``).
    text: str
    outcome: Outcome
    #: The safe message of the ``error`` event (or of the refusal), else ``None``.
    error: str | None
    #: 200 once streaming started; the HTTP status of a refusal otherwise.
    status: int
    #: How many text chunks were streamed.
    chunks: int
    #: Seconds from the request to the first text chunk (``None``: there was none).
    ttft: float | None
    duration: float
    model: str | None
    usage: Usage | None
    #: The resumable stream's id, when resumable streams are on.
    stream_id: str | None = None


OnFinish = Callable[[StreamResult], "Awaitable[None] | None"]

# on_finish calls in flight, held so they are not garbage-collected before they end.
_finishing: set[asyncio.Future[Any]] = set()


class Turn:
    """The running record of one stream: the pipeline appends text, usage and the
    failure; the writer that ends the stream calls :meth:`finish` (once)."""

    __slots__ = (
        "chat",
        "failure",
        "finished",
        "first_token",
        "kind",
        "model",
        "on_finish",
        "parts",
        "started",
        "stream_id",
        "usage",
    )

    def __init__(
        self,
        chat: Chat | None = None,
        *,
        on_finish: OnFinish | None = None,
        model: str | None = None,
        kind: str = "stream",
        started: float | None = None,
    ) -> None:
        self.chat = chat if chat is not None else Chat([])
        self.on_finish = on_finish
        self.model = model
        self.kind = kind
        self.started = time.perf_counter() if started is None else started
        self.parts: list[str] = []  #: text chunks, appended by the pipeline
        self.first_token: float | None = None
        self.usage: Usage | None = None
        self.failure: BaseException | None = None  #: what ended the stream with an error
        self.stream_id: str | None = None
        self.finished = False

    def add_usage(self, usage: Usage) -> None:
        self.usage = usage if self.usage is None else self.usage + usage

    async def settle(self, outcome: Outcome, error: str | None, timeout: float | None) -> None:
        """Finish before the client reads the end: wait (at most ``timeout`` seconds) for
        ``on_finish``, so a client that sends its next turn the moment it sees ``done``
        finds this one saved. A slower callback is logged and the stream ends anyway."""
        pending = self.finish(outcome, error)
        if pending is None or not timeout or timeout <= 0:
            return
        done, _ = await asyncio.wait([pending], timeout=timeout)
        if not done:
            logger.warning(
                "on_finish took more than %.1f s (on_finish_timeout): the stream ended anyway",
                timeout,
            )

    def finish(
        self, outcome: Outcome, error: str | None = None, status: int = 200
    ) -> asyncio.Future[Any] | None:
        """Log the stream's line and hand its result to ``on_finish`` (the callback's future,
        when it runs on this loop or a worker thread); later calls do nothing."""
        if self.finished:
            return None
        self.finished = True
        duration = time.perf_counter() - self.started
        self._log(outcome, status, duration)
        if self.on_finish is None:
            return None
        result = StreamResult(
            chat=self.chat,
            text="".join(self.parts),
            outcome=outcome,
            error=error,
            status=status,
            chunks=len(self.parts),
            ttft=self.first_token,
            duration=duration,
            model=self.model,
            usage=self.usage,
            stream_id=self.stream_id,
        )
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a sync caller): call it here
            _call_sync(self.on_finish, result)
            return None
        future: asyncio.Future[Any]
        if not _is_async(self.on_finish):
            # Queued on a worker thread now, not from a task: a server tearing its loop
            # down cancels pending tasks (and their executor jobs), never a queued job.
            future = loop.run_in_executor(None, _call_sync, self.on_finish, result)
        elif outcome == "shutdown" or server_stopping():
            # The loop is about to be torn down, cancelling every task: run the callback
            # to its end on a loop of its own, in a (non-daemon) thread the exit waits for.
            threading.Thread(
                target=_call_sync, args=(self.on_finish, result), name="rais-on-finish"
            ).start()
            return None
        else:
            future = asyncio.ensure_future(_call(self.on_finish, result), loop=loop)
        _finishing.add(future)
        future.add_done_callback(_finishing.discard)
        return future

    def _log(self, outcome: str, status: int, duration: float) -> None:
        if not access_log.isEnabledFor(logging.INFO):
            return
        usage = self.usage
        tokens = usage.completion_tokens if usage is not None else None
        fields = _fields(self.chat.log)
        access_log.info(
            "%s %s status=%d chunks=%d tokens=%s ttft=%s duration=%.3fs protocol=%s%s",
            self.kind,
            outcome,
            status,
            len(self.parts),
            "-" if tokens is None else tokens,
            "-" if self.first_token is None else f"{self.first_token:.3f}s",
            duration,
            self.chat.protocol,
            fields,
        )


#: What could forge a field or rewrite a terminal line: spaces and every control and format
#: character (tabs, ANSI escapes, NUL, NEL, the line and paragraph separators, bidi marks).
_UNSAFE = re.compile(
    "[\x00-\x20\x7f-\xa0\u00ad\u061c\u180e\u2000-\u200f\u2028-\u202f"
    "\u205f-\u206f\u3000\ufeff\ufff9-\ufffb]"
)


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return "_" if char == " " else char.encode("unicode_escape").decode("ascii")


def log_value(value: object, limit: int = 100) -> str:
    """One access-line value that cannot forge another field or line: unsafe characters are
    escaped (``\\x1b``, ``\\t``), spaces become ``_``, secrets are redacted."""
    text = redact(str(value))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _UNSAFE.sub(_escaped, text) or "-"


def _fields(log: Mapping[str, object]) -> str:
    """``key=value`` pairs an app added, each made safe by :func:`log_value`."""
    return "".join(f" {log_value(key, 40)}={log_value(value)}" for key, value in log.items())


def _is_async(callback: OnFinish) -> bool:
    return asyncio.iscoroutinefunction(callback) or asyncio.iscoroutinefunction(
        getattr(callback, "__call__", None)  # noqa: B004 - an object with an async __call__
    )


async def _call(callback: OnFinish, result: StreamResult) -> None:
    """Await an async callback on the server's loop (sync ones go to a worker thread,
    see :meth:`Turn.finish`). A callback that raises is logged, never propagated."""
    try:
        outcome = callback(result)
        if isinstance(outcome, Awaitable):
            await outcome
    except Exception:
        logger.exception("on_finish raised")


def _call_sync(callback: OnFinish, result: StreamResult) -> None:
    """Call a callback in this thread; an awaitable it returns runs on a loop of its own."""
    try:
        outcome = callback(result)
        if isinstance(outcome, Awaitable):
            asyncio.run(_await(outcome))
    except Exception:
        logger.exception("on_finish raised")


async def _await(awaitable: Awaitable[None]) -> None:
    await awaitable


async def wait_for_finish_callbacks(timeout: float = 10.0) -> None:
    """Wait (bounded) for ``on_finish`` calls in flight on this loop, e.g. at shutdown."""
    loop = asyncio.get_running_loop()
    pending = [f for f in _finishing if not f.done() and f.get_loop() is loop]
    if pending:
        await asyncio.wait(pending, timeout=timeout)
