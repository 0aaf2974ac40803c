"""Issue 11 point 7: a resumable stream is bound to whoever started it.

``/api/owned`` takes its owner from the ``X-User`` header: a reconnect (Last-Event-ID)
from another user, or from nobody, gets 204 and no byte of the answer; the owner
resumes right after the last event it saw, to the end.
"""

from __future__ import annotations

import json

import httpx

from tests.conformance.sse import Received, read_stream
from tests.reliability.apps import OWNED_PATH
from tests.servers import RunningServer

TOKENS = 30
EXPECTED = "".join(f"t{i} " for i in range(TOKENS))


def post(
    client: httpx.Client, url: str, headers: dict[str, str], *, max_events: int | None = None
) -> Received:
    body = {"messages": [{"role": "user", "content": f"[count:{TOKENS}][delay:0.05]"}]}
    with client.stream(
        "POST",
        url,
        content=json.dumps(body),
        headers={"Content-Type": "application/json", **headers},
    ) as response:
        received = Received(response.status_code, response.headers)
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            read_stream(response, received, max_events=max_events)
        else:
            received.raw = response.read()
    return received


def test_only_the_owner_resumes_a_stream(app_server: RunningServer) -> None:
    url = app_server.base_url + OWNED_PATH
    with httpx.Client(timeout=httpx.Timeout(20.0)) as client:
        first = post(client, url, {"X-User": "alice"}, max_events=3)  # then the client leaves
        assert first.status == 200, first.raw[:300]
        assert first.types == ["text"] * 3, first.raw[:300]
        last_id = first.ids[-1]
        assert last_id

        for stranger in ({"X-User": "mallory"}, {}):
            refused = post(client, url, {**stranger, "Last-Event-ID": last_id})
            assert refused.status == 204, (stranger, refused.status, refused.raw[:300])
            assert refused.raw == b"" and not refused.events

        resumed = post(client, url, {"X-User": "alice", "Last-Event-ID": last_id})
    assert resumed.status == 200, resumed.raw[:300]
    assert resumed.types[-1] == "done", resumed.raw[-300:]
    assert first.text + resumed.text == EXPECTED
