"""Anthropic Messages API streaming."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .._chat import Usage
from ._common import (
    Messages,
    ProviderConfig,
    cached_client,
    client_key,
    client_options,
    missing_key,
    missing_sdk,
    sdk_options,
    text_of,
)
from ._errors import upstream_error


def to_anthropic(messages: Messages, system: str | None) -> tuple[str | None, list[dict[str, Any]]]:
    """Split out the system prompt: ``system`` first, then any system-role turns, merged."""
    systems = [system] if system else []
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = message["role"]
        if role == "system":
            systems.append(text_of(message["content"]))
        elif role == "tool":
            turns.append(
                {"role": "user", "content": "Tool result:\n" + text_of(message["content"])}
            )
        else:
            turns.append({"role": role, "content": message["content"]})
    return ("\n\n".join(systems) or None), turns


async def stream(messages: Messages, config: ProviderConfig) -> AsyncIterator[str | Usage]:
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
    try:
        async with client.messages.stream(**request) as response:
            async for event in response:
                kind = event.type
                if kind == "text":
                    if event.text:
                        yield event.text
                elif kind == "message_start":  # input tokens come first, output at the end
                    yield Usage(prompt_tokens=event.message.usage.input_tokens)
                elif kind == "message_delta" and event.usage is not None:
                    yield Usage(completion_tokens=event.usage.output_tokens)
    except anthropic.AnthropicError as exc:
        raise upstream_error(exc, "anthropic") from exc
