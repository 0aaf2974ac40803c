"""Wire codecs: what each chat-UI protocol makes of the same request and the same events.

The pipeline streams neutral :class:`~rais.Event`\\ s (text, done, error); a codec owns
everything one protocol decides: how its request body becomes a :class:`~rais.Chat`'s
messages and extra fields, the response headers, the frames of each event, and the
terminal sequence. The writers (SSE pushed and pulled, the resumable tail) know none
of it: they ask the stream's :class:`Encoder` for each event's bytes.

- ``rais``: RAIS v1. Its frames are the events' own compact JSON, framed by the SSE
  writer itself with ``id:`` lines (:func:`rais._events.sse_frame`): no encoder.
- ``ai-sdk``: the Vercel AI SDK's UI message stream v1 (``useChat``).
- ``ag-ui``: AG-UI over SSE (CopilotKit, ``@ag-ui/client``).

A request that fails validation is answered before streaming with the same JSON error
on every protocol (``{"error": {"type", "message"}}``): the AI SDK shows the body's text,
AG-UI's client raises with it.
"""

from __future__ import annotations

import hashlib
import uuid
from json import dumps, loads
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any, Literal

from ._chat import Turn, Usage
from ._events import Event
from ._request import (
    ChatRequest,
    Limits,
    RequestError,
    chat_request,
    check_content,
    check_count,
)

__all__ = [
    "AG_UI",
    "AI_SDK",
    "CODECS",
    "RAIS",
    "Codec",
    "Encoder",
    "ProtocolName",
    "detect",
    "encode_frames",
    "protocol_codec",
]

#: What ``protocol=`` accepts: one protocol, or ``"auto"`` (decided per request body).
ProtocolName = Literal["rais", "ai-sdk", "ag-ui", "auto"]

#: How a text event's JSON starts and ends: its escaped text sits between them, so a
#: codec reframes it without decoding (one slice on the per-token path).
_TEXT_HEAD = '{"type":"text","text":'
_TEXT_CUT = len(_TEXT_HEAD)
_SSE_HEADERS = (
    ("Content-Type", "text/event-stream"),
    ("Cache-Control", "no-cache"),
    ("X-Accel-Buffering", "no"),
)


def encode_frames(text: str) -> bytes:
    """UTF-8 bytes of frames; a lone surrogate (a broken tokenizer's) can only sit inside a
    JSON string, where its ``\\uXXXX`` escape is what JSON allows."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace")


def _escaped_text(event: Event) -> str:
    """The JSON string literal of a text event's text (a hand-made Event may be spaced)."""
    data = event.data
    if data.startswith(_TEXT_HEAD):
        return data[_TEXT_CUT:-1]
    return encode_basestring(str(loads(data).get("text", "")))  # type: ignore[no-any-return]


def _error_text(event: Event) -> str:
    return str(loads(event.data).get("error") or "The response failed.")


def _compact(data: dict[str, Any]) -> str:
    return dumps(data, ensure_ascii=False, separators=(",", ":"))


class Encoder:
    """One stream's frames in one protocol: ``frames(event)`` is the SSE text to write
    for ``event`` (several frames, one, or none). It keeps the protocol's state: whether
    the message has started, which part is open."""

    __slots__ = ()

    def frames(self, event: Event) -> str:  # pragma: no cover - every codec defines it
        raise NotImplementedError


class Codec:
    """One wire protocol: its request, headers and per-stream :class:`Encoder`."""

    #: The protocol's name, as ``protocol=`` and the access log spell it.
    name: str = ""
    #: Response headers beyond the SSE ones.
    extra_headers: tuple[tuple[str, str], ...] = ()

    def request(self, data: dict[str, Any], limits: Limits) -> ChatRequest:
        """The decoded body as messages (``{"role", "content"}``) and extra fields."""
        raise NotImplementedError  # pragma: no cover

    def encoder(self, turn: Turn) -> Encoder | None:
        """A fresh encoder for one stream (``None``: the writer frames RAIS itself)."""
        return None

    def headers(self, http_version: str | None) -> list[tuple[str, str]]:
        """SSE response headers; ``Connection`` is hop-by-hop, so only on HTTP/1.1 over ASGI."""
        headers = [*_SSE_HEADERS, *self.extra_headers]
        if http_version == "1.1":
            headers.append(("Connection", "keep-alive"))
        return headers

    def __repr__(self) -> str:
        return f"<codec {self.name}>"


class RaisCodec(Codec):
    """RAIS v1: the events' JSON as it is, numbered by the writer."""

    name = "rais"

    def request(self, data: dict[str, Any], limits: Limits) -> ChatRequest:
        return chat_request(data, limits)


# --- the AI SDK's UI message stream ------------------------------------------------------

_AI_ROLES = frozenset({"system", "user", "assistant"})


class AiSdkCodec(Codec):
    """The Vercel AI SDK's UI message stream, v1 (``useChat`` in AI SDK 5 and later).

    The request is ``DefaultChatTransport``'s: ``{id, messages: UIMessage[], trigger,
    messageId?, ...body}``. Each message's text parts, joined by a blank line, become its
    content; other parts (reasoning, files, tool parts, sources, data) are not sent to the
    model, and a message with no text part is left out. ``id`` (the chat's), ``trigger``,
    ``messageId`` and the app's own body fields are the :attr:`~rais.Chat.extra` fields.
    """

    name = "ai-sdk"
    extra_headers = (("x-vercel-ai-ui-message-stream", "v1"),)

    def request(self, data: dict[str, Any], limits: Limits) -> ChatRequest:
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError(422, "'messages' must be a non-empty list of UI messages.")
        check_count(messages, limits)
        clean: list[dict[str, Any]] = []
        for index, message in enumerate(messages):
            where = f"messages[{index}]"
            if not isinstance(message, dict):
                raise RequestError(422, f"{where} must be a UI message object.")
            role = message.get("role")
            if not isinstance(role, str) or role not in _AI_ROLES:
                raise RequestError(
                    422,
                    f"{where}.role must be one of {', '.join(sorted(_AI_ROLES))}.",
                    detail={"role": role},
                )
            parts = message.get("parts")
            if not isinstance(parts, list):
                raise RequestError(422, f"{where}.parts must be a list.")
            texts = []
            for number, part in enumerate(parts):
                if not isinstance(part, dict):
                    raise RequestError(422, f"{where}.parts[{number}] must be an object.")
                if part.get("type") == "text":
                    text = part.get("text")
                    if not isinstance(text, str):
                        raise RequestError(422, f"{where}.parts[{number}].text must be a string.")
                    if text:
                        texts.append(text)
            if not texts:
                continue
            content = "\n\n".join(texts)
            check_content(content, where, limits)
            clean.append({"role": role, "content": content})
        if not clean:
            raise RequestError(422, "No message has a text part.")
        extra = {key: value for key, value in data.items() if key != "messages"}
        return ChatRequest(messages=clean, extra=extra)

    def encoder(self, turn: Turn) -> Encoder:
        return AiSdkEncoder(turn)


class AiSdkEncoder(Encoder):
    """``start``; then each step (``start-step`` ... ``finish-step``) with its parts: text
    (``text-start``, ``text-delta``..., ``text-end``), reasoning (the same three), tool
    calls (``tool-input-start``, ``-delta``, ``-available``) and their results
    (``tool-output-available`` / ``-error``); then ``finish`` (the finish reason, usage as
    message metadata) or ``error``; ``[DONE]`` last."""

    __slots__ = ("_delta", "_open", "_parts", "_start", "_step", "_tools", "_turn")

    def __init__(self, turn: Turn) -> None:
        # A resumable reply's id follows from its stream's, so that a resume (which replays
        # from ``start``) rebuilds the same message; it does not reveal the stream id.
        stream_id = turn.stream_id
        if stream_id is None:
            message_id = "msg-" + uuid.uuid4().hex
        else:
            message_id = "msg-" + hashlib.sha256(stream_id.encode()).hexdigest()[:32]
        self._turn = turn
        self._start: str | None = 'data: {"type":"start","messageId":"' + message_id + '"}\n\n'
        self._step = False  # inside start-step ... finish-step
        self._open: str | None = None  # the open text or reasoning part: "text-2", ...
        self._parts = 0  # part ids given so far
        self._tools: set[str] = set()  # tool calls whose input has started
        self._delta = ""  # the open text part's delta frame, up to its text

    def frames(self, event: Event) -> str:
        kind = event.type
        if kind == "text" and self._open is not None and self._delta:  # the per-token path
            return self._delta + _escaped_text(event) + "}\n\n"
        head = ""
        if self._start is not None:
            head, self._start = self._start, None
        if kind == "text":
            head += self._open_part("text")
            return head + self._delta + _escaped_text(event) + "}\n\n"
        if kind == "done":
            finish: dict[str, Any] = {
                "type": "finish",
                "finishReason": self._turn.final_reason(True),
            }
            usage = _usage_metadata(self._turn.usage)
            if usage is not None:
                finish["messageMetadata"] = {"usage": usage}
            return head + self._end_step() + _frame(finish) + "data: [DONE]\n\n"
        if kind == "error":
            error = {"type": "error", "errorText": _error_text(event)}
            return head + self._close() + _frame(error) + "data: [DONE]\n\n"
        if kind.startswith("data-"):  # an app's own data part, as the AI SDK defines them
            return head + "data: " + event.data + "\n\n"
        if kind in _PART_TYPES:
            return head + self._part(kind, loads(event.data))
        return head  # nothing else of RAIS has a meaning here

    def _part(self, kind: str, data: dict[str, Any]) -> str:
        if kind == "reasoning":
            out = self._open_part("reasoning") if self._open is None or self._delta else ""
            delta = {"type": "reasoning-delta", "id": self._open, "delta": data["text"]}
            return out + _frame(delta)
        if kind == "step-finish":
            return self._end_step()
        call = data["id"]
        if kind == "tool-result":
            if call not in self._tools:
                return ""  # no call of that id was streamed: the UI has nothing to attach it to
            if "error" in data:
                return self._begin() + _frame(
                    {"type": "tool-output-error", "toolCallId": call, "errorText": data["error"]}
                )
            output = {"type": "tool-output-available", "toolCallId": call, "output": data["output"]}
            return self._begin() + _frame(output)
        out = self._begin()
        if call not in self._tools:
            self._tools.add(call)
            out += _frame(
                {"type": "tool-input-start", "toolCallId": call, "toolName": data["name"]}
            )
        if kind == "tool-input-delta":
            return out + _frame(
                {"type": "tool-input-delta", "toolCallId": call, "inputTextDelta": data["delta"]}
            )
        available = {
            "type": "tool-input-available",
            "toolCallId": call,
            "toolName": data["name"],
            "input": data["input"],
        }
        return out + _frame(available)

    def _begin(self) -> str:
        """Close an open text or reasoning part, and open a step if none is."""
        out = self._close()
        if not self._step:
            self._step = True
            out += 'data: {"type":"start-step"}\n\n'
        return out

    def _open_part(self, kind: str) -> str:
        out = self._begin()
        self._parts += 1
        part = f"{kind}-{self._parts}"
        self._open = part
        self._delta = (
            'data: {"type":"text-delta","id":"' + part + '","delta":' if kind == "text" else ""
        )
        return out + 'data: {"type":"' + kind + '-start","id":"' + part + '"}\n\n'

    def _close(self) -> str:
        part = self._open
        if part is None:
            return ""
        self._open = None
        kind = "text" if self._delta else "reasoning"
        self._delta = ""
        return 'data: {"type":"' + kind + '-end","id":"' + part + '"}\n\n'

    def _end_step(self) -> str:
        out = self._close()
        if self._step:
            self._step = False
            out += 'data: {"type":"finish-step"}\n\n'
        return out


#: The neutral events of parts besides text (:func:`rais._events.part_event`).
_PART_TYPES = frozenset(
    {"reasoning", "tool-input-delta", "tool-call", "tool-result", "step-finish"}
)


def _frame(data: dict[str, Any]) -> str:
    return "data: " + _compact(data) + "\n\n"


def _usage_metadata(usage: Usage | None) -> dict[str, int] | None:
    """Usage in the AI SDK's own names (``LanguageModelUsage``), where it was reported."""
    if usage is None:
        return None
    names = (
        ("inputTokens", usage.prompt_tokens),
        ("outputTokens", usage.completion_tokens),
        ("totalTokens", usage.total_tokens),
    )
    found = {name: value for name, value in names if value is not None}
    return found or None


# --- AG-UI ---------------------------------------------------------------------------------

#: AG-UI roles and what they are to the model; ``activity`` and ``reasoning`` messages are
#: the UI's own and are not sent.
_AG_ROLES = {
    "developer": "system",
    "system": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
}
_AG_SKIPPED = frozenset({"activity", "reasoning"})


class AgUiCodec(Codec):
    """AG-UI over SSE: ``RunAgentInput`` in, the run's events out (camelCase JSON, as the
    protocol's own encoder writes them).

    Each message's text (a string, or the text parts of a content list) becomes its
    content; ``developer`` messages are system messages; assistant messages with only
    tool calls, and ``activity`` and ``reasoning`` messages, are left out. ``threadId``,
    ``runId``, ``state``, ``tools``, ``context`` and ``forwardedProps`` are the
    :attr:`~rais.Chat.extra` fields.
    """

    name = "ag-ui"

    def request(self, data: dict[str, Any], limits: Limits) -> ChatRequest:
        for key in ("threadId", "runId"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise RequestError(422, f"'{key}' must be a non-empty string.")
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError(422, "'messages' must be a non-empty list of AG-UI messages.")
        check_count(messages, limits)
        clean: list[dict[str, Any]] = []
        for index, message in enumerate(messages):
            where = f"messages[{index}]"
            if not isinstance(message, dict):
                raise RequestError(422, f"{where} must be an object with 'role' and 'content'.")
            role = message.get("role")
            if isinstance(role, str) and role in _AG_SKIPPED:
                continue
            if not isinstance(role, str) or role not in _AG_ROLES:
                raise RequestError(
                    422,
                    f"{where}.role must be one of {', '.join(sorted(_AG_ROLES))}.",
                    detail={"role": role},
                )
            content = _ag_text(message.get("content"), where)
            if not content:
                continue
            check_content(content, where, limits)
            clean.append({"role": _AG_ROLES[role], "content": content})
        if not clean:
            raise RequestError(422, "No message has text content.")
        extra = {key: value for key, value in data.items() if key != "messages"}
        return ChatRequest(messages=clean, extra=extra)

    def encoder(self, turn: Turn) -> Encoder:
        extra = turn.chat.extra
        return AgUiEncoder(str(extra.get("threadId", "")), str(extra.get("runId", "")))


def _ag_text(content: Any, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise RequestError(422, f"{where}.content must be a string or a list of parts.")
    texts = []
    for number, part in enumerate(content):
        if not isinstance(part, dict):
            raise RequestError(422, f"{where}.content[{number}] must be an object.")
        if part.get("type") == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise RequestError(422, f"{where}.content[{number}].text must be a string.")
            texts.append(text)
    return "\n\n".join(text for text in texts if text)


class AgUiEncoder(Encoder):
    """``RUN_STARTED``; assistant text messages (``TEXT_MESSAGE_START``,
    ``TEXT_MESSAGE_CONTENT``..., ``TEXT_MESSAGE_END``), reasoning (``REASONING_START``,
    ``REASONING_MESSAGE_*``, ``REASONING_END``), tool calls (``TOOL_CALL_START``, ``_ARGS``,
    ``_END``) and results (``TOOL_CALL_RESULT``); ``RUN_FINISHED`` or ``RUN_ERROR``. A text
    message that follows a tool call is a new message."""

    __slots__ = ("_content", "_finished", "_message", "_open", "_reasoning", "_start", "_tools")

    def __init__(self, thread_id: str, run_id: str) -> None:
        ids = {"threadId": thread_id, "runId": run_id}
        self._start: str | None = _frame({"type": "RUN_STARTED", **ids})
        self._finished = _frame({"type": "RUN_FINISHED", **ids})
        self._message = ""  # the last assistant message's id (tool calls belong to it)
        self._content = ""  # the open text message's content frame, up to its delta
        self._open = False  # a text message is open
        self._reasoning: str | None = None  # the open reasoning message's id
        self._tools: dict[str, bool] = {}  # tool call id -> its TOOL_CALL_END was sent

    def frames(self, event: Event) -> str:
        kind = event.type
        if kind == "text" and self._open:  # the per-token path
            return self._content + _escaped_text(event) + "}\n\n"
        head = ""
        if self._start is not None:
            head, self._start = self._start, None
        if kind == "text":
            head += self._close()
            self._message = str(uuid.uuid4())
            self._open = True
            message = '"messageId":"' + self._message + '"'
            self._content = 'data: {"type":"TEXT_MESSAGE_CONTENT",' + message + ',"delta":'
            head += 'data: {"type":"TEXT_MESSAGE_START",' + message + ',"role":"assistant"}\n\n'
            return head + self._content + _escaped_text(event) + "}\n\n"
        if kind == "done":
            return head + self._close() + self._end_tools() + self._finished
        if kind == "error":
            return head + _frame({"type": "RUN_ERROR", "message": _error_text(event)})
        if kind in _PART_TYPES:
            return head + self._part(kind, loads(event.data))
        return head

    def _part(self, kind: str, data: dict[str, Any]) -> str:
        if kind == "reasoning":
            out = ""
            if self._reasoning is None:
                out = self._close()
                self._reasoning = message = str(uuid.uuid4())
                out += _frame({"type": "REASONING_START", "messageId": message})
                out += _frame(
                    {"type": "REASONING_MESSAGE_START", "messageId": message, "role": "reasoning"}
                )
            content = {
                "type": "REASONING_MESSAGE_CONTENT",
                "messageId": self._reasoning,
                "delta": data["text"],
            }
            return out + _frame(content)
        if kind == "step-finish":
            return self._close()
        call = data["id"]
        if kind == "tool-result":
            if call not in self._tools:
                return ""  # no call of that id was streamed
            content = data["output"] if "error" not in data else {"error": data["error"]}
            result = {
                "type": "TOOL_CALL_RESULT",
                "messageId": str(uuid.uuid4()),
                "toolCallId": call,
                "content": content if isinstance(content, str) else _compact_any(content),
                "role": "tool",
            }
            return self._end_tool(call) + _frame(result)
        out = self._close()
        if call not in self._tools:
            self._tools[call] = False
            start = {"type": "TOOL_CALL_START", "toolCallId": call, "toolCallName": data["name"]}
            if self._message:
                start["parentMessageId"] = self._message
            out += _frame(start)
            if kind == "tool-call":  # the whole input at once
                args = _compact_any(data["input"] if data["input"] is not None else {})
                out += _frame({"type": "TOOL_CALL_ARGS", "toolCallId": call, "delta": args})
        if kind == "tool-input-delta":
            return out + _frame(
                {"type": "TOOL_CALL_ARGS", "toolCallId": call, "delta": data["delta"]}
            )
        return out + self._end_tool(call)

    def _close(self) -> str:
        """End the open text or reasoning message (a tool call or new message follows)."""
        out = ""
        if self._open:
            self._open = False
            out += _frame({"type": "TEXT_MESSAGE_END", "messageId": self._message})
        if self._reasoning is not None:
            message, self._reasoning = self._reasoning, None
            out += _frame({"type": "REASONING_MESSAGE_END", "messageId": message})
            out += _frame({"type": "REASONING_END", "messageId": message})
        return out

    def _end_tool(self, call: str) -> str:
        if self._tools.get(call, True):
            return ""
        self._tools[call] = True
        return _frame({"type": "TOOL_CALL_END", "toolCallId": call})

    def _end_tools(self) -> str:
        return "".join(self._end_tool(call) for call in list(self._tools))


def _compact_any(value: Any) -> str:
    """Any value as compact JSON text (AG-UI carries tool arguments and results as text)."""
    return dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


RAIS = RaisCodec()
AI_SDK = AiSdkCodec()
AG_UI = AgUiCodec()

CODECS: dict[str, Codec] = {codec.name: codec for codec in (RAIS, AI_SDK, AG_UI)}


def detect(data: dict[str, Any]) -> Codec:
    """``protocol="auto"``: UI messages (``parts``) or a ``trigger`` are the AI SDK's; a
    ``threadId`` with a ``runId`` is AG-UI's; anything else is RAIS v1."""
    if "trigger" in data:
        return AI_SDK
    if "threadId" in data and "runId" in data:
        return AG_UI
    messages = data.get("messages")
    if isinstance(messages, list) and any(
        isinstance(message, dict) and "parts" in message for message in messages[:1]
    ):
        return AI_SDK
    return RAIS


def protocol_codec(protocol: str) -> Codec | None:
    """The codec for ``protocol=`` (``None`` for ``"auto"``); fails at start-up otherwise."""
    if protocol == "auto":
        return None
    codec = CODECS.get(protocol)
    if codec is None:
        raise ValueError(
            f"protocol must be one of 'rais', 'ai-sdk', 'ag-ui' or 'auto', not {protocol!r}"
        )
    return codec
