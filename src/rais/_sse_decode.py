"""The one reader of ``text/event-stream`` bytes, shared by rais.client, rais.check and the tests.

It splits the stream into blocks on ``\\n\\n`` exactly as the ``useAIChat`` browser
clients do, so what it reads is what a browser reads. ``lenient=True`` also accepts
CRLF framing (``\\r\\n\\r\\n``): a client should still read a broken server, and
``rais check`` wants to name every fault of a CRLF stream, not only its framing.
Each block keeps its raw text and arrival time, for the checks that judge framing.

:class:`ChunkReader` reads one level up, for the protocols other than RAIS v1: each
event's data as the AI SDK's UI message stream or AG-UI defines it, back into RAIS
events. The client reads with it leniently, ``rais check`` strictly.
"""

from __future__ import annotations

import codecs
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CHUNK_READERS",
    "AgUiReader",
    "AiSdkReader",
    "Block",
    "ChunkError",
    "ChunkReader",
    "SSEBlockDecoder",
]

#: A blank line between blocks when CRLF is accepted: any mix of ``\n`` and ``\r\n``.
_LENIENT_SEPARATOR = re.compile(r"\r?\n\r?\n")
#: How far back a separator that a chunk boundary cut may start (``\r\n\r`` + ``\n``).
_SEPARATOR_REACH = 3


@dataclass
class Block:
    """One blank-line-terminated block: its fields, its raw text and when it was complete."""

    text: str  #: the block as received (CRs kept), without the blank line that ended it
    arrival: float = 0.0  #: ``time.monotonic()`` when the chunk that completed it was fed
    event_id: str | None = None  #: the ``id:`` value (the last one, if repeated)
    data: list[str] = field(default_factory=list)  #: values of ``data:`` lines, in order
    comments: list[str] = field(default_factory=list)  #: ``:`` lines, without the colon
    retry: int | None = None  #: a ``retry:`` advice, in milliseconds
    spaced: bool = True  #: every ``data:`` line had the space after the colon

    @property
    def is_event(self) -> bool:
        return bool(self.data)


def parse_block(text: str, arrival: float = 0.0, *, lenient: bool = False) -> Block:
    """Read one block's lines (``field: value``; one space after the colon is dropped)."""
    block = Block(text, arrival)
    for line in text.split("\n"):
        if lenient and line.endswith("\r"):
            line = line[:-1]
        if not line:
            continue
        if line.startswith(":"):
            comment = line[1:]
            block.comments.append(comment[1:] if comment.startswith(" ") else comment)
            continue
        name, _, value = line.partition(":")
        spaced = value.startswith(" ")
        value = value[1:] if spaced else value
        if name == "data":
            block.data.append(value)
            block.spaced = block.spaced and spaced
        elif name == "id":
            block.event_id = value
        elif name == "retry" and value.isdigit():
            block.retry = int(value)
    return block


class SSEBlockDecoder:
    """Incremental: feed bytes as they arrive, get the blocks they complete.

    UTF-8 is decoded incrementally, so a character cut by a chunk boundary is kept
    whole; a blank line cut by one is found too. ``errors`` is the UTF-8 error
    handler (``"strict"`` raises ``UnicodeDecodeError`` on bad bytes).
    """

    def __init__(self, *, lenient: bool = False, errors: str = "strict") -> None:
        self.lenient = lenient
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors)
        self._buffer = ""

    @property
    def pending(self) -> str:
        """Text received after the last complete block (a block still arriving)."""
        return self._buffer

    def feed(self, chunk: bytes, arrival: float | None = None) -> list[Block]:
        """The blocks ``chunk`` completes, stamped ``arrival`` (default: now)."""
        return self._split(self._utf8.decode(chunk), arrival)

    def end(self, arrival: float | None = None) -> tuple[list[Block], str]:
        """At the end of the body: the last blocks, and the unterminated text after them.

        Bytes of a cut-off UTF-8 character are decoded here (or raise, if strict).
        """
        blocks = self._split(self._utf8.decode(b"", final=True), arrival)
        rest, self._buffer = self._buffer, ""
        return blocks, rest

    def _split(self, text: str, arrival: float | None) -> list[Block]:
        if not text:
            return []
        search = max(len(self._buffer) - _SEPARATOR_REACH, 0)
        buffer = self._buffer + text
        stamp = time.monotonic() if arrival is None else arrival
        blocks: list[Block] = []
        start = 0
        while True:
            if self.lenient:
                found = _LENIENT_SEPARATOR.search(buffer, search)
                if found is None:
                    break
                end, after = found.start(), found.end()
            else:
                end = buffer.find("\n\n", search)
                if end < 0:
                    break
                after = end + 2
            blocks.append(parse_block(buffer[start:end], stamp, lenient=self.lenient))
            start = search = after
        self._buffer = buffer[start:]
        return blocks


# -- the chunks of each chat-UI protocol ---------------------------------------------------


class ChunkError(ValueError):
    """A chunk that breaks its protocol's rules; ``rule`` says which kind of rule:
    ``json`` (not a chunk at all), ``schema`` (a type or field the protocol does not
    define) or ``sequence`` (a chunk where it may not come)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def _fields(spec: str) -> dict[str, tuple[bool, str]]:
    """``"id delta ?title ?dynamic:b ?input:*"`` -> ``{key: (required, kind)}``; a kind
    is ``s`` (a string, the default), ``b`` (a boolean) or ``*`` (anything)."""
    fields = {}
    for word in spec.split():
        optional = word.startswith("?")
        key, _, kind = word.lstrip("?").partition(":")
        fields[key] = (not optional, kind or "s")
    return fields


_KINDS: dict[str, Callable[[Any], bool]] = {
    "s": lambda value: isinstance(value, str),
    "b": lambda value: isinstance(value, bool),
    "*": lambda value: True,
}
_KIND_NAMES = {"s": "a string", "b": "a boolean"}

_META = "?providerMetadata:*"
_TOOL = f"?providerExecuted:b {_META} ?toolMetadata:* ?dynamic:b"
#: The AI SDK's UI message chunks and their keys, as the strict schema of ``ai`` 6.0.230
#: (``uiMessageChunkSchema``, ``z.strictObject`` each) lists them. ``data-*`` is one entry.
AI_SDK_CHUNKS = {
    kind: _fields(spec)
    for kind, spec in {
        "start": "?messageId ?messageMetadata:*",
        "text-start": f"id {_META}",
        "text-delta": f"id delta {_META}",
        "text-end": f"id {_META}",
        "reasoning-start": f"id {_META}",
        "reasoning-delta": f"id delta {_META}",
        "reasoning-end": f"id {_META}",
        "error": "errorText",
        "tool-input-start": f"toolCallId toolName {_TOOL} ?title",
        "tool-input-delta": "toolCallId inputTextDelta",
        "tool-input-available": f"toolCallId toolName ?input:* {_TOOL} ?title",
        "tool-input-error": f"toolCallId toolName ?input:* {_TOOL} errorText ?title",
        "tool-approval-request": "approvalId toolCallId ?signature",
        "tool-output-available": f"toolCallId ?output:* {_TOOL} ?preliminary:b",
        "tool-output-error": f"toolCallId errorText {_TOOL}",
        "tool-output-denied": "toolCallId",
        "source-url": f"sourceId url ?title {_META}",
        "source-document": f"sourceId mediaType title ?filename {_META}",
        "file": f"url mediaType {_META}",
        "data-*": "?id ?data:* ?transient:b",
        "start-step": "",
        "finish-step": "",
        "finish": "?finishReason ?messageMetadata:*",
        "abort": "?reason",
        "message-metadata": "?messageMetadata:*",
    }.items()
}
_FINISH_REASONS = frozenset({"stop", "length", "content-filter", "tool-calls", "error", "other"})

#: AG-UI's event types (``ag-ui-protocol`` 1.0, and the older ``THINKING_*`` names); the
#: fields are those of the events a text answer uses. AG-UI events may carry more keys.
AG_UI_EVENTS = {
    kind: _fields(spec)
    for kind, spec in {
        "RUN_STARTED": "threadId runId",
        "RUN_FINISHED": "threadId runId",
        "RUN_ERROR": "message ?code",
        "TEXT_MESSAGE_START": "messageId ?role",
        "TEXT_MESSAGE_CONTENT": "messageId delta",
        "TEXT_MESSAGE_END": "messageId",
        "TEXT_MESSAGE_CHUNK": "?messageId ?role ?delta",
        **dict.fromkeys(
            [
                "TOOL_CALL_START",
                "TOOL_CALL_ARGS",
                "TOOL_CALL_END",
                "TOOL_CALL_CHUNK",
                "TOOL_CALL_RESULT",
                "STATE_SNAPSHOT",
                "STATE_DELTA",
                "MESSAGES_SNAPSHOT",
                "ACTIVITY_SNAPSHOT",
                "ACTIVITY_DELTA",
                "RAW",
                "CUSTOM",
                "STEP_STARTED",
                "STEP_FINISHED",
                "REASONING_START",
                "REASONING_MESSAGE_START",
                "REASONING_MESSAGE_CONTENT",
                "REASONING_MESSAGE_END",
                "REASONING_MESSAGE_CHUNK",
                "REASONING_END",
                "REASONING_ENCRYPTED_VALUE",
                "SUBAGENT_STARTED",
                "SUBAGENT_FINISHED",
                "SUBAGENT_ERROR",
                "THINKING_START",
                "THINKING_END",
                "THINKING_TEXT_MESSAGE_START",
                "THINKING_TEXT_MESSAGE_CONTENT",
                "THINKING_TEXT_MESSAGE_END",
            ],
            "",
        ),
    }.items()
}
_AG_UI_ROLES = frozenset({"developer", "system", "assistant", "user"})


class ChunkReader:
    """One stream's chunks in one protocol, read back into RAIS v1 events.

    :meth:`read` takes each SSE event's data and returns the events it stands for:
    ``{"type": "text", "text"}`` for text, then ``{"type": "done"}`` (with ``usage``
    when the stream reported it) or ``{"type": "error", "error"}``; the chunks that only
    frame the text (a message or part starting or ending) give none, and the protocol's
    other chunks (tools, reasoning, data, state) are passed through as they are.

    Lenient (``rais.client``), it raises :class:`ChunkError` on what no client can read:
    not JSON, a type or field the protocol does not define, text for a part that is not
    open. Strict (``rais check``), it also judges what the official clients' strictest
    releases reject (extra keys, the first chunk, parts left open), collects every fault
    in :attr:`problems` and reads on. Whether one terminal chunk ends the stream and what
    follows it is judged by the caller (:attr:`terminal`).
    """

    #: The protocol's name, as ``protocol=`` spells it.
    protocol = ""
    #: What its chunks are called in messages.
    label = "chunk"
    #: The chunk types that end a stream (success first).
    terminal: tuple[str, ...] = ()
    #: The marker that follows the terminal chunk, if the protocol has one.
    closer: str | None = None
    #: The type of the chunk that carries text, and its text's key.
    text: tuple[str, str] = ("", "")
    #: The known chunk types and their fields.
    schema: dict[str, dict[str, tuple[bool, str]]] = {}
    #: Only the schema's keys are allowed (strict only).
    closed_keys = False

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self.problems: list[ChunkError] = []
        self.usage: dict[str, int] | None = None
        self.ended = False
        self.count = 0  #: chunks taken so far

    def read(self, data: str) -> list[dict[str, Any]]:
        """The events one SSE event's data stands for."""
        if self.closer is not None and data == self.closer:
            if self.ended:
                return []
            self.ended = True  # an end without a terminal chunk: a normal one, to clients
            return [{"type": "done"}]
        try:
            chunk = json.loads(data)
        except ValueError:
            chunk = None
        if not isinstance(chunk, dict) or not isinstance(chunk.get("type"), str):
            raise ChunkError("json", f"not {self._a_label()}: {data[:200]!r}")
        return self.take(chunk)

    def take(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        """The events one decoded chunk (a JSON object with a string ``type``) stands for."""
        self._check_fields(chunk)
        first = self.count == 0
        self.count += 1
        events = self._take(chunk, first)
        if chunk["type"] in self.terminal:
            self.ended = True
        return events

    def _take(self, chunk: dict[str, Any], first: bool) -> list[dict[str, Any]]:
        raise NotImplementedError  # pragma: no cover

    def fault(self, rule: str, message: str, *, strict_only: bool = False) -> None:
        """A broken rule: raised when lenient, recorded when strict."""
        if not self.strict:
            if strict_only:
                return
            raise ChunkError(rule, message)
        self.problems.append(ChunkError(rule, message))

    def _a_label(self) -> str:
        return ("an " if self.label[0] in "AEIOU" else "a ") + self.label

    def _check_fields(self, chunk: dict[str, Any]) -> None:
        kind = chunk["type"]
        fields = self.schema.get(kind)
        if fields is None and kind.startswith("data-"):
            fields = self.schema.get("data-*")
        if fields is None:
            self.fault("schema", f"unknown {self.label} type {kind!r}")
            return
        for key, (required, value_kind) in fields.items():
            if key not in chunk:
                if required:
                    self.fault("schema", f"{kind!r} without {key!r}: {_short(chunk)}")
            elif not _KINDS[value_kind](chunk[key]):
                name = _KIND_NAMES[value_kind]
                self.fault("schema", f"{kind!r}: {key!r} is not {name}: {_short(chunk)}")
        if self.closed_keys:
            extra = sorted(set(chunk) - set(fields) - {"type"})
            if extra:
                keys = ", ".join(map(repr, extra))
                self.fault(
                    "schema",
                    f"{kind!r} with keys the schema does not list: {keys}",
                    strict_only=True,
                )


def _key(value: Any) -> str:
    """A part's or message's id as a set member (a broken one too: the schema check names it)."""
    return value if isinstance(value, str) else repr(value)


def _short(chunk: dict[str, Any]) -> str:
    return json.dumps(chunk, ensure_ascii=False)[:120]


def _usage(input_tokens: Any, output_tokens: Any, total_tokens: Any) -> dict[str, int] | None:
    """Token counts in :class:`rais.Usage`'s names, those that were reported."""
    names = zip(
        ("prompt_tokens", "completion_tokens", "total_tokens"),
        (input_tokens, output_tokens, total_tokens),
        strict=True,
    )
    found = {
        name: value
        for name, value in names
        if isinstance(value, int) and not isinstance(value, bool)
    }
    return found or None


def _done(usage: dict[str, int] | None) -> dict[str, Any]:
    return {"type": "done", "usage": usage} if usage else {"type": "done"}


class AiSdkReader(ChunkReader):
    """The Vercel AI SDK's UI message stream, v1: ``start``, text parts, ``finish``, ``[DONE]``."""

    protocol = "ai-sdk"
    label = "AI SDK UI message chunk"
    terminal = ("finish", "error", "abort")
    closer = "[DONE]"
    text = ("text-delta", "delta")
    schema = AI_SDK_CHUNKS
    closed_keys = True

    def __init__(self, *, strict: bool = False) -> None:
        super().__init__(strict=strict)
        self.message_id: str | None = None
        self._open: dict[str, set[str]] = {"text": set(), "reasoning": set()}

    def _take(self, chunk: dict[str, Any], first: bool) -> list[dict[str, Any]]:
        kind = chunk["type"]
        if kind == "start":
            if not first:
                self.fault("sequence", "a 'start' chunk after other chunks", strict_only=True)
            message_id = chunk.get("messageId")
            self.message_id = message_id if isinstance(message_id, str) else None
            return []
        if first:
            self.fault("sequence", f"the first chunk is {kind!r}, not 'start'", strict_only=True)
        family, _, step = kind.partition("-")
        if family in self._open and step in ("start", "delta", "end"):
            part = _key(chunk.get("id"))
            open_parts = self._open[family]
            if step == "start":
                if part in open_parts:
                    self.fault(
                        "sequence", f"{family} part {part!r} started twice", strict_only=True
                    )
                open_parts.add(part)
                return []
            if part not in open_parts:
                self.fault("sequence", f"{kind!r} for {family} part {part!r}, which is not open")
            if step == "end":
                open_parts.discard(part)
                return []
            if family == "text":
                return [{"type": "text", "text": chunk.get("delta")}]
            return [chunk]
        if kind == "finish":
            if self._open["text"]:
                still = ", ".join(map(repr, sorted(self._open["text"])))
                self.fault(
                    "sequence", f"'finish' while text part {still} is open", strict_only=True
                )
            reason = chunk.get("finishReason")
            if reason is not None and reason not in _FINISH_REASONS:
                self.fault("schema", f"'finish' with an unknown finishReason {reason!r}")
            meta = chunk.get("messageMetadata")
            usage = meta.get("usage") if isinstance(meta, dict) else None
            if isinstance(usage, dict):
                self.usage = _usage(
                    usage.get("inputTokens"), usage.get("outputTokens"), usage.get("totalTokens")
                )
            return [_done(self.usage)]
        if kind == "error":
            return [{"type": "error", "error": chunk.get("errorText")}]
        if kind in ("start-step", "finish-step"):  # they frame a step's parts, like start
            return []
        if kind == "abort":
            reason = chunk.get("reason")
            return [
                {
                    "type": "error",
                    "error": "The server aborted the answer" + (f": {reason}" if reason else "."),
                }
            ]
        return [chunk]


class AgUiReader(ChunkReader):
    """AG-UI: ``RUN_STARTED``, text messages, then ``RUN_FINISHED`` or ``RUN_ERROR``."""

    protocol = "ag-ui"
    label = "AG-UI event"
    terminal = ("RUN_FINISHED", "RUN_ERROR")
    text = ("TEXT_MESSAGE_CONTENT", "delta")
    schema = AG_UI_EVENTS

    def __init__(self, *, strict: bool = False) -> None:
        super().__init__(strict=strict)
        self.run: tuple[Any, Any] | None = None
        self._open: set[str] = set()

    def _take(self, chunk: dict[str, Any], first: bool) -> list[dict[str, Any]]:
        kind = chunk["type"]
        message = _key(chunk.get("messageId"))
        if kind == "RUN_STARTED":
            if not first:
                self.fault("sequence", "a RUN_STARTED after other events", strict_only=True)
            self.run = (chunk.get("threadId"), chunk.get("runId"))
            return []
        if first and kind != "RUN_ERROR":
            self.fault("sequence", f"the first event is {kind}, not RUN_STARTED", strict_only=True)
        if kind == "TEXT_MESSAGE_START":
            if message in self._open:
                self.fault("sequence", f"message {message!r} started twice", strict_only=True)
            role = chunk.get("role")
            if role is not None and role not in _AG_UI_ROLES:
                self.fault("schema", f"TEXT_MESSAGE_START with an unknown role {role!r}")
            self._open.add(message)
            return []
        if kind in ("TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END"):
            if message not in self._open:
                self.fault(
                    "sequence",
                    f"{kind} for message {message!r}, which is not open (no TEXT_MESSAGE_START)",
                )
            if kind == "TEXT_MESSAGE_END":
                self._open.discard(message)
                return []
            return [{"type": "text", "text": chunk.get("delta")}]
        if kind == "TEXT_MESSAGE_CHUNK":
            delta = chunk.get("delta")
            return [{"type": "text", "text": delta}] if delta else []
        if kind == "RUN_FINISHED":
            if self._open:
                still = ", ".join(map(repr, sorted(self._open)))
                self.fault(
                    "sequence", f"RUN_FINISHED while message {still} is open", strict_only=True
                )
            ids = (chunk.get("threadId"), chunk.get("runId"))
            if self.run is not None and ids != self.run:
                self.fault(
                    "sequence",
                    f"RUN_FINISHED for thread/run {ids}, but RUN_STARTED was {self.run}",
                    strict_only=True,
                )
            reports = chunk.get("usage")
            if isinstance(reports, list) and reports:
                self.usage = _usage(
                    *(
                        _sum(report.get(key) for report in reports if isinstance(report, dict))
                        for key in ("inputTokens", "outputTokens", "totalTokens")
                    )
                )
            return [_done(self.usage)]
        if kind == "RUN_ERROR":
            return [{"type": "error", "error": chunk.get("message")}]
        return [chunk]


def _sum(values: Iterable[Any]) -> int | None:
    counts = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    return sum(counts) if counts else None


#: The readers of the protocols other than RAIS v1 (whose events are read as they are).
CHUNK_READERS: dict[str, type[ChunkReader]] = {
    reader.protocol: reader for reader in (AiSdkReader, AgUiReader)
}
