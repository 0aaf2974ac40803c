"""Issue 19.9: a body trickled byte by byte cannot hold a worker past the body deadline.

Before, 8 clients sending a chunked body at 1 byte/s pinned all 8 threads of a
Flask/gunicorn worker for as long as they liked (a Content-Length trickle did the same
under Django/gunicorn), and a normal chat got no answer. Now every body has a deadline
(``Limits.body_timeout``, here ``RAIS_BODY_TIMEOUT``): past it the client gets a 408 JSON
error and the thread is free. The gthread servers here run 64 threads: 70 tricklers
(half of them chunked) are more than that.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
import threading
import time

import pytest

from tests.reliability.raw import Answer, chat_body, parse, post_json, request_head, sse_events
from tests.servers import RunningServer

#: The reliability apps' body deadline (conftest's RAIS_BODY_TIMEOUT).
BODY_TIMEOUT = 3.0
TRICKLERS = 70
HEADERS = {"Content-Type": "application/json", "Connection": "close"}


class Tricklers:
    """``count`` clients that each send a byte of body every ``interval`` seconds, from
    one thread, and keep what the server answers them."""

    def __init__(self, port: int, count: int, interval: float = 0.5) -> None:
        self.selector = selectors.DefaultSelector()
        self.received: dict[int, bytes] = {}
        self.chunked: dict[int, bool] = {}
        self.answers: dict[int, Answer] = {}
        self.interval = interval
        self.stop = threading.Event()
        for n in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            framed = n % 2 == 1
            head = request_head("POST", "/api/chat", HEADERS, length=None if framed else 4096)
            sock.sendall(head + (b'{"messages": [' if not framed else b""))
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ, n)
            self.received[n] = b""
            self.chunked[n] = framed
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + 120
        next_byte = time.monotonic()
        while not self.stop.is_set() and time.monotonic() < deadline:
            if not self.selector.get_map():
                return
            for key, _ in self.selector.select(0.05):
                self._read(key.fileobj, key.data)  # type: ignore[arg-type]
            if time.monotonic() >= next_byte:
                next_byte += self.interval
                for key in list(self.selector.get_map().values()):
                    byte = b"1\r\n \r\n" if self.chunked[key.data] else b" "
                    # The server may have answered and closed: the read says what.
                    with contextlib.suppress(OSError):
                        key.fileobj.send(byte)  # type: ignore[union-attr]
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]

    def _read(self, sock: socket.socket, n: int) -> None:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        self.received[n] += data
        answer = parse(self.received[n], eof=not data)
        if answer is not None or not data:
            if answer is not None:
                self.answers[n] = answer
            self.selector.unregister(sock)
            sock.close()

    def wait(self, timeout: float) -> None:
        """Until every trickler has its answer (or the server closed it), bounded."""
        self.thread.join(timeout)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


def test_trickled_bodies_get_408_and_free_their_workers(
    request: pytest.FixtureRequest, app_server: RunningServer
) -> None:
    spec = app_server.spec
    if spec.framework == "django" and not spec.wsgi:
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason="Django's ASGIHandler reads the whole body before it calls any view, "
                "so rais cannot put a deadline on it (a trickle there holds a coroutine, "
                "not a thread: other chats are answered)",
            )
        )
    assert sse_events(post_json(app_server.port, "/api/chat", chat_body("[count:1]")).body)
    tricklers = Tricklers(app_server.port, TRICKLERS)
    try:
        # While they trickle, and all the worker's threads may be theirs, a normal chat
        # still gets its answer: the deadline frees the threads.
        answer = post_json(app_server.port, "/api/chat", chat_body("[count:3]"))
        assert answer.status == 200, answer.body[:300]
        assert [e["type"] for e in sse_events(answer.body)] == ["text"] * 3 + ["done"]
        tricklers.wait(BODY_TIMEOUT + 30)
    finally:
        tricklers.close()
    wanted = {False: 408, True: 411 if spec.framework == "django" and spec.wsgi else 408}
    statuses = {
        n: (tricklers.answers[n].status if n in tricklers.answers else None)
        for n in range(TRICKLERS)
    }
    wrong = {n: s for n, s in statuses.items() if s != wanted[tricklers.chunked[n]]}
    assert not wrong, (
        f"{len(wrong)} of {TRICKLERS} tricklers got {sorted(set(wrong.values()), key=str)}"
    )
    for got in tricklers.answers.values():
        assert got.headers.get("content-type", "").startswith("application/json"), got.headers
        error = json.loads(got.body)["error"]
        if got.status == 408:
            assert error["type"] == "body_timeout" and "3 seconds" in error["message"], error
