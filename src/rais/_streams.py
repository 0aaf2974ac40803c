"""``stream_response`` and ``stream_text``: a provider's answer from inside any view or handler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ._events import sse_text
from ._pipeline import rais_events
from ._providers import ProviderConfig, StreamItem, provider_stream

__all__ = ["stream_response", "stream_text"]


async def stream_response(
    messages: list[dict[str, Any]],
    *,
    provider: str,
    api_key: str | None = None,
    model: str | None = None,
    max_tokens: int = 1024,
    system: str | None = None,
    base_url: str | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    **options: Any,
) -> AsyncIterator[str]:
    """Stream a chat answer as RAIS SSE strings (``data: {...}\\n\\n``).

    ``provider`` is ``"openai"`` (default model ``gpt-4o-mini``) or ``"anthropic"``
    (default ``claude-sonnet-4-6``; ``max_tokens`` applies to it). The key falls back
    to ``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY``; ``base_url`` reaches any
    OpenAI-compatible server. Extra keyword ``options`` (``temperature``, ``top_p``,
    ...) pass through to the SDK call. Failures become one ``error`` event; the
    stream always ends with ``done`` or ``error``.
    """
    text = stream_text(
        messages,
        provider=provider,
        api_key=api_key,
        model=model,
        max_tokens=max_tokens,
        system=system,
        base_url=base_url,
        timeout=timeout,
        max_retries=max_retries,
        **options,
    )
    events = rais_events(text, secrets=(api_key,))
    try:
        async for event in events:
            yield sse_text(event)
    finally:  # a client that left cancels the upstream call now, not at garbage collection
        await events.aclose()


def stream_text(
    messages: list[dict[str, Any]],
    *,
    provider: str,
    api_key: str | None = None,
    model: str | None = None,
    max_tokens: int = 1024,
    system: str | None = None,
    base_url: str | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    usage: bool = True,
    **options: Any,
) -> AsyncIterator[StreamItem]:
    """Stream a provider's answer as text chunks, plus :class:`Usage` when it reports it,
    the model's :class:`Reasoning` and, last, a :class:`StepFinish` with its finish reason.

    For handlers: return it (or yield from it) and rais frames the text and hands the
    usage to ``on_finish``. SDK errors are raised as :class:`UpstreamError` with the
    provider's HTTP status. ``usage=False`` stops asking OpenAI-compatible servers for
    usage (some reject ``stream_options``). In an endpoint with ``provider=``,
    ``chat.stream(**overrides)`` does the same with the request's settings.
    """
    config = ProviderConfig(
        provider=provider,
        model=model,
        api_key=api_key,
        base_url=base_url,
        system=system,
        max_tokens=max_tokens,
        timeout=timeout,
        max_retries=max_retries,
        usage=usage,
        options=options,
    )
    return provider_stream(messages, config)
