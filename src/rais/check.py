"""``rais check URL``: the RAIS v1 compliance checks, once, for any endpoint.

``--protocol ai-sdk`` or ``ag-ui`` checks an endpoint of the other chat-UI protocols
instead (the Vercel AI SDK's UI message stream v1, AG-UI over SSE): the same framing,
header, bad-input, CORS and abort checks, each protocol's own chunk schema and order
(read by the client's own strict reader, :class:`rais._sse_decode.ChunkReader`), and
the AI SDK's resume (``GET {url}/{chatId}/stream``) for *Full*. AG-UI has no resume,
so no *Full* level.

The same checks back three users: the ``rais check`` command (no Node needed),
:mod:`rais.testing` (a pytest fixture for your own test suite) and this project's
conformance suite. Each check has a level: ``MUST`` items make *Core*, ``MUST`` +
``SHOULD`` make *Recommended*, and a working ``Last-Event-ID`` resume makes *Full*.

The pure checks (:func:`stream_checks`, :func:`header_checks`, :func:`timing_check`)
judge a response already received; :func:`run_checks` makes the requests (a normal
answer, an aborted one, a reconnect, bad input, a CORS preflight) and judges them.
Needs httpx: ``pip install 'rais[client]'``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ._events import RESERVED_TYPES
from ._events import TERMINAL_TYPES as TERMINAL
from ._sse_decode import AgUiReader, AiSdkReader, Block, ChunkReader, SSEBlockDecoder
from .client import PROTOCOLS, request_body

if TYPE_CHECKING:
    import httpx

__all__ = [
    "LEVELS",
    "Capture",
    "CheckResult",
    "Report",
    "add_check_command",
    "capture",
    "header_checks",
    "main",
    "parse_blocks",
    "run_checks",
    "stream_checks",
    "timing_check",
]

MUST, SHOULD, FULL = "MUST", "SHOULD", "FULL"
#: Check level -> the compliance level that needs it, in order.
LEVELS = {MUST: "Core", SHOULD: "Recommended", FULL: "Full"}
_RANK = {"core": 0, "recommended": 1, "full": 2}

DEFAULT_PROMPT = "Count from 1 to 40, one number per line."
DEFAULT_LONG_PROMPT = "Write the numbers from one to three hundred in words, comma-separated."
DEFAULT_ORIGIN = "http://localhost:3000"

#: Below this many seconds from request to last event, buffering cannot be told apart.
MIN_TIMING_WINDOW = 0.3
#: Events of a streamed answer arrive at least this far apart, first to last.
MIN_SPREAD = 0.05


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome; ``passed`` is ``None`` when it could not be judged here."""

    name: str
    level: str
    passed: bool | None
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.passed is False


def _result(name: str, level: str, problem: str | None, ok: str = "") -> CheckResult:
    return CheckResult(name, level, problem is None, ok if problem is None else problem)


def _skip(name: str, level: str, why: str) -> CheckResult:
    return CheckResult(name, level, None, why)


# -- what the checks need to know of each protocol --------------------------------------------


@dataclass(frozen=True)
class _Wire:
    """One protocol as the checks see it; the AI SDK's and AG-UI's come from their readers."""

    name: str
    title: str  #: for the report's first line
    terminal: tuple[str, ...]  #: the event types that end a stream: success, then error
    text: tuple[str, str] = ("text", "text")  #: the text event's type and its text's key
    closer: str | None = None  #: the data line that must follow the terminal event
    reader: type[ChunkReader] | None = None  #: judges each chunk's schema and order
    bad_body: tuple[str, bytes] = ("no messages", b'{"hello": "world"}')
    headers: tuple[tuple[str, str], ...] = ()  #: header values the protocol requires
    empty_text: str = SHOULD  #: the level of the no-empty-text check
    top: str = FULL  #: the highest level the protocol defines

    @classmethod
    def of(cls, reader: type[ChunkReader], title: str, **options: Any) -> _Wire:
        return cls(
            reader.protocol,
            title,
            reader.terminal,
            text=reader.text,
            closer=reader.closer,
            reader=reader,
            **options,
        )

    @property
    def failure(self) -> str:
        """The event type that ends a stream with an error."""
        return self.terminal[1]

    def kinds(self, events: Sequence[tuple[Block, dict[str, Any] | None]]) -> list[str | None]:
        """Each event's type (``None``: not a JSON object with one); the closer as itself."""
        return [
            self.closer
            if self.closer is not None and "\n".join(block.data) == self.closer
            else _event_type(data)
            for block, data in events
        ]

    def finished(self, kinds: Sequence[str | None]) -> bool:
        """The answer came to an end: a terminal event arrived (what may follow it is
        ``nothing-after-terminal``'s to judge)."""
        return any(kind in self.terminal for kind in kinds)


_WIRES: dict[str, _Wire] = {
    "rais": _Wire("rais", "RAIS v1", ("done", "error")),
    "ai-sdk": _Wire.of(
        AiSdkReader,
        "AI SDK UI message stream v1",
        bad_body=(
            "messages not a list",
            b'{"id": "chat-check", "trigger": "submit-message", "messages": "none"}',
        ),
        headers=(("x-vercel-ai-ui-message-stream", "v1"),),
    ),
    "ag-ui": _Wire.of(
        AgUiReader,
        "AG-UI",
        bad_body=(
            "messages not a list",
            b'{"threadId": "thread-check", "runId": "run-check", "messages": "none"}',
        ),
        empty_text=MUST,  # TEXT_MESSAGE_CONTENT's delta must not be empty
        top=SHOULD,
    ),
}


def _wire(protocol: str) -> _Wire:
    wire = _WIRES.get(protocol)
    if wire is None:
        raise ValueError(f"protocol must be one of {', '.join(_WIRES)}, not {protocol!r}")
    return wire


def _either(names: Sequence[str]) -> str:
    return " or ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " or " + names[-1]


# -- one response as received --------------------------------------------------------------


def parse_blocks(raw: bytes, arrivals: Sequence[float] = ()) -> tuple[list[Block], str]:
    """Split a body into blocks and what trails them; ``arrivals[i]`` timestamps block ``i``.

    CRLF is read leniently, so the checks after ``lf-line-ends`` still say something.
    """
    decoder = SSEBlockDecoder(lenient=True, errors="replace")
    blocks = decoder.feed(raw, 0.0)
    tail, rest = decoder.end(0.0)
    blocks += tail
    if arrivals:
        for index, block in enumerate(blocks):
            block.arrival = arrivals[min(index, len(arrivals) - 1)]
    return blocks, rest


@dataclass
class Capture:
    """A POST's response as the bytes arrived: status, headers, body and arrival times."""

    status: int
    headers: Mapping[str, str]
    http_version: str = "HTTP/1.1"
    raw: bytes = b""
    started: float = 0.0
    arrivals: list[float] = field(default_factory=list)  #: when each block was complete
    error: str | None = None  #: how reading broke off, if it did

    @property
    def is_stream(self) -> bool:
        return self.headers.get("content-type", "").startswith("text/event-stream")

    def blocks(self) -> list[Block]:
        return parse_blocks(self.raw, self.arrivals)[0]

    def events(self) -> list[tuple[Block, dict[str, Any] | None]]:
        """Each event block with its decoded JSON (``None`` when it is not a JSON object)."""
        out: list[tuple[Block, dict[str, Any] | None]] = []
        for block in self.blocks():
            if block.is_event:
                try:
                    data = json.loads("\n".join(block.data))
                except ValueError:
                    data = None
                out.append((block, data if isinstance(data, dict) else None))
        return out


# -- the pure checks ---------------------------------------------------------------------------


def _event_type(data: dict[str, Any] | None) -> str | None:
    kind = None if data is None else data.get("type")
    return kind if isinstance(kind, str) else None


def stream_checks(
    raw: bytes, *, error: str | None = None, protocol: str = "rais"
) -> list[CheckResult]:
    """Framing and event checks on an event-stream body (``error``: how reading broke off)."""
    wire = _wire(protocol)
    capture = Capture(200, {"content-type": "text/event-stream"}, raw=raw, error=error)
    blocks, rest = parse_blocks(raw)
    events = capture.events()
    kinds = wire.kinds(events)
    results: list[CheckResult] = []

    crs = raw.count(b"\r")
    results.append(
        _result(
            "lf-line-ends",
            MUST,
            None
            if not crs
            else f"{crs} CR characters: CRLF framing never splits on \\n\\n in the browser clients",
            "LF only",
        )
    )
    unspaced = next((b for b in blocks if b.is_event and not b.spaced), None)
    results.append(
        _result(
            "data-prefix",
            MUST,
            None if unspaced is None else f"'data:' without the space: {unspaced.text[:60]!r}",
            "every data line starts with 'data: '",
        )
    )
    multi = next((b for b in blocks if len(b.data) > 1), None)
    results.append(
        _result(
            "one-data-line",
            MUST,
            None if multi is None else f"an event with {len(multi.data)} data lines",
            "one data line per event",
        )
    )
    bad_json = next((b for (b, _), kind in zip(events, kinds, strict=True) if kind is None), None)
    results.append(
        _result(
            "json-events",
            MUST,
            None
            if bad_json is None
            else f"not a JSON object with a 'type': {bad_json.text[:60]!r}",
            f"{len(events)} events, each a JSON object with a type"
            + (f" (and {wire.closer})" if wire.closer else ""),
        )
    )
    terminals = [i for i, kind in enumerate(kinds) if kind in wire.terminal]
    if not terminals:
        why = f" ({error})" if error else ""
        problem: str | None = (
            f"no {_either(wire.terminal)} event: the stream ended without one{why}"
        )
    elif len(terminals) > 1:
        problem = (
            f"{len(terminals)} terminal events ({', '.join(str(kinds[i]) for i in terminals)})"
        )
    else:
        problem = None
    results.append(
        _result(
            "one-terminal",
            MUST,
            problem,
            f"ends with one '{kinds[terminals[0]] if terminals else ''}'",
        )
    )
    after: str | None = None
    if terminals:
        end = terminals[0]
        tail = kinds[end + 1 :]
        if wire.closer is not None and tail[:1] == [wire.closer]:
            tail, end = tail[1:], end + 1
        last_block = events[end][0]
        trailing = blocks[blocks.index(last_block) + 1 :]
        if tail:
            after = f"{len(tail)} event(s) after '{kinds[end]}': {tail[:3]}"
        elif trailing or rest.strip():
            where = "the end" if wire.closer else "the terminal event"
            after = f"bytes after {where} (comments or a partial frame)"
    results.append(
        _result(
            "nothing-after-terminal",
            MUST,
            after,
            "nothing follows it" if terminals else "no terminal event",
        )
    )
    if wire.closer is not None:
        results.append(_closer_check(kinds, wire.closer, wire.terminal))
    results.append(
        _result(
            "whole-frames",
            MUST,
            None if not rest.strip() else f"the body ends mid-frame: {rest[:60]!r}",
            "every frame ends with a blank line",
        )
    )
    if wire.reader is not None:
        results += _chunk_checks(wire, events, kinds)
    else:
        reserved = sorted({k for k in kinds if k in RESERVED_TYPES})
        results.append(
            _result(
                "no-reserved-types",
                MUST,
                None if not reserved else f"reserved v1 types sent: {', '.join(reserved)}",
                "none of metadata, tool_call, reasoning, partial_tool_result",
            )
        )
    text_type, text_key = wire.text
    empty = sum(
        1
        for kind, (_, data) in zip(kinds, events, strict=True)
        if kind == text_type and data and not data.get(text_key)
    )
    results.append(
        _result(
            "no-empty-text",
            wire.empty_text,
            None if not empty else f"{empty} {text_type} event(s) with empty {text_key}",
            f"no empty {text_type} events",
        )
    )
    loose = next(
        (
            block
            for block, data in events
            if data is not None
            and "\n".join(block.data)
            not in (
                json.dumps(data, separators=(",", ":"), ensure_ascii=False),
                json.dumps(data, separators=(",", ":")),
            )
        ),
        None,
    )
    results.append(
        _result(
            "compact-json",
            SHOULD,
            None if loose is None else f"not compact JSON: {loose.data[0][:60]!r}",
            'compact, like {"type":"text","text":"Hi"}' if wire.reader is None else "compact",
        )
    )
    if wire.reader is None:
        results.append(_id_check([block for block, _ in events]))
    return results


def _closer_check(kinds: Sequence[str | None], closer: str, terminal: Sequence[str]) -> CheckResult:
    """The AI SDK's ``data: [DONE]``: exactly once, last."""
    markers = [i for i, kind in enumerate(kinds) if kind == closer]
    problem = None
    if not markers:
        problem = f"no 'data: {closer}' after the {_either(terminal)} chunk"
    elif len(markers) > 1:
        problem = f"{len(markers)} '{closer}' markers: it must come once"
    elif markers[0] != len(kinds) - 1:
        problem = f"'{closer}' is not last: {len(kinds) - 1 - markers[0]} event(s) follow it"
    return _result("done-marker", MUST, problem, f"one 'data: {closer}', last")


def _chunk_checks(
    wire: _Wire, events: Sequence[tuple[Block, dict[str, Any] | None]], kinds: Sequence[str | None]
) -> list[CheckResult]:
    """Each chunk's schema and the order of the chunks, up to the first terminal one, as
    the protocol's strict reader judges them (after it, ``nothing-after-terminal`` does)."""
    assert wire.reader is not None
    reader = wire.reader(strict=True)
    for kind, (_, data) in zip(kinds, events, strict=True):
        if data is None or kind is None or kind == wire.closer:
            continue  # json-events and done-marker judge these
        reader.take(data)
        if kind in wire.terminal:
            break
    results = []
    for rule, name, ok in (
        (
            "schema",
            "chunk-schema",
            f"{reader.count} chunks, each as the {wire.title} schema defines it",
        ),
        ("sequence", "chunk-sequence", "in the order the protocol requires"),
    ):
        found = [problem.message for problem in reader.problems if problem.rule == rule]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        results.append(_result(name, MUST, found[0] + more if found else None, ok))
    return results


def _id_check(events: Sequence[Block]) -> CheckResult:
    ids = [block.event_id for block in events]
    if not ids:
        return _skip("event-ids", SHOULD, "no events")
    missing = sum(1 for event_id in ids if not event_id)
    if missing:
        return _result("event-ids", SHOULD, f"{missing} of {len(ids)} events have no 'id:'")
    if len(set(ids)) != len(ids):
        return _result("event-ids", SHOULD, "repeated ids")
    numbers = [int(i) for i in ids if i and i.isdigit()]
    if len(numbers) == len(ids) and numbers != sorted(numbers):
        return _result("event-ids", SHOULD, f"ids out of order: {ids[:8]}")
    return _result("event-ids", SHOULD, None, f"ids {ids[0]}..{ids[-1]}")


def header_checks(
    status: int, headers: Mapping[str, str], http_version: str, *, protocol: str = "rais"
) -> list[CheckResult]:
    """The response-head checks on a chat answer."""
    media = headers.get("content-type", "")
    cache = [part.strip().lower() for part in headers.get("cache-control", "").split(",")]
    results = [
        _result("status", MUST, None if status == 200 else f"HTTP {status}", "200"),
        _result(
            "content-type",
            MUST,
            None
            if media.split(";")[0].strip().lower() == "text/event-stream"
            else f"Content-Type is {media or 'missing'!r}, not text/event-stream",
            media,
        ),
        _result(
            "cache-control",
            MUST,
            None if "no-cache" in cache else f"Cache-Control is {headers.get('cache-control')!r}",
            "no-cache",
        ),
        *(
            _result(
                name,
                MUST,
                None
                if headers.get(name, "").strip().lower() == value
                else f"{name} is {headers.get(name) or 'missing'!r}, not {value!r}",
                value,
            )
            for name, value in _wire(protocol).headers
        ),
        _result(
            "x-accel-buffering",
            SHOULD,
            None
            if headers.get("x-accel-buffering", "").lower() == "no"
            else "no 'X-Accel-Buffering: no': nginx-style proxies will buffer the stream",
            "no",
        ),
    ]
    connection = headers.get("connection")
    if http_version != "HTTP/1.1":
        results.append(_skip("connection", SHOULD, f"{http_version}: Connection is HTTP/1.1 only"))
    else:
        results.append(
            _result(
                "connection",
                SHOULD,
                None
                if (connection or "").lower() == "keep-alive"
                else f"Connection is {connection or 'missing'!r}, not keep-alive",
                "keep-alive",
            )
        )
    return results


def timing_check(capture: Capture, *, protocol: str = "rais") -> CheckResult:
    """Were events sent as they were made, or held back and sent at the end (buffered)?

    A buffered answer's events all arrive together, as late as the last one; a
    streamed one's are spread out. Too short an answer cannot tell the two apart.
    """
    name = "streamed"
    events = [block for block, data in capture.events() if data is not None]
    text_type = _wire(protocol).text[0]
    texts = [block for block, data in capture.events() if _event_type(data) == text_type]
    if len(texts) < 3 or not events:
        return _skip(name, MUST, f"{len(texts)} text events: too few to judge; ask a longer answer")
    first, last = events[0].arrival, events[-1].arrival
    spread, total = last - first, last - capture.started
    detail = f"{len(events)} events over {spread:.2f} s of a {total:.2f} s answer"
    if spread >= MIN_SPREAD:
        return _result(name, MUST, None, detail)
    if total < MIN_TIMING_WINDOW:
        return _skip(name, MUST, f"the answer took {total:.2f} s: too fast to tell; ask more")
    return _result(
        name,
        MUST,
        f"buffered: all {len(events)} events arrived within {spread * 1000:.0f} ms, "
        f"{total:.2f} s after the request",
    )


# -- making the requests -----------------------------------------------------------------------


def _body(prompt: str, protocol: str = "rais", **extra: Any) -> bytes:
    return json.dumps(request_body(prompt, protocol, **extra)).encode()


def capture(
    http: httpx.Client,
    url: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    max_events: int | None = None,
    max_seconds: float = 120.0,
    method: str = "POST",
) -> Capture:
    """POST ``body`` (or send ``method`` without it) and record the response as it arrives;
    stop after ``max_events``."""
    import httpx

    started = time.monotonic()
    sent = {"Accept": "text/event-stream", **(headers or {})}
    if method == "POST":
        sent = {"Content-Type": "application/json", **sent}
    content = body if method == "POST" else None
    with http.stream(method, url, content=content, headers=sent) as response:
        result = Capture(
            response.status_code, response.headers, response.http_version, started=started
        )
        if not result.is_stream:
            result.raw = response.read()
            return result
        decoder = SSEBlockDecoder(lenient=True, errors="replace")
        events = 0
        try:
            for chunk in response.iter_raw():
                result.raw += chunk
                blocks = decoder.feed(chunk)
                result.arrivals += [block.arrival for block in blocks]
                events += sum(block.is_event for block in blocks)
                if max_events is not None and events >= max_events:
                    break
                if time.monotonic() - started > max_seconds:
                    result.error = f"still streaming after {max_seconds:.0f} s; stopped reading"
                    break
        except httpx.TimeoutException:
            result.error = "the server went silent (read timeout)"
        except httpx.TransportError as exc:
            result.error = f"the connection broke ({type(exc).__name__})"
    return result


@dataclass
class Report:
    """All check results for one endpoint, and the compliance level they reach."""

    url: str
    results: list[CheckResult]
    require: str = "recommended"
    protocol: str = "rais"

    @property
    def level(self) -> str | None:
        """``"Core"``, ``"Recommended"``, ``"Full"``, or ``None`` when a MUST check failed
        (AG-UI stops at ``"Recommended"``: it has no resume)."""
        reached = None
        top = _wire(self.protocol).top
        for level, name in LEVELS.items():
            if any(r.failed for r in self.results if r.level == level):
                break
            reached = name
            if level == top:
                break
        return reached

    @property
    def failures(self) -> list[CheckResult]:
        """Failed checks at or below the required level."""
        wanted = list(LEVELS)[: _RANK[self.require] + 1]
        return [r for r in self.results if r.failed and r.level in wanted]

    @property
    def passed(self) -> bool:
        return not self.failures

    def __getitem__(self, name: str) -> CheckResult:
        return next(r for r in self.results if r.name == name)

    def table(self) -> str:
        rows = [("CHECK", "LEVEL", "RESULT", "DETAIL")]
        for r in self.results:
            verdict = "skip" if r.passed is None else "pass" if r.passed else "FAIL"
            rows.append((r.name, r.level, verdict, r.detail))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        lines = [f"{_wire(self.protocol).title} compliance of {self.url}", ""]
        for row in rows:
            lines.append(
                "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
                + "  "
                + row[3]
            )
        lines.append("")
        lines.append(f"Level reached: {self.level or 'none (a MUST check failed)'}")
        for level, name in LEVELS.items():
            failed = [r.name for r in self.results if r.failed and r.level == level]
            if failed:
                lines.append(f"{name} needs: {', '.join(failed)}")
        lines.append(
            f"Result: {'PASS' if self.passed else 'FAIL'} (required: {self.require.capitalize()})"
        )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "protocol": self.protocol,
            "level": self.level,
            "passed": self.passed,
            "require": self.require,
            "results": [r.__dict__ for r in self.results],
        }


def run_checks(
    url: str,
    *,
    prompt: str = DEFAULT_PROMPT,
    long_prompt: str = DEFAULT_LONG_PROMPT,
    headers: Mapping[str, str] | None = None,
    origin: str = DEFAULT_ORIGIN,
    timeout: float = 30.0,
    require: str = "recommended",
    http: httpx.Client | None = None,
    protocol: str = "rais",
) -> Report:
    """Run every check against the endpoint at ``url`` (the chat ``POST`` address).

    ``prompt`` should get an answer long enough to see streaming (a second or so);
    ``long_prompt`` one long enough to abort mid-way. ``headers`` go on every request
    (e.g. ``Authorization``). ``protocol`` is the endpoint's: ``"rais"`` (RAIS v1),
    ``"ai-sdk"`` or ``"ag-ui"``.
    """
    import httpx

    wire = _wire(protocol)
    if require not in _RANK:
        raise ValueError(f"require must be one of {', '.join(_RANK)}")
    if _RANK[require] > list(LEVELS).index(wire.top):
        raise ValueError(f"{wire.title} has no {require.capitalize()} level (it has no resume)")
    extra = dict(headers or {})
    own = http is None
    client = http or httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))
    results: list[CheckResult] = []
    try:
        answer = capture(client, url, _body(prompt, protocol), {**extra, "Origin": origin})
        results += header_checks(
            answer.status, answer.headers, answer.http_version, protocol=protocol
        )
        if answer.status == 200 and answer.is_stream:
            results += stream_checks(answer.raw, error=answer.error, protocol=protocol)
            results.append(timing_check(answer, protocol=protocol))
        else:
            results.append(
                _result(
                    "stream",
                    MUST,
                    f"no event stream to check: HTTP {answer.status} "
                    f"{answer.raw[:120].decode(errors='replace')!r}",
                )
            )
        results += _bad_input_checks(client, url, extra, wire)
        results += _cors_checks(client, url, extra, origin, answer)
        results.append(_abort_check(client, url, extra, long_prompt, prompt, wire))
        if protocol == "rais":
            results += _resume_checks(client, url, extra, prompt)
        elif protocol == "ai-sdk":
            results.append(_ui_resume_check(client, url, extra, prompt))
    except httpx.HTTPError as exc:
        results.append(_result("reachable", MUST, f"{type(exc).__name__}: {exc}"))
    finally:
        if own:
            client.close()
    return Report(url, results, require, protocol)


def _bad_input_checks(
    client: httpx.Client, url: str, headers: Mapping[str, str], wire: _Wire
) -> list[CheckResult]:
    """A body that is not JSON, and one without (valid) messages, must not start an answer."""
    problems_must: list[str] = []
    problems_should: list[str] = []
    for label, body in (("not JSON", b"{not json"), wire.bad_body):
        got = capture(client, url, body, headers, max_events=50, max_seconds=30)
        if got.is_stream and got.status == 200:
            kinds = wire.kinds(got.events())
            if wire.text[0] in kinds or wire.failure not in kinds:
                problems_must.append(f"{label}: answered with a normal stream")
            problems_should.append(f"{label}: HTTP 200 stream instead of a 4xx")
        elif got.status >= 500:
            problems_must.append(f"{label}: HTTP {got.status}")
        elif not 400 <= got.status < 500:
            problems_should.append(f"{label}: HTTP {got.status}")
        elif not got.headers.get("content-type", "").startswith("application/json"):
            problems_should.append(f"{label}: HTTP {got.status} but not JSON")
    return [
        _result(
            "bad-input-rejected",
            MUST,
            "; ".join(problems_must) or None,
            "bad bodies start no answer",
        ),
        _result(
            "bad-input-4xx-json",
            SHOULD,
            "; ".join(problems_should) or None,
            "bad bodies get a 4xx with a JSON body",
        ),
    ]


def _cors_checks(
    client: httpx.Client, url: str, headers: Mapping[str, str], origin: str, answer: Capture
) -> list[CheckResult]:
    preflight = client.options(
        url,
        headers={
            **headers,
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    allow_origin = preflight.headers.get("access-control-allow-origin")
    allow_headers = preflight.headers.get("access-control-allow-headers", "").lower()
    problem = None
    if not 200 <= preflight.status_code < 300:
        problem = f"preflight got HTTP {preflight.status_code}"
    elif allow_origin not in ("*", origin):
        problem = f"preflight Access-Control-Allow-Origin is {allow_origin!r}"
    elif allow_headers != "*" and "content-type" not in allow_headers:
        problem = f"preflight does not allow the Content-Type header ({allow_headers!r})"
    on_answer = answer.headers.get("access-control-allow-origin")
    return [
        _result("cors-preflight", SHOULD, problem, f"OPTIONS from {origin} allowed"),
        _result(
            "cors-response",
            SHOULD,
            None
            if on_answer in ("*", origin)
            else f"the answer's Access-Control-Allow-Origin is {on_answer!r}",
            f"Access-Control-Allow-Origin: {on_answer}",
        ),
    ]


def _abort_check(
    client: httpx.Client,
    url: str,
    headers: Mapping[str, str],
    long_prompt: str,
    prompt: str,
    wire: _Wire,
) -> CheckResult:
    """Close mid-answer like AbortController; the server must carry on serving.

    From outside, only graceful handling can be seen; whether the upstream call
    stopped is for the server's own tests (rais's conformance suite checks it).
    """
    name = "abort"
    body = _body(long_prompt, wire.name)
    cut = capture(client, url, body, headers, max_events=1, max_seconds=30)
    if cut.status != 200 or not cut.is_stream:
        return _skip(name, SHOULD, f"the long answer got HTTP {cut.status}")
    if any(kind in wire.terminal for kind in wire.kinds(cut.events())):
        return _skip(name, SHOULD, "the long answer ended at once; nothing to abort")
    started = time.monotonic()
    after = capture(client, url, _body(prompt, wire.name), headers)
    kinds = wire.kinds(after.events())
    if after.status != 200 or not wire.finished(kinds):
        return _result(
            name,
            SHOULD,
            f"after an abort, the next answer failed (HTTP {after.status}, {kinds[-3:]})",
        )
    return _result(
        name,
        SHOULD,
        None,
        f"aborted after 1 event; the next answer completed in {time.monotonic() - started:.2f} s",
    )


def _resume_checks(
    client: httpx.Client, url: str, headers: Mapping[str, str], prompt: str
) -> list[CheckResult]:
    """Drop a stream after two events and reconnect with ``Last-Event-ID``, as a browser does.

    A correct resume sends exactly the events after that id: none again, none skipped
    (ids ending in a counter, ``7`` or ``stream:7``, must go on from it), then one terminal.
    """
    body = _body(prompt)
    first = capture(client, url, body, headers, max_events=2, max_seconds=30)
    # The drop is after the second event, even if more came in the same read: the
    # reconnect then asks for the rest, whether or not the answer has ended meanwhile.
    delivered = [block.event_id for block, _ in first.events()[:2] if block.event_id]
    if first.status != 200 or not first.is_stream:
        why = f"the long answer got HTTP {first.status}"
        return [_skip("last-event-id", SHOULD, why), _skip("resume", FULL, why)]
    last = delivered[-1] if delivered else "1"
    again = capture(client, url, body, {**headers, "Last-Event-ID": last})
    if again.status == 204:
        return [
            _result("last-event-id", SHOULD, None, "204: this server cannot resume, and says so"),
            _result("resume", FULL, "answers 204 to Last-Event-ID: resuming is not supported"),
        ]
    if again.status != 200 or not again.is_stream:
        refused = f"a reconnect with Last-Event-ID: {last} got HTTP {again.status}, not 204"
        return [_result("last-event-id", SHOULD, refused), _result("resume", FULL, refused)]
    events = again.events()
    ids = [block.event_id for block, _ in events]
    kinds = [_event_type(data) for _, data in events]
    problem: str | None = None
    if not delivered:
        problem = "events carry no ids, yet a Last-Event-ID reconnect was answered with a stream"
    elif any(i in delivered for i in ids) or (
        last.isdigit() and any(i is not None and i.isdigit() and int(i) <= int(last) for i in ids)
    ):
        problem = f"the resumed stream re-sent delivered events (ids {ids[:5]})"
    elif not kinds or kinds[-1] not in TERMINAL or sum(k in TERMINAL for k in kinds) != 1:
        problem = f"the resumed stream did not end with one terminal event ({kinds[-3:]})"
    ok = f"resumed after id {last}: {len(events)} new events"
    gap = _gap(last, ids[0] if ids else None)
    return [
        _result("last-event-id", SHOULD, problem, ok),
        _result("resume", FULL, problem or gap, ok),
    ]


def _ui_resume_check(
    client: httpx.Client, url: str, headers: Mapping[str, str], prompt: str
) -> CheckResult:
    """The AI SDK's resume: drop a reply after three chunks, as a page reload does, then
    ``GET {url}/{chatId}/stream`` must replay it from its ``start`` (the same message id)
    to its end, as ``useChat({resume: true})`` asks on mount. 204 means it cannot."""
    name = "resume"
    chat_id = f"chat-{uuid.uuid4().hex}"
    body = _body(prompt, "ai-sdk", id=chat_id)
    first = capture(client, url, body, headers, max_events=3, max_seconds=30)
    wire = _WIRES["ai-sdk"]
    if first.status != 200 or not first.is_stream:
        return _skip(name, FULL, f"the answer got HTTP {first.status}")
    if wire.finished(wire.kinds(first.events())):
        return _skip(name, FULL, "the answer ended before the drop; ask a longer one")
    address = f"{url.rstrip('/')}/{quote(chat_id, safe='')}/stream"
    again = capture(client, address, b"", headers, method="GET")
    where = "GET {url}/{chatId}/stream"
    if again.status == 204:
        return _result(name, FULL, f"{where} answered 204: resuming is not supported")
    if again.status != 200 or not again.is_stream:
        return _result(name, FULL, f"{where} got HTTP {again.status}, not a stream or 204")
    before, events = first.events(), again.events()
    kinds = wire.kinds(events)
    problem: str | None = None
    if not kinds or kinds[0] != "start":
        problem = f"the replay begins with {kinds[:1]}, not with the reply's 'start'"
    elif _message_id(before) != _message_id(events):
        problem = (
            f"the replay's message id {_message_id(events)!r} is not the dropped "
            f"reply's {_message_id(before)!r}: useChat would show two messages"
        )
    elif not _text(events, wire).startswith(_text(before, wire)):
        problem = "the replay does not begin with the text already delivered"
    elif not wire.finished(kinds):
        problem = f"the replay has no {_either(wire.terminal)} chunk ({kinds[-3:]})"
    else:
        problem = next(
            (r.detail for r in stream_checks(again.raw, protocol=wire.name) if r.failed), None
        )
    ok = f"{where} replayed the reply from its start: {len(events)} chunks"
    return _result(name, FULL, problem, ok)


def _message_id(events: Sequence[tuple[Block, dict[str, Any] | None]]) -> Any:
    data = events[0][1] if events else None
    return data.get("messageId") if data and data.get("type") == "start" else None


def _text(events: Sequence[tuple[Block, dict[str, Any] | None]], wire: _Wire) -> str:
    kind, key = wire.text
    return "".join(
        str(data.get(key, "")) for _, data in events if data and data.get("type") == kind
    )


def _gap(last: str, first: str | None) -> str | None:
    """Events lost across a resume, when both ids end in a counter with the same prefix."""
    if first is None:
        return None
    head, tail = last.rstrip("0123456789"), last[len(last.rstrip("0123456789")) :]
    next_head = first.rstrip("0123456789")
    next_tail = first[len(next_head) :]
    if tail and next_tail and head == next_head and int(next_tail) != int(tail) + 1:
        return f"events were skipped: the resume after id {last} starts at id {first}"
    return None


# -- the command line ----------------------------------------------------------------------------


def add_check_command(commands: Any) -> None:
    """Add ``rais check`` to the ``rais`` command line (see :mod:`rais.cli`)."""
    parser = commands.add_parser(
        "check",
        help="check any RAIS endpoint against the protocol's MUST and SHOULD items",
        description=(
            "Run the RAIS v1 compliance checks against a running endpoint and print a table;\n"
            "with --protocol, the AI SDK's (useChat) or AG-UI's instead.\n"
            "Exits 1 when the required level is not reached."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    configure_parser(parser)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="the chat endpoint, e.g. http://127.0.0.1:8000/api/chat")
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="rais",
        help="the endpoint's wire protocol: RAIS v1, the AI SDK's UI message stream "
        "(useChat) or AG-UI (default: %(default)s)",
    )
    parser.add_argument(
        "--prompt", default=DEFAULT_PROMPT, help="a prompt with a second-long answer"
    )
    parser.add_argument(
        "--long-prompt", default=DEFAULT_LONG_PROMPT, help="a prompt with a long answer, to abort"
    )
    parser.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a header for every request (e.g. Authorization); repeatable",
    )
    parser.add_argument("--origin", default=DEFAULT_ORIGIN, help="the Origin for the CORS checks")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds of silence allowed")
    parser.add_argument(
        "--require",
        choices=tuple(_RANK),
        default="recommended",
        help="the level needed to exit 0 (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(run=run_command)


def run_command(args: argparse.Namespace) -> int:
    try:
        import httpx  # noqa: F401
    except ImportError:
        print("rais check needs httpx: pip install 'rais[client]'", file=sys.stderr)
        return 2
    headers: dict[str, str] = {}
    for header in args.header:
        name, sep, value = header.partition(":")
        if not sep:
            print(f"bad header {header!r}: use 'Name: value'", file=sys.stderr)
            return 2
        headers[name.strip()] = value.strip()
    try:
        report = run_checks(
            args.url,
            prompt=args.prompt,
            long_prompt=args.long_prompt,
            headers=headers,
            origin=args.origin,
            timeout=args.timeout,
            require=args.require,
            protocol=args.protocol,
        )
    except ValueError as exc:  # a level the protocol does not define
        print(f"rais check: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_json(), indent=2) if args.json else report.table())
    return 0 if report.passed else 1


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rais.check URL``: the same as ``rais check URL``."""
    parser = argparse.ArgumentParser(prog="python -m rais.check", description=__doc__)
    configure_parser(parser)
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
