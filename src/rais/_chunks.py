"""Chunks from LangChain, LlamaIndex and pydantic-ai, taken as those frameworks stream them.

A handler can return ``llm.astream(messages)`` or a LlamaIndex streaming response
without writing a conversion loop. The frameworks are recognised by the module their
classes live in and by duck typing, never by importing them: ``import rais`` stays
light, and a user's subclass of a framework's chunk is still recognised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._chat import Usage

__all__ = ["Usage", "chunk_item", "source_of"]


def _usage(prompt: object, completion: object, total: object) -> Usage:
    p, c, t = (
        v if isinstance(v, int) and not isinstance(v, bool) else None
        for v in (prompt, completion, total)
    )
    if t is None and p is not None and c is not None:
        t = p + c
    return Usage(p, c, t)


# The top-level packages whose objects are recognised, by the module a class lives in.
_FAMILIES = {
    "langchain_core": "langchain",
    "langchain": "langchain",
    "llama_index": "llama_index",
    "pydantic_ai": "pydantic_ai",
}
_family_cache: dict[type, str | None] = {}


def _family(cls: type) -> str | None:
    """Which framework defined ``cls`` or one of its bases (cached: chunks repeat one type)."""
    try:
        return _family_cache[cls]
    except KeyError:
        pass
    family = None
    for base in cls.__mro__:
        family = _FAMILIES.get(base.__module__.partition(".")[0])
        if family is None and base.__module__ == "workflows.events" and base.__name__ == "Event":
            family = "llama_index"  # LlamaIndex's workflows (agents) live in their own package
        if family is not None:
            break
    if len(_family_cache) < 1024:
        _family_cache[cls] = family
    return family


def chunk_item(item: object) -> str | Usage | tuple[str, Usage] | None:
    """Convert one item a framework streamed: its text, its usage, both, or ``None``.

    ``None`` means the chunk has nothing to send (a tool-call fragment, an image, an
    empty delta). A chunk that carries text and usage at once (Gemini through
    LangChain does) gives ``(text, usage)``. Raises TypeError for anything else.
    """
    if isinstance(item, str):  # StrOutputParser, stream_text(delta=True), response_gen
        return item or None
    if isinstance(item, Usage):
        return item
    family = _family(type(item))
    if family == "langchain":
        return _langchain(item)
    if family == "llama_index":
        return _llama_index(item)
    if family == "pydantic_ai":
        return _pydantic_ai(item)
    raise TypeError(
        f"a stream source yielded {_name(item)}: expected text (str), an event dict, a "
        "rais_event() string, or a LangChain, LlamaIndex or pydantic-ai chunk"
    )


def source_of(obj: object) -> object:
    """Unwrap a framework's response object that is not itself the stream.

    A LlamaIndex ``StreamingResponse`` (``query_engine.query`` with ``streaming=True``)
    becomes its ``response_gen``, an ``AsyncStreamingResponse`` or an async chat
    engine's response its ``async_response_gen()``; a single LangChain message (what
    ``ainvoke`` returns) becomes a one-item stream. Anything else is returned as is.
    """
    family = _family(type(obj))
    if family == "llama_index":
        return _llama_index_source(obj)
    if family == "langchain" and _is_langchain_message(obj):
        # A message is a pydantic model, and iterating one yields its fields.
        return (obj,)
    return obj


def _name(item: object) -> str:
    cls = type(item)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def _with_usage(text: str, usage: Usage | None) -> str | Usage | tuple[str, Usage] | None:
    if usage is None:
        return text or None
    return (text, usage) if text else usage


# --- LangChain -----------------------------------------------------------------------


def _is_langchain_message(obj: object) -> bool:
    return hasattr(obj, "content") and hasattr(obj, "additional_kwargs")


def _langchain(item: Any) -> str | Usage | tuple[str, Usage] | None:
    if _is_langchain_message(item):  # AIMessageChunk and every other BaseMessage(Chunk)
        return _with_usage(_content_text(item.content), _langchain_usage(item))
    message = getattr(item, "message", None)
    if message is not None and _is_langchain_message(message):  # ChatGenerationChunk
        return _langchain(message)
    text = getattr(item, "text", None)
    if isinstance(text, str):  # GenerationChunk from a completion model
        return text or None
    raise TypeError(
        f"a stream source yielded {_name(item)}: rais streams LangChain message chunks "
        "(llm.astream(...), chain.astream(...)) and strings (StrOutputParser)"
    )


def _content_text(content: object) -> str:
    """A message's text: a str, or the text blocks of a list (tool calls, images skipped)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, Mapping) and block.get("type") == "text":
            text = block.get("text")
            if isinstance(text, str):
                parts.append(text)
    return "".join(parts)


def _langchain_usage(message: Any) -> Usage | None:
    usage = getattr(message, "usage_metadata", None)
    if not isinstance(usage, Mapping):
        return None
    return _usage(usage.get("input_tokens"), usage.get("output_tokens"), usage.get("total_tokens"))


# --- LlamaIndex ----------------------------------------------------------------------


def _llama_index(item: Any) -> str | None:
    if hasattr(item, "delta"):
        # ChatResponse / CompletionResponse, and an agent workflow's AgentStream: their
        # ``.text`` / ``.message`` / ``.response`` are the answer so far, so only the
        # delta is new.
        delta = item.delta
        return delta if isinstance(delta, str) and delta else None
    if hasattr(item, "response_gen"):
        raise TypeError(
            f"a stream source yielded {_name(item)}: return the streaming response "
            "from the handler instead of yielding it"
        )
    if _is_workflow_event(type(item)) and type(item).__module__.startswith(
        ("llama_index.", "workflows.")
    ):  # the agents' own AgentInput, ToolCall, AgentOutput, StopEvent, ...: no text
        return None
    raise TypeError(
        f"a stream source yielded {_name(item)}: rais streams LlamaIndex ChatResponse and "
        "CompletionResponse chunks (stream_chat, astream_complete, ...), streaming "
        "responses and agent workflow events (handler.stream_events()); give your own "
        "workflow event a 'delta' text field to stream it"
    )


def _is_workflow_event(cls: type) -> bool:
    return any(b.__module__ == "workflows.events" and b.__name__ == "Event" for b in cls.__mro__)


def _llama_index_source(obj: Any) -> object:
    if getattr(obj, "achat_stream", None) is not None:  # chat_engine.astream_chat(...)
        return obj.async_response_gen()
    if getattr(obj, "chat_stream", None) is not None:  # chat_engine.stream_chat(...)
        return obj.response_gen
    gen = getattr(obj, "response_gen", None)
    if gen is None:
        return obj
    if hasattr(gen, "__aiter__") and callable(getattr(obj, "async_response_gen", None)):
        return obj.async_response_gen()  # AsyncStreamingResponse, also after a partial read
    if isinstance(gen, Iterable):  # StreamingResponse
        consumed = getattr(obj, "response_txt", None)
        if isinstance(consumed, str):  # str(response) already drained the generator
            return (consumed,)
        return gen
    return obj


# --- pydantic-ai ---------------------------------------------------------------------


def _pydantic_ai(item: Any) -> Usage:
    if hasattr(item, "input_tokens"):  # result.usage
        return _usage(item.input_tokens, item.output_tokens, getattr(item, "total_tokens", None))
    if hasattr(item, "request_tokens"):  # older pydantic-ai releases
        return _usage(item.request_tokens, item.response_tokens, item.total_tokens)
    raise TypeError(
        f"a stream source yielded {_name(item)}: with pydantic-ai, yield the text of "
        "result.stream_text(delta=True) inside agent.run_stream(...), then result.usage"
    )
