"""Raw HTTP/1.1 over a socket, for what httpx will not do: keep sending a body the server
has already refused, a chunked body of any size, a client that never reads."""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import psutil

from tests.servers import RunningServer

MIB = 2**20


@dataclass
class Answer:
    """A parsed response, and how much of the request body went out before it came."""

    status: int
    headers: dict[str, str]  #: lower-case names
    body: bytes
    sent: int = 0

    def json(self) -> Any:
        return json.loads(self.body)


def request_head(
    method: str, path: str, headers: dict[str, str] | None = None, *, length: int | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append(
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    )
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def filler(total: int, size: int = MIB) -> Iterator[bytes]:
    """``total`` bytes of body, one reused buffer at a time (the client holds ~1 MiB)."""
    block = b"x" * size
    for start in range(0, total, size):
        yield block[: min(size, total - start)]


def chunked(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """``blocks`` framed as a chunked body."""
    for block in blocks:
        yield f"{len(block):x}\r\n".encode()
        yield block
        yield b"\r\n"
    yield b"0\r\n\r\n"


def parse(raw: bytes, *, eof: bool) -> Answer | None:
    """The response in ``raw`` once it is complete (or whatever came, at EOF)."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        return None
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    status = int(status_line.split()[1])
    if "content-length" in headers:
        length = int(headers["content-length"])
        if len(rest) < length and not eof:
            return None
        return Answer(status, headers, rest[:length])
    if "chunked" in headers.get("transfer-encoding", "").lower():
        if not rest.endswith(b"0\r\n\r\n") and not eof:
            return None
        return Answer(status, headers, dechunk(rest))
    if status in (204, 304) or eof:
        return Answer(status, headers, rest)
    return None


def dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return out


def exchange(
    port: int, head: bytes, body: Iterable[bytes] = (), *, timeout: float = 120.0
) -> Answer:
    """Send ``head`` and ``body`` while reading: the answer may come (and the server may
    close, or reset) before the body is sent; the rest of the body is then dropped."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setblocking(False)
    blocks = iter(body)
    pending = head
    sending = True
    received = b""
    sent = -len(head)
    eof = False
    deadline = time.monotonic() + timeout
    # epoll, not select(): a test holding hundreds of stalled sockets has fds past 1024
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
    try:
        while time.monotonic() < deadline:
            answer = parse(received, eof=False)
            if answer is not None:
                answer.sent = max(0, sent)
                return answer
            wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if sending else 0)
            selector.modify(sock, wanted)
            ready = selector.select(0.5)
            mask = ready[0][1] if ready else 0
            readable, writable = mask & selectors.EVENT_READ, mask & selectors.EVENT_WRITE
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                if not data:
                    eof = True
                    break
                received += data
            if writable and sending:
                if not pending:
                    pending = next(blocks, b"")
                    if not pending:
                        sending = False
                        continue
                try:
                    count = sock.send(pending)
                except (BrokenPipeError, ConnectionResetError):
                    sending = False  # the server answered and closed: read what it said
                    continue
                pending = pending[count:]
                sent += count
    finally:
        selector.close()
        sock.close()
    answer = parse(received, eof=True)
    if answer is None:
        raise AssertionError(
            f"no response ({'closed' if eof else 'timed out'}; "
            f"{max(0, sent)} body bytes sent): {received[:300]!r}"
        )
    answer.sent = max(0, sent)
    return answer


def chat_body(content: str, **extra: Any) -> bytes:
    return json.dumps({"messages": [{"role": "user", "content": content}], **extra}).encode()


def post_json(port: int, path: str, body: bytes, headers: dict[str, str] | None = None) -> Answer:
    """A plain POST read to its end (the stream's too: ``Connection: close``)."""
    head = request_head(
        "POST",
        path,
        {"Content-Type": "application/json", "Connection": "close", **(headers or {})},
        length=len(body),
    )
    return exchange(port, head, [body], timeout=60)


def sse_events(body: bytes) -> list[dict[str, Any]]:
    events = []
    for block in body.split(b"\n\n"):
        for line in block.split(b"\n"):
            if line.startswith(b"data: "):
                events.append(json.loads(line[6:]))
    return events


@dataclass
class RssPeak:
    """Samples the server's total RSS (all its processes) in a thread, keeping the peak."""

    server: RunningServer
    interval: float = 0.005
    baseline: int = 0
    peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def rss(self) -> int:
        total = 0
        for pid in self.server.pids():
            with contextlib.suppress(psutil.Error):
                total += psutil.Process(pid).memory_info().rss
        return total

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    def __enter__(self) -> RssPeak:
        self.baseline = self.peak = self.rss()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(self.interval)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.peak = max(self.peak, self.rss())


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass (a bound, not a speed)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
