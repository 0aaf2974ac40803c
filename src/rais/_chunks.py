"""Chunks from LangChain, LlamaIndex and pydantic-ai, taken as those frameworks stream them.

A handler can return ``llm.astream(messages)`` or a LlamaIndex streaming response
without writing a conversion loop. The frameworks are recognised by the module their
classes live in and by duck typing, never by importing them: ``import rais`` stays
light, and a user's subclass of a framework's chunk is still recognised.

:func:`chunk_item` gives a chunk's text and usage; :class:`ChunkParts` (one per stream,
what the pipeline uses) gives everything else too: reasoning, tool calls built from
their fragments, tool results, the end of each model call (LangChain chunks and tool
messages, pydantic-ai's agent event stream, LlamaIndex's agent workflow events).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._chat import Usage
from ._parts import FinishReason, Reasoning, StepFinish, ToolCall, ToolInputDelta, ToolResult

__all__ = ["ChunkParts", "Usage", "chunk_item", "finish_reason", "parse_arguments", "source_of"]


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
    ``ainvoke`` returns) becomes a one-item stream; pydantic-ai's
    ``agent.run_stream_events(...)`` is entered and its events streamed. Anything else is
    returned as is.
    """
    family = _family(type(obj))
    if family == "llama_index":
        return _llama_index_source(obj)
    if family == "langchain" and _is_langchain_message(obj):
        # A message is a pydantic model, and iterating one yields its fields.
        return (obj,)
    if family == "pydantic_ai" and hasattr(obj, "__aenter__") and not hasattr(obj, "__aiter__"):
        return _entered(obj)  # agent.run_stream_events(...): held open while rais streams
    return obj


async def _entered(context: Any) -> AsyncIterator[object]:
    """The events of an async context manager that gives an event stream; leaving early
    exits it, which ends the run."""
    async with context as events:
        async for event in events:
            yield event


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


# --- beyond text: reasoning, tool calls and results, steps ---------------------------

#: Each framework's finish reasons (OpenAI's, Anthropic's, Gemini's in any case) in rais's.
_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "max_tokens": "length",
    "tool_calls": "tool-calls",
    "function_call": "tool-calls",
    "tool_use": "tool-calls",
    "content_filter": "content-filter",
    "safety": "content-filter",
    "refusal": "content-filter",
    "error": "error",
}


#: Where LangChain's integrations put it: OpenAI, Gemini; Anthropic; Ollama; Bedrock.
_REASON_KEYS = ("finish_reason", "stop_reason", "done_reason", "stopReason")


def finish_reason(raw: object) -> FinishReason | None:
    """A framework's finish reason in rais's vocabulary (``None`` when there is none)."""
    if not isinstance(raw, str) or not raw:
        return None
    return _FINISH.get(raw.lower(), "other")


def parse_arguments(raw: object) -> Any:
    """A tool call's arguments: the parsed JSON, ``{}`` when empty, the raw string if not JSON."""
    if not isinstance(raw, str):
        return {} if raw is None else raw
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return raw


_ALL = object()  # _complete(): every pending call


@dataclass
class _Pending:
    """A tool call LangChain streams in fragments (``tool_call_chunks``)."""

    id: str
    name: str
    args: list[str] = field(default_factory=list)


class ChunkParts:
    """One stream's framework items as rais items: text, usage, reasoning, tool calls.

    A tool call arrives in fragments across chunks, and an agent's events reach a step's
    end before or after its calls, so one object per stream keeps what is pending.
    ``parts(item)`` converts an item (TypeError for anything unknown, as
    :func:`chunk_item`); ``close()`` gives what is still pending when the stream ends.
    """

    def __init__(self) -> None:
        self._pending: dict[object, _Pending] = {}
        self._called: set[str] = set()  # ToolCalls sent, by id (no call is sent twice)
        self._calls_open = False  # pydantic-ai: tool calls sent, their step not yet ended
        self._count = 0

    def parts(self, item: object) -> list[object]:
        if (
            type(item) is tuple
            and len(item) == 2
            and isinstance(item[1], Mapping)
            and _family(type(item[0])) == "langchain"
        ):
            item = item[0]  # LangGraph's stream_mode="messages": (message chunk, metadata)
        family = _family(type(item))
        if family == "langchain" and _is_langchain_message(item):
            return self._langchain(item)
        if family == "langchain":
            message = getattr(item, "message", None)
            if message is not None and _is_langchain_message(message):  # ChatGenerationChunk
                return self._langchain(message)
        elif family == "llama_index" and _is_workflow_event(type(item)):
            return self._llama_index(item)
        elif family == "pydantic_ai":
            return self._pydantic_ai(item)
        return _as_list(chunk_item(item))

    def close(self) -> list[object]:
        """The tool calls still in fragments when the stream ended, complete."""
        return self._complete()

    # LangChain

    def _langchain(self, message: Any) -> list[object]:
        if getattr(message, "type", None) == "tool" and hasattr(message, "tool_call_id"):
            return [*self._complete(), _langchain_result(message)]  # a ToolMessage
        out: list[object] = []
        reasoning = message.additional_kwargs.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            out.append(Reasoning(reasoning))
        content = message.content
        if isinstance(content, list):
            out.extend(Reasoning(text) for text in _reasoning_blocks(content))
        text = _content_text(content)
        if text:
            out.append(text)
        fragments = getattr(message, "tool_call_chunks", None)
        if isinstance(fragments, list) and fragments:
            out.extend(self._fragments(fragments))
        elif not hasattr(message, "tool_call_chunks"):  # a whole AIMessage: its parsed calls
            for call in getattr(message, "tool_calls", None) or ():
                out.extend(self._call(call.get("id"), call.get("name"), call.get("args")))
        usage = _langchain_usage(message)
        if usage is not None:
            out.append(usage)
        metadata = getattr(message, "response_metadata", None)
        if isinstance(metadata, Mapping):
            reason = finish_reason(next((metadata[k] for k in _REASON_KEYS if k in metadata), None))
            if reason is not None:
                out.extend(self._complete())
                out.append(StepFinish(reason))
        return out

    def _fragments(self, fragments: list[Any]) -> Iterator[object]:
        for fragment in fragments:
            if not isinstance(fragment, Mapping):
                continue
            index, call_id = fragment.get("index"), fragment.get("id")
            key = index if index is not None else call_id
            pending = self._pending.get(key)
            if pending is None or (call_id and pending.id != call_id):
                if pending is not None:  # a new call at the same index: the last is complete
                    yield from self._complete(key)
                self._count += 1
                pending = _Pending(str(call_id or f"call_{self._count}"), "")
                self._pending[key] = pending
            name = fragment.get("name")
            if isinstance(name, str) and name and not pending.name:
                pending.name = name
            args = fragment.get("args")
            if isinstance(args, str) and args:
                pending.args.append(args)
                yield ToolInputDelta(pending.id, pending.name, args)

    def _complete(self, key: object = _ALL) -> list[object]:
        keys = list(self._pending) if key is _ALL else [key]
        out: list[object] = []
        for k in keys:
            pending = self._pending.pop(k)
            out.extend(self._call(pending.id, pending.name, "".join(pending.args)))
        return out

    def _call(self, call_id: object, name: object, args: object) -> list[object]:
        call_id = str(call_id or "")
        if call_id and call_id in self._called:
            return []
        self._called.add(call_id)
        return [ToolCall(call_id, str(name or ""), parse_arguments(args))]

    # LlamaIndex agent workflows

    def _llama_index(self, event: Any) -> list[object]:
        out: list[object] = []
        thinking = getattr(event, "thinking_delta", None)
        if isinstance(thinking, str) and thinking:  # AgentStream
            out.append(Reasoning(thinking))
        if hasattr(event, "tool_output") and hasattr(event, "tool_id"):  # ToolCallResult
            out.append(_llama_index_result(event))
        elif hasattr(event, "tool_kwargs") and hasattr(event, "tool_id"):  # ToolCall
            out.extend(self._call(event.tool_id, event.tool_name, event.tool_kwargs))
        elif type(event).__name__ == "AgentOutput":  # one LLM call ended: its calls first
            calls = getattr(event, "tool_calls", None) or []
            for call in calls:
                out.extend(self._call(call.tool_id, call.tool_name, call.tool_kwargs))
            out.append(StepFinish("tool-calls" if calls else "stop"))
        else:
            out.extend(_as_list(_llama_index(event)))
        return out

    # pydantic-ai agent event streams

    def _pydantic_ai(self, event: Any) -> list[object]:
        kind = getattr(event, "event_kind", None)
        if not isinstance(kind, str):
            return _as_list(chunk_item(event))  # result.usage
        out: list[object] = []
        if self._calls_open and kind != "function_tool_call":
            self._calls_open = False
            out.append(StepFinish("tool-calls"))
        if kind == "part_start":
            out.extend(_pydantic_ai_part(event.part))
        elif kind == "part_delta":
            out.extend(_pydantic_ai_delta(event.delta))
        elif kind == "function_tool_call":
            part = event.part  # its args: a JSON string (parsed here) or a dict
            out.extend(self._call(part.tool_call_id, part.tool_name, part.args))
            self._calls_open = True
        elif kind == "function_tool_result":
            out.append(_pydantic_ai_result(getattr(event, "part", None) or event.result))
        elif kind == "agent_run_result":
            usage = event.result.usage  # a property, a method in older releases
            if callable(usage) and not hasattr(usage, "input_tokens"):
                usage = usage()
            out.append(_pydantic_ai(usage))
        return out


def _as_list(converted: str | Usage | tuple[str, Usage] | None) -> list[object]:
    if converted is None:
        return []
    if isinstance(converted, tuple):
        return [converted[0], converted[1]]
    return [converted]


def _reasoning_blocks(content: list[Any]) -> Iterator[str]:
    """Reasoning in content blocks: LangChain's ``reasoning`` (its text, or OpenAI's
    summary parts) and Anthropic's ``thinking``."""
    for block in content:
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "thinking":
            text = block.get("thinking")
        elif kind == "reasoning":
            text = block.get("reasoning")
            summary = block.get("summary")
            if text is None and isinstance(summary, list):
                text = "".join(s["text"] for s in summary if isinstance(s, Mapping) and "text" in s)
        else:
            continue
        if isinstance(text, str) and text:
            yield text


def _langchain_result(message: Any) -> ToolResult:
    name = message.name if isinstance(getattr(message, "name", None), str) else ""
    content = message.content
    if isinstance(content, list):
        content = _content_text(content) or content
    if getattr(message, "status", None) == "error":
        return ToolResult(str(message.tool_call_id), name, error=str(content))
    return ToolResult(str(message.tool_call_id), name, output=content)


def _llama_index_result(event: Any) -> ToolResult:
    output = event.tool_output
    content = getattr(output, "content", output)
    if getattr(output, "is_error", False):
        return ToolResult(str(event.tool_id), str(event.tool_name), error=str(content))
    return ToolResult(str(event.tool_id), str(event.tool_name), output=content)


def _pydantic_ai_part(part: Any) -> list[object]:
    """A part's start (a tool call's is sent whole by its FunctionToolCallEvent)."""
    return _text_or_thinking(getattr(part, "part_kind", None), getattr(part, "content", None))


def _pydantic_ai_delta(delta: Any) -> list[object]:
    kind = getattr(delta, "part_delta_kind", None)
    return _text_or_thinking(kind, getattr(delta, "content_delta", None))


def _text_or_thinking(kind: Any, content: Any) -> list[object]:
    if not isinstance(content, str) or not content:
        return []
    if kind == "text":
        return [content]
    if kind == "thinking":
        return [Reasoning(content)]
    return []


def _pydantic_ai_result(part: Any) -> ToolResult:
    call_id, name = str(part.tool_call_id), str(part.tool_name or "")
    if getattr(part, "part_kind", None) == "retry-prompt":  # older releases: a retry
        return ToolResult(call_id, name, error=str(part.content))
    if getattr(part, "outcome", "success") != "success":  # failed, denied, retried, ...
        return ToolResult(call_id, name, error=str(part.content))
    return ToolResult(call_id, name, output=part.content)
