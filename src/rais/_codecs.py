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
from json import dumps
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
    from json import loads

    return encode_basestring(str(loads(data).get("text", "")))  # type: ignore[no-any-return]


def _error_text(event: Event) -> str:
    from json import loads

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
    """``start``, then one text part (``text-start``, ``text-delta``..., ``text-end``), then
    ``finish`` (with usage as message metadata) or ``error``; ``[DONE]`` last."""

    __slots__ = ("_delta", "_open", "_start", "_turn")

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
        self._open = False
        self._delta = 'data: {"type":"text-delta","id":"text-1","delta":'

    def frames(self, event: Event) -> str:
        kind = event.type
        head = ""
        if self._start is not None:
            head, self._start = self._start, None
        if kind == "text":
            if not self._open:
                self._open = True
                head += 'data: {"type":"text-start","id":"text-1"}\n\n'
            return head + self._delta + _escaped_text(event) + "}\n\n"
        if kind == "done":
            finish: dict[str, Any] = {"type": "finish", "finishReason": "stop"}
            usage = _usage_metadata(self._turn.usage)
            if usage is not None:
                finish["messageMetadata"] = {"usage": usage}
            return head + self._close() + "data: " + _compact(finish) + "\n\ndata: [DONE]\n\n"
        if kind == "error":
            error = _compact({"type": "error", "errorText": _error_text(event)})
            return head + self._close() + "data: " + error + "\n\ndata: [DONE]\n\n"
        if kind.startswith("data-"):  # an app's own data part, as the AI SDK defines them
            return head + "data: " + event.data + "\n\n"
        return head  # nothing else of RAIS has a meaning here

    def _close(self) -> str:
        if not self._open:
            return ""
        self._open = False
        return 'data: {"type":"text-end","id":"text-1"}\n\n'


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
    """``RUN_STARTED``; one assistant text message (``TEXT_MESSAGE_START``,
    ``TEXT_MESSAGE_CONTENT``..., ``TEXT_MESSAGE_END``); ``RUN_FINISHED`` or ``RUN_ERROR``."""

    __slots__ = ("_content", "_end", "_finished", "_open", "_open_frame", "_start")

    def __init__(self, thread_id: str, run_id: str) -> None:
        ids = {"threadId": thread_id, "runId": run_id}
        message = _compact({"messageId": str(uuid.uuid4())})[1:-1]  # "messageId":"..."
        self._start: str | None = "data: " + _compact({"type": "RUN_STARTED", **ids}) + "\n\n"
        self._finished = "data: " + _compact({"type": "RUN_FINISHED", **ids}) + "\n\n"
        self._open_frame = (
            'data: {"type":"TEXT_MESSAGE_START",' + message + ',"role":"assistant"}\n\n'
        )
        self._content = 'data: {"type":"TEXT_MESSAGE_CONTENT",' + message + ',"delta":'
        self._end = 'data: {"type":"TEXT_MESSAGE_END",' + message + "}\n\n"
        self._open = False

    def frames(self, event: Event) -> str:
        kind = event.type
        head = ""
        if self._start is not None:
            head, self._start = self._start, None
        if kind == "text":
            if not self._open:
                self._open = True
                head += self._open_frame
            return head + self._content + _escaped_text(event) + "}\n\n"
        if kind == "done":
            end = self._end if self._open else ""
            self._open = False
            return head + end + self._finished
        if kind == "error":
            error = _compact({"type": "RUN_ERROR", "message": _error_text(event)})
            return head + "data: " + error + "\n\n"
        return head


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
