"""OpenAI chat completions, and every OpenAI-compatible server through ``base_url``; the
Responses API (rais._providers.openai_responses) with ``options={"api": "responses"}``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from .._errors import RaisError
from .._parts import FinishReason, Reasoning, StepFinish, ToolCall, ToolInputDelta, Usage
from ._common import Messages, ProviderConfig, StreamItem, openai_call, parse_arguments, text_of
from ._errors import upstream_error
from .openai_responses import stream as responses_stream

#: ``finish_reason`` in the AI SDK's vocabulary (``function_call``: the legacy name).
FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool-calls",
    "function_call": "tool-calls",
    "content_filter": "content-filter",
}


def to_openai_messages(messages: Messages, system: str | None) -> list[dict[str, Any]]:
    """System prompt first; ``tool`` turns without a tool call become user context.

    The tool loop's neutral history maps to OpenAI's own: an assistant turn with
    ``tool_calls`` ``[{"id", "name", "input"}]`` to function calls with JSON arguments, a
    ``tool`` turn with a ``tool_call_id`` to OpenAI's tool message.
    """
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for message in messages:
        role = message["role"]
        if role == "tool":
            if "tool_call_id" not in message:
                text = "Tool result:\n" + text_of(message["content"])
                out.append({"role": "user", "content": text})
            else:
                out.append(
                    {
                        "role": "tool",
                        "tool_call_id": message["tool_call_id"],
                        "content": text_of(message.get("content")),
                    }
                )
        elif role == "assistant" and message.get("tool_calls"):
            out.append(
                {
                    "role": "assistant",
                    "content": message.get("content") or None,
                    "tool_calls": [
                        {
                            "id": call["id"],
                            "type": "function",
                            "function": {
                                "name": call["name"],
                                "arguments": json.dumps(call.get("input"), ensure_ascii=False),
                            },
                        }
                        for call in message["tool_calls"]
                    ],
                }
            )
        else:
            out.append({"role": role, "content": message["content"]})
    return out


def to_openai_tools(tools: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """Neutral tool specs (``name``, ``description``, ``parameters``) as OpenAI functions."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool["name"],
                "description": tool.get("description") or "",
                "parameters": tool.get("parameters") or {"type": "object", "properties": {}},
            },
        }
        for tool in tools
    ]


class _Calls:
    """The tool calls of one streamed choice, assembled from their deltas by index."""

    def __init__(self) -> None:
        self.by_index: dict[int, list[Any]] = {}  # index -> [id, name, argument pieces]

    def add(self, deltas: Any) -> list[ToolInputDelta]:
        out = []
        for delta in deltas:
            index = delta.index or 0
            function = delta.function
            call = self.by_index.get(index)
            if call is None:
                call = self.by_index[index] = [delta.id or f"call_{index}", "", []]
            elif delta.id:
                call[0] = delta.id
            if function is not None:
                if function.name:
                    call[1] = function.name
                if function.arguments:
                    call[2].append(function.arguments)
                    out.append(ToolInputDelta(call[0], call[1], function.arguments))
        return out

    def complete(self) -> list[ToolCall]:
        calls = [
            ToolCall(call_id, name, parse_arguments("".join(pieces)))
            for _, (call_id, name, pieces) in sorted(self.by_index.items())
        ]
        self.by_index.clear()
        return calls


#: The OpenAI APIs ``options={"api": ...}`` chooses from (``chat`` when not given).
APIS = ("chat", "responses")


def stream(messages: Messages, config: ProviderConfig) -> AsyncIterator[StreamItem]:
    """Chat completions, or the Responses API with ``options={"api": "responses"}`` (an
    option rather than a provider of its own, so that ``configure`` can choose it per
    request like any other option; the key, ``base_url`` and client are the same)."""
    check_options(config.options)
    if config.options.get("api") == "responses":
        return responses_stream(messages, config)
    return chat_stream(messages, config)


def check_options(options: dict[str, Any]) -> None:
    """Raise :class:`RaisError` for an ``api`` option that is not one of :data:`APIS`."""
    api = options.get("api", "chat")
    if api not in APIS:
        known = ", ".join(repr(name) for name in APIS)
        raise RaisError(f"Unknown OpenAI api {api!r}: use one of {known}.", status=500)


async def chat_stream(messages: Messages, config: ProviderConfig) -> AsyncIterator[StreamItem]:
    """Text chunks first-class; besides them, in stream order: :class:`rais.Reasoning`
    (``reasoning_content`` / ``reasoning`` deltas of DeepSeek, vLLM, Ollama ...), a
    :class:`rais.ToolInputDelta` per argument fragment, a :class:`rais.ToolCall` per call
    once the choice finishes, :class:`rais.Usage`, and last one :class:`rais.StepFinish`."""
    openai, create, options = openai_call(config, "chat.completions.create")
    if config.usage and "stream_options" not in options:
        options["stream_options"] = {"include_usage": True}  # a last chunk carries usage
    if config.tools:
        options["tools"] = to_openai_tools(config.tools)
    finish: StepFinish | None = None  # held: the usage chunk comes after the finish_reason
    calls = _Calls()
    try:
        response = await create(
            model=config.resolved_model,
            messages=to_openai_messages(messages, config.system),
            stream=True,
            **options,
        )
        async with response:
            async for chunk in response:
                if chunk.choices:
                    choice = chunk.choices[0]
                    delta = choice.delta
                    text = delta.content
                    if text:
                        yield text
                    extra = delta.model_extra
                    if extra:  # OpenAI-compatible servers' reasoning
                        reasoning = extra.get("reasoning_content") or extra.get("reasoning")
                        if reasoning and isinstance(reasoning, str):
                            yield Reasoning(reasoning)
                    if delta.tool_calls:
                        for item in calls.add(delta.tool_calls):
                            yield item
                    if choice.finish_reason:
                        for call in calls.complete():
                            yield call
                        finish = StepFinish(FINISH_REASONS.get(choice.finish_reason, "other"))
                usage = getattr(chunk, "usage", None)
                if usage is not None:
                    yield Usage(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)
        for call in calls.complete():  # a server that ended without a finish_reason
            yield call
        if finish is not None:
            yield finish
    except openai.OpenAIError as exc:
        raise upstream_error(exc, "openai") from exc
