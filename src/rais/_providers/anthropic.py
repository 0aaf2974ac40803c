"""Anthropic Messages API streaming."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

from .._parts import FinishReason, Reasoning, StepFinish, ToolCall, ToolInputDelta, Usage
from ._common import (
    Messages,
    ProviderConfig,
    StreamItem,
    cached_client,
    client_key,
    client_options,
    missing_key,
    missing_sdk,
    sdk_options,
    text_of,
)
from ._errors import upstream_error

#: ``stop_reason`` in the AI SDK's vocabulary; any other (``pause_turn`` ...) is "other".
STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool-calls",
    "refusal": "content-filter",
}

#: The signed thinking blocks that came before recent tool calls, by tool call id. With
#: extended thinking on, Anthropic wants them back, unchanged, at the start of the
#: assistant turn that asked for the tools; the tool loop's neutral history carries only
#: text and calls, so the provider keeps them here (bounded) and puts them back.
_THINKING: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
_THINKING_KEPT = 512


def _remember_thinking(call_id: str, blocks: list[dict[str, Any]]) -> None:
    _THINKING[call_id] = blocks
    while len(_THINKING) > _THINKING_KEPT:
        _THINKING.popitem(last=False)


def _assistant_with_tools(message: dict[str, Any]) -> dict[str, Any]:
    """A neutral assistant turn with ``tool_calls`` as Anthropic content blocks: its own
    ``provider_content`` if it carries one, else the thinking that came with the calls,
    the text, then a ``tool_use`` block per call."""
    content = message.get("provider_content")
    if not content:
        calls = message["tool_calls"]
        content = []
        for call in calls:
            thinking = _THINKING.get(call["id"])
            if thinking:
                content += thinking
                break
        text = text_of(message.get("content"))
        if text:
            content.append({"type": "text", "text": text})
        for call in calls:
            arguments = call.get("input")
            content.append(
                {
                    "type": "tool_use",
                    "id": call["id"],
                    "name": call["name"],
                    "input": arguments if isinstance(arguments, dict) else {},
                }
            )
    return {"role": "assistant", "content": list(content)}


def to_anthropic(messages: Messages, system: str | None) -> tuple[str | None, list[dict[str, Any]]]:
    """Split out the system prompt: ``system`` first, then any system-role turns, merged.

    The tool loop's neutral history maps to content blocks: an assistant turn with
    ``tool_calls`` to ``tool_use`` blocks, consecutive ``tool`` turns with a
    ``tool_call_id`` to one user turn of ``tool_result`` blocks. A ``tool`` turn without
    one is user context, as before.
    """
    systems = [system] if system else []
    turns: list[dict[str, Any]] = []
    results: list[dict[str, Any]] | None = None  # the tool_result blocks being gathered
    for message in messages:
        role = message["role"]
        if role == "tool" and "tool_call_id" in message:
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": message["tool_call_id"],
                "content": text_of(message.get("content")),
            }
            if message.get("is_error"):
                block["is_error"] = True
            if results is None:
                results = []
                turns.append({"role": "user", "content": results})
            results.append(block)
            continue
        results = None
        if role == "system":
            systems.append(text_of(message["content"]))
        elif role == "tool":
            turns.append(
                {"role": "user", "content": "Tool result:\n" + text_of(message["content"])}
            )
        elif role == "assistant" and message.get("tool_calls"):
            turns.append(_assistant_with_tools(message))
        else:
            turns.append({"role": role, "content": message["content"]})
    return ("\n\n".join(systems) or None), turns


def to_anthropic_tools(tools: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """Neutral tool specs (``name``, ``description``, ``parameters``) as Anthropic tools."""
    out = []
    for tool in tools:
        spec: dict[str, Any] = {
            "name": tool["name"],
            "input_schema": tool.get("parameters") or {"type": "object", "properties": {}},
        }
        if tool.get("description"):
            spec["description"] = tool["description"]
        out.append(spec)
    return out


async def stream(messages: Messages, config: ProviderConfig) -> AsyncIterator[StreamItem]:
    """Text chunks first-class; besides them, in stream order: :class:`rais.Usage` (input
    tokens first), :class:`rais.Reasoning` from ``thinking`` blocks (never text), a
    :class:`rais.ToolInputDelta` per ``input_json_delta`` and a :class:`rais.ToolCall` at the
    end of each ``tool_use`` block, the output tokens' :class:`rais.Usage`, and last one
    :class:`rais.StepFinish`."""
    try:
        import anthropic
    except ImportError:
        raise missing_sdk("anthropic") from None
    api_key = config.resolved_key()
    if not api_key:
        raise missing_key("anthropic")

    client = cached_client(
        client_key(config, api_key),
        lambda: anthropic.AsyncAnthropic(**client_options(config, api_key)),
    )
    system, turns = to_anthropic(messages, config.system)
    request: dict[str, Any] = {
        "model": config.resolved_model,
        "max_tokens": config.max_tokens,
        "messages": turns,
        **sdk_options(client.messages.stream, config.options),
    }
    if system:
        request["system"] = system
    if config.tools:
        request["tools"] = to_anthropic_tools(config.tools)
    finish: StepFinish | None = None
    tool: tuple[str, str] | None = None  # (id, name) of the tool_use block being streamed
    thinking: list[dict[str, Any]] = []  # this turn's signed thinking blocks
    try:
        async with client.messages.stream(**request) as response:
            async for event in response:
                kind = event.type
                if kind == "text":
                    if event.text:
                        yield event.text
                elif kind == "content_block_delta":
                    pass  # the SDK's text / thinking / input_json events follow it
                elif kind == "thinking":
                    if event.thinking:
                        yield Reasoning(event.thinking)
                elif kind == "input_json":
                    if event.partial_json and tool is not None:
                        yield ToolInputDelta(tool[0], tool[1], event.partial_json)
                elif kind == "content_block_start":
                    block = event.content_block
                    if block.type == "tool_use":
                        tool = (block.id, block.name)
                elif kind == "content_block_stop":
                    block = event.content_block
                    if block.type == "tool_use":
                        tool = None
                        if thinking:
                            _remember_thinking(block.id, thinking)
                        arguments = block.input
                        yield ToolCall(block.id, block.name, {} if arguments is None else arguments)
                    elif block.type == "thinking":
                        thinking.append(
                            {
                                "type": "thinking",
                                "thinking": block.thinking,
                                "signature": block.signature,
                            }
                        )
                    elif block.type == "redacted_thinking":
                        thinking.append({"type": "redacted_thinking", "data": block.data})
                elif kind == "message_start":  # input tokens come first, output at the end
                    yield Usage(prompt_tokens=event.message.usage.input_tokens)
                elif kind == "message_delta":
                    if event.usage is not None:
                        yield Usage(completion_tokens=event.usage.output_tokens)
                    stop = event.delta.stop_reason
                    if stop:
                        finish = StepFinish(STOP_REASONS.get(stop, "other"))
        if finish is not None:
            yield finish
    except anthropic.AnthropicError as exc:
        raise upstream_error(exc, "anthropic") from exc
