"""Issue 11 point 6: one lifecycle for every stream.

SIGTERM while resumable tails (memory and Redis stores) and WebSocket streams are open:
each tail ends without a terminal event (the client resumes elsewhere), each WebSocket
closes with 1012 (or 1001), their upstream calls are cancelled and the server exits.
And on every ASGI server a client that leaves has its stream closed at once: with the
cyclic garbage collector off in the server, a recorded upstream cancel cannot have
come from a collection.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.fakes.upstreams import FakeUpstream
from tests.redis_server import RedisServer, redis_server
from tests.reliability.apps.specs import app_spec
from tests.reliability.conftest import server_env
from tests.reliability.raw import chat_body, request_head, sse_events, wait_until
from tests.servers import RunningServer, ServerSpec, selected_servers, start_server

__all__ = ["redis_server"]  # the fixture, used by name

TAILS = 2
SOCKETS = 2
#: 100 s of answer: only shutdown (or the client leaving) ends it within the test.
LONG = "[count:2000][delay:0.05]"
#: Browsers always send Origin; quart-cors refuses WebSockets without one.
ORIGIN = "http://localhost:3000"


class OpenStream:
    """A raw SSE client reading one chat in a thread, noting its events and its end."""

    def __init__(self, server: RunningServer, content: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        body = chat_body(content)
        head = request_head(
            "POST", "/api/chat", {"Content-Type": "application/json"}, length=len(body)
        )
        self.sock.sendall(head + body)
        self.raw = b""
        self.events: list[dict[str, str]] = []
        self.ended = threading.Event()  #: the server closed the connection
        self.started = threading.Event()  #: the response head arrived (or the socket closed)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        buffer = b""
        try:
            while chunk := self.sock.recv(65536):
                self.raw += chunk
                if b"\r\n\r\n" in self.raw:
                    self.started.set()
                buffer += chunk
                *blocks, buffer = buffer.split(b"\n\n")
                self.events += sse_events(b"\n\n".join(blocks) + b"\n\n") if blocks else []
        except OSError:
            pass
        finally:
            self.ended.set()
            self.started.set()


class OpenSocket:
    """A WebSocket chat read in a thread, noting its events and its close code."""

    def __init__(self, server: RunningServer) -> None:
        self.url = f"ws://127.0.0.1:{server.port}/api/chat/ws"
        self.events: list[dict[str, str]] = []
        self.code: int | None = None
        self.started = threading.Event()
        self.ended = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            with connect(self.url, origin=ORIGIN, open_timeout=20) as ws:  # type: ignore[arg-type]
                ws.send(json.dumps({"messages": [{"role": "user", "content": LONG}]}))
                try:
                    for frame in ws:
                        self.events.append(json.loads(frame))
                        self.started.set()
                except ConnectionClosed:
                    pass
                self.code = ws.close_code
        finally:
            self.ended.set()
            self.started.set()


@pytest.fixture(params=["memory", "redis"])
def resume_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "memory":
        yield "memory://"
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    yield server.url


def test_sigterm_ends_resumable_tails_and_websockets_and_the_server_exits(
    spec: ServerSpec, upstream: FakeUpstream, probe_dir: str, resume_url: str
) -> None:
    env = {**server_env(upstream, probe_dir), "RAIS_RESUME_URL": resume_url}
    server = start_server(app_spec(spec), env)
    tails: list[OpenStream] = []
    try:
        before = upstream.cancelled
        tails += [OpenStream(server, LONG) for _ in range(TAILS)]
        sockets = [] if spec.wsgi else [OpenSocket(server) for _ in range(SOCKETS)]
        for tail in tails:
            assert tail.started.wait(20) and tail.raw.startswith(b"HTTP/1.1 200"), tail.raw[:300]
        assert wait_until(lambda: all(len(t.events) >= 2 for t in tails), 20)
        for ws in sockets:
            assert ws.started.wait(20) and ws.events, ws.code
        terminated = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{spec.id} still running 20 s after SIGTERM:\n{server.log()[-3000:]}")
        print(
            f"\n{spec.id} ({resume_url.partition(':')[0]}): "
            f"exited {time.monotonic() - terminated:.1f} s after SIGTERM"
        )
        for tail in tails:
            assert tail.ended.wait(15), tail.raw[-300:]
            types = {event["type"] for event in tail.events}
            assert types == {"text"}, (types, tail.raw[-300:])  # no done, no error: resumable
        for ws in sockets:
            assert ws.ended.wait(15), ws.events[-2:]
            assert ws.code in (1012, 1001), (ws.code, ws.events[-2:])
            assert all(event["type"] == "text" for event in ws.events[:-1])
        assert upstream.wait_cancelled(before + TAILS + len(sockets), timeout=20), (
            upstream.cancelled - before,
            server.log()[-3000:],
        )
    finally:
        server.stop()
        for tail in tails:
            tail.sock.close()


#: ASGI servers; under WSGI the stream is closed when a write fails (see test_stalled).
ASGI_SPECS = [spec for spec in selected_servers() if not spec.wsgi]


@pytest.mark.parametrize("spec", ASGI_SPECS, indirect=True, ids=[s.id for s in ASGI_SPECS])
def test_a_client_that_leaves_has_its_stream_closed_not_collected(
    spec: ServerSpec, upstream: FakeUpstream, probe_dir: str
) -> None:
    env = {**server_env(upstream, probe_dir), "RAIS_TEST_GC": "off"}
    streams: list[OpenStream] = []
    server = start_server(app_spec(spec), env)
    try:
        for round_ in range(3):
            before = upstream.cancelled
            stream = OpenStream(server, LONG)
            streams.append(stream)
            assert stream.started.wait(20) and stream.raw.startswith(b"HTTP/1.1 200")
            assert wait_until(lambda s=stream: len(s.events) >= 2, 20), stream.raw[:300]
            stream.sock.shutdown(socket.SHUT_RDWR)  # the client leaves mid-answer
            assert upstream.wait_cancelled(before + 1, timeout=10), (round_, server.log()[-2000:])
    finally:
        server.stop()
        for stream in streams:
            stream.sock.close()
