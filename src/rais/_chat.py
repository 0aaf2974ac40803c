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

from . import _telemetry
from . import _threads as threads
from ._errors import redact
from ._parts import FinishReason, Step, ToolCall, ToolResult, Usage
from ._request import Headers, RequestError
from .shutdown import server_stopping

__all__ = ["Chat", "OnFinish", "Outcome", "StreamResult", "ToolUse", "Usage"]

logger = logging.getLogger("rais")
access_log = logging.getLogger("rais.access")

#: How a stream ended: ``done``/``error`` (its terminal event), the client left, the
#: server shut down, the client stopped reading (send timeout), or it was refused
#: with an HTTP error before streaming.
Outcome = Literal["done", "error", "disconnected", "shutdown", "timeout", "refused"]


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
        "reconnect",
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
        reconnect: bool = False,
    ) -> None:
        self.messages = messages
        #: A reconnect or a resume request: no messages, and ``configure`` only authorizes
        #: it (what it returns is not used, and no ``on_finish`` follows).
        self.reconnect = reconnect
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
    #: The model's reasoning ("thinking") text, over every step.
    reasoning: str = ""
    #: Every tool call, in order, each with its result once it had one.
    tool_calls: tuple[ToolUse, ...] = ()
    #: Why the last model call stopped (``stop``, ``length``, ``tool-calls``, ...), if known.
    finish_reason: FinishReason | None = None
    #: One entry per model call (a tool loop makes several); ``usage`` is their sum.
    steps: tuple[Step, ...] = ()


@dataclass(frozen=True)
class ToolUse:
    """One tool call and what it gave back (``result`` is ``None`` if it never ran)."""

    id: str
    name: str
    input: Any
    result: ToolResult | None = None

    @property
    def output(self) -> Any:
        return None if self.result is None else self.result.output

    @property
    def error(self) -> str | None:
        return None if self.result is None else self.result.error


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
        "keeps_text",
        "kind",
        "model",
        "on_finish",
        "parts",
        "reasoning",
        "started",
        "step_start",
        "step_usage",
        "steps",
        "stream_id",
        "telemetry",
        "tool_calls",
        "tool_results",
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
        # The rarer parts (reasoning, tools, steps): recorded by the pipeline's slow path.
        self.reasoning: list[str] = []
        self.tool_calls: dict[str, ToolCall] = {}
        self.tool_results: dict[str, ToolResult] = {}
        self.steps: list[Step] = []
        self.step_start = (0, 0, 0)  #: where the open step began in parts/reasoning/calls
        self.step_usage: Usage | None = None  #: the usage reported since it began
        #: The stream's OpenTelemetry span and metrics (``None``: opentelemetry is not installed).
        self.telemetry = _telemetry.begin()
        #: Whether ``parts`` holds the text itself: only ``on_finish`` and a span that records
        #: content read it. Otherwise each chunk is counted as ``""``, so a long answer, or
        #: one a stalled client holds in buffers, is not also held a second time here.
        self.keeps_text = on_finish is not None or (
            self.telemetry is not None and _telemetry.captures_content()
        )

    def add_usage(self, usage: Usage) -> None:
        self.usage = usage if self.usage is None else self.usage + usage
        self.step_usage = usage if self.step_usage is None else self.step_usage + usage

    def end_step(self, reason: FinishReason) -> None:
        """Close the open step (one model call): what it streamed, why it stopped."""
        text_at, reasoning_at, calls_at = self.step_start
        calls = list(self.tool_calls.values())[calls_at:]
        self.steps.append(
            Step(
                text="".join(self.parts[text_at:]),
                reasoning="".join(self.reasoning[reasoning_at:]),
                tool_calls=calls,
                finish_reason=reason,
                usage=self.step_usage,
            )
        )
        self.step_start = (len(self.parts), len(self.reasoning), len(self.tool_calls))
        self.step_usage = None

    @property
    def finish_reason(self) -> FinishReason | None:
        return self.steps[-1].finish_reason if self.steps else None

    def step_open(self) -> bool:
        """Whether anything was streamed since the last step ended (or no step ended yet)."""
        return not self.steps or self.step_start != (
            len(self.parts),
            len(self.reasoning),
            len(self.tool_calls),
        )

    def final_reason(self, ok: bool) -> FinishReason:
        """The stream's finish reason at its end: the last step's, unless more followed it
        (then ``stop``, or ``error`` when the stream failed)."""
        if not ok:
            return "error"
        reason = self.finish_reason
        return "stop" if reason is None or self.step_open() else reason

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
        if outcome in ("done", "error") and self.step_open():
            self.end_step(self.final_reason(outcome == "done"))
        self._log(outcome, status, duration)
        if self.telemetry is not None:
            self.telemetry.end(self, outcome, error, duration)
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
            reasoning="".join(self.reasoning),
            tool_calls=tuple(
                ToolUse(call.id, call.name, call.input, self.tool_results.get(call.id))
                for call in self.tool_calls.values()
            ),
            finish_reason=self.finish_reason,
            steps=tuple(self._with_results(step) for step in self.steps),
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
            future = threads.run("on_finish", _call_sync, self.on_finish, result)
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

    def _with_results(self, step: Step) -> Step:
        step.tool_results = [
            self.tool_results[call.id] for call in step.tool_calls if call.id in self.tool_results
        ]
        return step

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
