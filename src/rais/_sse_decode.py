"""The one reader of ``text/event-stream`` bytes, shared by rais.client, rais.check and the tests.

It splits the stream into blocks on ``\\n\\n`` exactly as the ``useAIChat`` browser
clients do, so what it reads is what a browser reads. ``lenient=True`` also accepts
CRLF framing (``\\r\\n\\r\\n``): a client should still read a broken server, and
``rais check`` wants to name every fault of a CRLF stream, not only its framing.
Each block keeps its raw text and arrival time, for the checks that judge framing.
"""

from __future__ import annotations

import codecs
import re
import time
from dataclasses import dataclass, field

__all__ = ["Block", "SSEBlockDecoder"]

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
