"""Issue 11 point 5: clients that stop reading are cut after the send timeout.

200 clients ask for a long answer and never read (a tiny receive window, no recv).
After ``RAIS_SEND_TIMEOUT`` (2 s here) each stalled stream is ended and its upstream
call cancelled, and a normal chat is answered: under gunicorn's gthread worker too,
whose 64 threads would otherwise all stay blocked in a write. A stream whose upstream call
never got through (the fake upstream, busy with the others, too slow to accept it within
the SDK's connect timeout) is counted as such from the server's log, not taken as a leak.
"""

from __future__ import annotations

import socket
import time

import pytest

from tests.fakes.upstreams import FakeUpstream
from tests.figures import report
from tests.reliability.apps import LONG_PATH
from tests.reliability.conftest import SEND_TIMEOUT
from tests.reliability.raw import chat_body, exchange, request_head, sse_events
from tests.servers import RunningServer

#: The whole test's bound: the fake upstream may need a while to recover from 200 long
#: answers being cut; every wait inside is bounded too.
pytestmark = pytest.mark.timeout(420)

STALLED = 200
#: 10 000 upstream tokens at most 200 a second: the fake cannot finish within the test,
#: and each token goes out as 16 KiB (``/api/long``), so the socket buffers fill fast.
LONG = "[count:10000][delay:0.005]"
#: How the server logs a call that ran into the openai SDK's connect timeout (5 s).
CONNECT_TIMEOUT = "rais._errors.UpstreamError: The model provider timed out"


def stalled_client(port: int) -> socket.socket:
    """Ask for the long answer with a tiny receive window, and never read a byte."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    body = chat_body(LONG)
    head = request_head("POST", LONG_PATH, {"Content-Type": "application/json"}, length=len(body))
    sock.sendall(head + body)
    return sock


def test_stalled_clients_are_cut_and_a_normal_chat_is_answered(
    app_server: RunningServer, upstream: FakeUpstream
) -> None:
    cancelled = upstream.cancelled
    asked = len(upstream.requests)
    timed_out = app_server.log().count(CONNECT_TIMEOUT)
    sockets: list[socket.socket] = []
    try:
        for _ in range(STALLED):
            sockets.append(stalled_client(app_server.port))
        sent = time.monotonic()
        body = chat_body("[count:3]")
        head = request_head(
            "POST",
            "/api/chat",
            {"Content-Type": "application/json", "Connection": "close"},
            length=len(body),
        )
        # The fake upstream itself is busy with 200 long answers until they are cut, and may
        # time out a request meanwhile: the server must answer a normal chat to the end
        # within the deadline (asking again after an upstream timeout, as a user would).
        deadline = sent + 240
        chats = 0
        while True:
            chats += 1
            answer = exchange(app_server.port, head, [body], timeout=120)
            assert answer.status == 200, answer.body[:300]
            types = [e["type"] for e in sse_events(answer.body)]
            if types[-1] == "done" or time.monotonic() > deadline:
                break
            time.sleep(1)
        recovered = time.monotonic() - sent
        assert types[-1] == "done", answer.body[-300:]

        # Every call asked of the upstream reached it or ended in the SDK's connect timeout:
        # on a loaded machine the fake, busy with 200 long answers at once, can be too slow
        # to accept some (those streams end with an error event and hold no upstream call).
        def arrived() -> int:
            return len(upstream.requests) - asked

        def failed_to_connect() -> int:
            return app_server.log().count(CONNECT_TIMEOUT) - timed_out

        accounted = upstream.wait_for(
            lambda: arrived() + failed_to_connect() >= STALLED + chats, 120
        )
        assert accounted, (arrived(), failed_to_connect(), chats, app_server.log()[-2000:])
        # Every stalled stream's call that reached the upstream was cut (the chat that was
        # answered reached it too, and ended with its answer).
        stalled_calls = arrived() - 1
        # ...and most did, or this test would show nothing about cutting them.
        assert stalled_calls >= STALLED // 2, (stalled_calls, app_server.log()[-2000:])
        assert upstream.wait_cancelled(cancelled + stalled_calls, timeout=120), (
            upstream.cancelled - cancelled,
            stalled_calls,
            app_server.log()[-2000:],
        )
        all_cut = time.monotonic() - sent
        report(
            f"{app_server.spec.id}: {STALLED} stalled clients, send timeout {SEND_TIMEOUT} s: "
            f"a normal chat answered {recovered:.1f} s after they asked, "
            f"all {stalled_calls} upstream calls cancelled after {all_cut:.1f} s "
            f"({failed_to_connect()} never reached the busy fake)"
        )
        assert app_server.process.poll() is None
    finally:
        for sock in sockets:
            sock.close()
