"""Issue 11 point 4: no handler takes the server down. A handler that raises SystemExit,
KeyboardInterrupt or an unknown BaseException subclass mid-stream ends its stream with
one safe ``error`` event and a log line; the same server (the same gunicorn worker)
then answers a normal chat."""

from __future__ import annotations

import time

import pytest

from tests.reliability.apps import CRASH_PATH, CRASH_PREFIX, RAISES
from tests.reliability.raw import chat_body, post_json, sse_events
from tests.servers import RunningServer

FAILED = "rais stream failed"


def wait_for_log(server: RunningServer, needle: str, count: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.log().count(needle) >= count:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("raised", list(RAISES))
def test_a_base_exception_mid_stream_is_one_error_event_and_the_server_serves_on(
    app_server: RunningServer, raised: str
) -> None:
    pids = app_server.pids()
    logged = app_server.log().count(FAILED)
    answer = post_json(app_server.port, CRASH_PATH, chat_body("hi", **{"raise": raised}))
    assert answer.status == 200, answer.body[:300]
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = sse_events(answer.body)
    types = [event["type"] for event in events]
    assert types and types[-1] == "error", (types, answer.body[-300:])
    assert types.count("error") == 1 and "done" not in types, types
    assert "".join(e["text"] for e in events if e["type"] == "text") == CRASH_PREFIX
    message = events[-1]["error"]
    assert isinstance(message, str) and message and "Traceback" not in message
    assert wait_for_log(app_server, FAILED, logged + 1), app_server.log()[-2000:]

    normal = post_json(app_server.port, "/api/chat", chat_body("[count:3]"))
    assert normal.status == 200, normal.body[:300]
    assert [e["type"] for e in sse_events(normal.body)][-1] == "done", normal.body[-300:]
    assert app_server.process.poll() is None, app_server.log()[-2000:]
    assert app_server.pids() == pids  # no worker died and was replaced
