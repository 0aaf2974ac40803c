"""OpenAI chat completions, and every OpenAI-compatible server through ``base_url``."""

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


def to_openai_messages(messages: Messages, system: str | None) -> list[dict[str, Any]]:
    """System prompt first; ``tool`` turns without a tool call become user context."""
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for message in messages:
        role = message["role"]
        if role == "tool" and "tool_call_id" not in message:
            out.append({"role": "user", "content": "Tool result:\n" + text_of(message["content"])})
        else:
            out.append({"role": role, "content": message["content"]})
    return out


async def stream(messages: Messages, config: ProviderConfig) -> AsyncIterator[str | Usage]:
    try:
        import openai
    except ImportError:
        raise missing_sdk("openai") from None
    api_key = config.resolved_key()
    if not api_key and not config.base_url:
        raise missing_key("openai")

    client = cached_client(
        client_key(config, api_key),
        lambda: openai.AsyncOpenAI(**client_options(config, api_key or "not-needed")),
    )
    options = sdk_options(client.chat.completions.create, config.options)
    if config.usage and "stream_options" not in options:
        options["stream_options"] = {"include_usage": True}  # a last chunk carries usage
    try:
        response = await client.chat.completions.create(
            model=config.resolved_model,
            messages=to_openai_messages(messages, config.system),
            stream=True,
            **options,
        )
        async with response:
            async for chunk in response:
                if chunk.choices:
                    text = chunk.choices[0].delta.content
                    if text:
                        yield text
                usage = getattr(chunk, "usage", None)
                if usage is not None:
                    yield Usage(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)
    except openai.OpenAIError as exc:
        raise upstream_error(exc, "openai") from exc
