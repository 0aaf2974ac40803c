"""OpenAI's Responses API (``client.responses.create``): the OpenAI provider with
``options={"api": "responses"}``.

Its stream is typed events rather than chat-completion chunks: output items (a message,
reasoning, function calls) that open, stream their deltas and close, then one lifecycle
event that carries the whole response with its usage (``response.completed``, or
``response.incomplete`` / ``response.failed``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from .._errors import UpstreamError
from .._parts import FinishReason, Reasoning, StepFinish, ToolCall, ToolInputDelta, Usage
from ._common import Messages, ProviderConfig, StreamItem, openai_call, parse_arguments, text_of
from ._errors import upstream_error

#: ``incomplete_details.reason`` in the AI SDK's vocabulary.
INCOMPLETE_REASONS: dict[str, FinishReason] = {
    "max_output_tokens": "length",
    "content_filter": "content-filter",
}


def to_responses_input(messages: Messages) -> list[dict[str, Any]]:
    """The conversation as Responses input items.

    Messages keep their role and their text; the tool loop's history becomes the API's own
    items: an assistant turn's ``tool_calls`` one ``function_call`` each (after the turn's
    text, if any), a ``tool`` turn with a ``tool_call_id`` a ``function_call_output``. A
    ``tool`` turn without one is user context, as with chat completions.
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message["role"]
        content = message.get("content")
        if role == "tool":
            if "tool_call_id" in message:
                out.append(
                    {
                        "type": "function_call_output",
                        "call_id": message["tool_call_id"],
                        "output": text_of(content),
                    }
                )
            else:
                out.append({"role": "user", "content": "Tool result:\n" + text_of(content)})
        elif role == "assistant" and message.get("tool_calls"):
            if text_of(content):
                out.append({"role": "assistant", "content": text_of(content)})
            out += [
                {
                    "type": "function_call",
                    "call_id": call["id"],
                    "name": call["name"],
                    "arguments": json.dumps(call.get("input"), ensure_ascii=False),
                }
                for call in message["tool_calls"]
            ]
        else:
            out.append({"role": role, "content": text_of(content)})
    return out


def to_responses_tools(tools: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """Neutral tool specs as Responses function tools. ``strict`` is off: the API's
    default (on) rejects schemas with optional parameters, which plain functions have."""
    return [
        {
            "type": "function",
            "name": tool["name"],
            "description": tool.get("description") or "",
            "parameters": tool.get("parameters") or {"type": "object", "properties": {}},
            "strict": False,
        }
        for tool in tools
    ]


class _Calls:
    """The function calls of one response, by output item id: ``[call_id, name, pieces]``."""

    def __init__(self) -> None:
        self.by_item: dict[str, list[Any]] = {}
        self.finished: set[str] = set()

    def start(self, item: Any) -> None:
        call_id = getattr(item, "call_id", None) or item.id or f"call_{len(self.by_item)}"
        name = getattr(item, "name", None) or ""
        arguments = getattr(item, "arguments", None) or ""
        self.by_item[self.key(item) or call_id] = [call_id, name, [arguments]]

    def delta(self, item_id: str, delta: str) -> ToolInputDelta | None:
        call = self.by_item.get(item_id)
        if call is None or not delta:
            return None
        call[2].append(delta)
        return ToolInputDelta(call[0], call[1], delta)

    def rest(self) -> list[ToolCall]:
        """The calls a stream that ended early left open, from their argument pieces."""
        open_ = [key for key in self.by_item if key not in self.finished]
        self.finished.update(open_)
        return [
            ToolCall(call_id, name, parse_arguments("".join(pieces)))
            for call_id, name, pieces in (self.by_item[key] for key in open_)
        ]

    def finish(self, key: str, arguments: str | None = None, item: Any = None) -> ToolCall | None:
        """The complete call of output item ``key``, once: ``function_call_arguments.done``
        and ``output_item.done`` both end it, whichever comes first."""
        if key in self.finished:
            return None
        self.finished.add(key)
        call_id, name, pieces = self.by_item.get(key) or [key, "", []]
        call_id = str(getattr(item, "call_id", None) or call_id)
        name = str(getattr(item, "name", None) or name)
        if arguments is None:
            arguments = getattr(item, "arguments", None)
        if not isinstance(arguments, str):
            arguments = "".join(pieces)
        return ToolCall(call_id, name, parse_arguments(arguments))

    @staticmethod
    def key(item: Any) -> str:
        return str(getattr(item, "id", None) or getattr(item, "call_id", None) or "")


def _finish(response: Any, called: bool) -> StepFinish:
    status = getattr(response, "status", None)
    if status == "incomplete":
        details = getattr(response, "incomplete_details", None)
        reason = getattr(details, "reason", None) or ""
        return StepFinish(INCOMPLETE_REASONS.get(reason, "other"))
    return StepFinish("tool-calls" if called else "stop")


class _StreamFailure(Exception):
    """A ``response.failed`` or ``error`` event: what :func:`upstream_error` reads of it."""

    def __init__(self, code: Any) -> None:
        super().__init__("the response failed")
        self.body = {"type": code} if isinstance(code, str) else None


def _failure(code: Any) -> UpstreamError:
    """A failure the stream reports, mapped like a chat-completions stream that fails
    midway: its error code (never its message), HTTP 502."""
    return upstream_error(_StreamFailure(code), "openai")


async def stream(messages: Messages, config: ProviderConfig) -> AsyncIterator[StreamItem]:
    """Text deltas first-class; besides them, in stream order: :class:`rais.Reasoning`
    (reasoning summary and reasoning text deltas), a :class:`rais.ToolInputDelta` per
    argument fragment and a :class:`rais.ToolCall` (its ``call_id``) per function call,
    then :class:`rais.Usage` and one :class:`rais.StepFinish`."""
    openai, create, options = openai_call(config, "responses.create")
    if config.system and "instructions" not in options:
        options["instructions"] = config.system
    if config.tools:
        options["tools"] = to_responses_tools(config.tools)
    options.setdefault("max_output_tokens", config.max_tokens)
    calls = _Calls()
    try:
        response = await create(
            model=config.resolved_model,
            input=to_responses_input(messages),
            stream=True,
            **options,
        )
        async with response:
            async for event in response:
                kind = event.type
                if kind == "response.output_text.delta":
                    if event.delta:
                        yield event.delta
                elif kind in (
                    "response.reasoning_summary_text.delta",
                    "response.reasoning_text.delta",
                ):
                    if event.delta:
                        yield Reasoning(event.delta)
                elif kind == "response.reasoning_summary_part.added":
                    if event.summary_index:  # summary parts are paragraphs
                        yield Reasoning("\n\n")
                elif kind == "response.output_item.added":
                    if event.item.type == "function_call":
                        calls.start(event.item)
                elif kind == "response.function_call_arguments.delta":
                    delta = calls.delta(event.item_id, event.delta)
                    if delta is not None:
                        yield delta
                elif kind == "response.function_call_arguments.done":
                    call = calls.finish(event.item_id, event.arguments)
                    if call is not None:
                        yield call
                elif kind == "response.output_item.done":
                    if event.item.type == "function_call":
                        call = calls.finish(calls.key(event.item), item=event.item)
                        if call is not None:
                            yield call
                elif kind in ("response.completed", "response.incomplete"):
                    done = event.response
                    for item in done.output or ():  # calls not closed by their own event
                        if item.type == "function_call":
                            call = calls.finish(calls.key(item), item=item)
                            if call is not None:
                                yield call
                    usage = done.usage
                    if usage is not None:
                        yield Usage(usage.input_tokens, usage.output_tokens, usage.total_tokens)
                    yield _finish(done, bool(calls.finished))
                    return
                elif kind == "response.failed":
                    error = getattr(event.response, "error", None)
                    raise _failure(getattr(error, "code", None))
                elif kind == "error":
                    raise _failure(getattr(event, "code", None))
        for call in calls.rest():  # a server that ended without response.completed
            yield call
    except openai.OpenAIError as exc:
        raise upstream_error(exc, "openai") from exc
