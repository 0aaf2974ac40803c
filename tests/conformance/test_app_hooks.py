"""Issue 10's app options over real servers: ``handler(chat)``, ``configure``, ``on_finish``.

Every integration serves ``/api/app`` (plus ``/ws``, ``/resumable`` and ``/anthropic``)
with the hooks of integrations/app_hooks.py: the handler and configure put an extra
body field and a request header into the answer and the upstream request, and
``on_finish`` appends each stream's result as a JSON line to ``RAIS_FINISH_LOG``.
Each test tags its request with a fresh value and finds its line by that tag.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from rais.shutdown import SHUTDOWN_MESSAGE
from tests.conformance.conftest import API_KEY, FINISH_LOGS, SERVER_ENV, finish_log
from tests.conformance.sse import Received, ablocks, chat
from tests.fakes.upstreams import FakeUpstream, RecordedRequest
from tests.servers import RunningServer, ServerSpec, selected_servers, start_server

ASGI_SERVERS = [spec for spec in selected_servers() if not spec.wsgi]
ORIGIN = Origin("http://localhost:3000")  # quart-cors refuses sockets without one

#: The class of ``chat.request`` a handler gets, per framework: over HTTP, over WebSocket.
REQUEST_TYPES = {
    "fastapi": ("Request", "WebSocket"),
    "starlette": ("Request", "WebSocket"),
    "django": ("ASGIRequest", "dict"),  # Channels hands over the ASGI scope
    "flask": ("Request", None),
    "quart": ("Request", "Websocket"),
    "litestar": ("Request", "WebSocket"),
    "aiohttp": ("Request", "Request"),
}

#: How long a second (wrong) on_finish call gets to show up after the first one.
SETTLE = 0.75


# -- helpers ---------------------------------------------------------------------------


def new_tag() -> str:
    return uuid.uuid4().hex[:12]


def body(content: str, tag: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": content}], "tag": tag}


def headers(tag: str, user: str = "alice") -> dict[str, str]:
    return {"X-App-Tag": f"h-{tag}", "X-App-User": user}


def prefix(tag: str) -> str:
    """What the app's handler streams first: the extra field and the header it saw."""
    return f"[tag={tag} header=h-{tag}] "


def lines(path: Path, tag: str) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    found = []
    text = path.read_text()
    # Only whole lines: the server may be appending one while this reads.
    for line in text[: text.rfind("\n") + 1].splitlines():
        if line.strip():
            record = json.loads(line)
            if record["tag"] == tag:
                found.append(record)
    return found


def finished_once(path: Path, tag: str, server: RunningServer | None = None) -> dict[str, Any]:
    """The one on_finish record of ``tag``: waits for it (bounded), then checks no second one."""
    deadline = time.monotonic() + 20
    while not (found := lines(path, tag)) and time.monotonic() < deadline:
        time.sleep(0.05)
    log = server.log()[-3000:] if server is not None else ""
    assert found, f"on_finish never logged {tag}\n{log}"
    time.sleep(SETTLE)
    found = lines(path, tag)
    assert len(found) == 1, (found, log)
    return found[0]


def wait_for_lines(path: Path, tags: list[str]) -> None:
    """Wait (bounded) until every tag has a line, then a little more for stray second ones."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not all(lines(path, tag) for tag in tags):
        time.sleep(0.05)
    time.sleep(SETTLE)


def upstream_request(upstream: FakeUpstream, tag: str) -> RecordedRequest:
    """The upstream call configure shaped for ``tag`` (it carries the tag in the system prompt)."""
    needle = f"tag={tag} header=h-{tag}"

    def matching() -> list[RecordedRequest]:
        return [r for r in upstream.requests if needle in json.dumps(r.json)]

    assert upstream.wait_for(lambda: bool(matching()), timeout=10), needle
    found = matching()
    assert len(found) == 1, "one upstream call per chat"
    return found[0]


def tokens(n: int) -> str:
    return "".join(f"t{i} " for i in range(n))


def app_url(server: RunningServer, path: str = "") -> str:
    return f"{server.base_url}/api/app{path}"


def ws_url(server: RunningServer) -> str:
    return f"ws://127.0.0.1:{server.port}/api/app/ws"


def request_type(server: RunningServer, *, websocket: bool = False) -> str | None:
    if server.spec.framework == "django" and server.spec.wsgi:
        return "WSGIRequest"
    return REQUEST_TYPES[server.spec.framework][websocket]


def assert_usage(record: dict[str, Any], completion: int) -> None:
    usage = record["usage"]
    assert usage is not None, record
    assert usage["completion_tokens"] == completion
    assert usage["prompt_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + completion


@pytest.fixture
def log(server: RunningServer) -> Path:
    return finish_log(server)


# -- plain SSE ---------------------------------------------------------------------------


def test_done_handler_sees_field_and_header_usage_reaches_on_finish(
    server: RunningServer, client: httpx.Client, upstream: FakeUpstream, log: Path
) -> None:
    tag = new_tag()
    received = chat(client, app_url(server), body=body("[count:5]", tag), headers=headers(tag))
    assert received.status == 200, received.raw
    assert received.types == ["text"] * 6 + ["done"]
    assert received.text == prefix(tag) + tokens(5)

    sent = upstream_request(upstream, tag)
    assert sent.json["stream_options"] == {"include_usage": True}
    assert sent.json["messages"][0] == {"role": "system", "content": f"tag={tag} header=h-{tag}"}

    record = finished_once(log, tag, server)
    assert record["outcome"] == "done"
    assert record["text"] == received.text
    assert record["error"] is None and record["status"] == 200
    assert record["chunks"] == 6
    assert 0 <= record["ttft"] <= record["duration"]
    assert record["header"] == f"h-{tag}" and record["user"] == "alice"
    assert record["request"] == request_type(server)
    assert record["model"] == sent.json["model"]
    assert record["stream_id"] is None
    assert_usage(record, 5)


def test_upstream_error_mid_stream_is_outcome_error(
    server: RunningServer, client: httpx.Client, log: Path
) -> None:
    tag = new_tag()
    received = chat(
        client, app_url(server), body=body("[fault:error_mid]", tag), headers=headers(tag)
    )
    assert received.types[-1] == "error" and received.types.count("error") == 1
    assert "done" not in received.types

    record = finished_once(log, tag, server)
    assert record["outcome"] == "error"
    assert record["error"] == received.events[-1]["error"]
    assert API_KEY not in record["error"]
    assert record["text"] == received.text and received.text.startswith(prefix(tag))
    assert record["header"] == f"h-{tag}"


def django_before_5() -> bool:
    import django

    return tuple(django.VERSION[:2]) < (5, 0)


def test_client_leaving_is_outcome_disconnected_and_cancels_upstream(
    server: RunningServer,
    client: httpx.Client,
    upstream: FakeUpstream,
    log: Path,
    request: pytest.FixtureRequest,
) -> None:
    if server.spec.id == "django-uvicorn" and django_before_5():
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason="Django < 5.0 under ASGI never tells a streaming response that the "
                "client left (Django 5.0 listens for http.disconnect); use 5.0+ or WSGI",
            )
        )
    tag = new_tag()
    before = upstream.cancelled
    received = chat(
        client,
        app_url(server),
        body=body("[count:100000][delay:0.05]", tag),
        headers=headers(tag),
        max_events=3,
    )  # leaving the block closed the connection mid-stream
    assert received.types[:3] == ["text"] * 3

    record = finished_once(log, tag, server)
    assert record["outcome"] == "disconnected"
    assert record["error"] is None
    assert record["text"].startswith(received.text) and "done" not in received.types
    assert upstream.wait_cancelled(before + 1, timeout=15), server.log()[-2000:]


def test_anthropic_usage_reaches_on_finish(
    server: RunningServer, client: httpx.Client, anthropic_upstream: FakeUpstream, log: Path
) -> None:
    tag = new_tag()
    received = chat(
        client, app_url(server, "/anthropic"), body=body("[count:4]", tag), headers=headers(tag)
    )
    assert received.status == 200, received.raw
    assert received.text == prefix(tag) + tokens(4)
    assert received.types[-1] == "done"

    sent = upstream_request(anthropic_upstream, tag)
    assert sent.json["system"] == f"tag={tag} header=h-{tag}"

    record = finished_once(log, tag, server)
    assert record["outcome"] == "done" and record["endpoint"] == "anthropic"
    assert record["text"] == received.text
    assert_usage(record, 4)  # input tokens from message_start, output from message_delta


# -- resumable -----------------------------------------------------------------------------


def stream_id_of(received: Received) -> str:
    ids = {str(event_id).rpartition(":")[0] for event_id in received.ids}
    assert len(ids) == 1 and "" not in ids, received.ids
    return ids.pop()


def test_resumable_on_finish_once_per_generation_not_per_reader(
    server: RunningServer, client: httpx.Client, upstream: FakeUpstream, log: Path
) -> None:
    tag = new_tag()
    url = app_url(server, "/resumable")
    ask = body("[count:30][delay:0.02]", tag)
    first = chat(client, url, body=ask, headers=headers(tag), max_events=4)
    assert first.status == 200, first.raw
    del first.events[4:], first.ids[4:]
    stream_id = stream_id_of(first)

    # Another user holding the id cannot read the stream.
    stolen = chat(
        client,
        url,
        body=ask,
        headers={**headers(tag, "mallory"), "Last-Event-ID": first.ids[-1] or ""},
    )
    assert stolen.status == 204 and stolen.raw == b""

    rest = chat(
        client, url, body=ask, headers={**headers(tag), "Last-Event-ID": first.ids[-1] or ""}
    )
    assert rest.status == 200, rest.raw
    assert rest.types[-1] == "done"
    assert first.text + rest.text == prefix(tag) + tokens(30)

    # A third reader replays from the start while the record is being written.
    again = chat(
        client, url, body=ask, headers={**headers(tag), "Last-Event-ID": first.ids[0] or ""}
    )
    assert again.types[-1] == "done"

    record = finished_once(log, tag, server)
    assert record["outcome"] == "done" and record["endpoint"] == "resumable"
    assert record["stream_id"] == stream_id
    assert record["text"] == prefix(tag) + tokens(30)
    assert record["header"] == f"h-{tag}" and record["user"] == "alice"
    assert record["request"] == request_type(server)
    assert_usage(record, 30)
    upstream_request(upstream, tag)  # exactly one paid answer for three readers


def test_resumable_drop_is_not_a_disconnect_generation_runs_to_done(
    server: RunningServer, client: httpx.Client, log: Path
) -> None:
    tag = new_tag()
    dropped = chat(
        client,
        app_url(server, "/resumable"),
        body=body("[count:10][delay:0.02]", tag),
        headers=headers(tag),
        max_events=2,
    )
    assert dropped.status == 200, dropped.raw
    record = finished_once(log, tag, server)
    assert record["outcome"] == "done"
    assert record["text"] == prefix(tag) + tokens(10)


def test_resumable_upstream_error_is_outcome_error(
    server: RunningServer, client: httpx.Client, log: Path
) -> None:
    tag = new_tag()
    received = chat(
        client,
        app_url(server, "/resumable"),
        body=body("[fault:error_mid]", tag),
        headers=headers(tag),
    )
    assert received.types[-1] == "error"
    record = finished_once(log, tag, server)
    assert record["outcome"] == "error"
    assert record["error"] == received.events[-1]["error"]
    assert record["stream_id"] == stream_id_of(received)


# -- WebSocket -------------------------------------------------------------------------------

ws_servers = pytest.mark.parametrize(
    "server", ASGI_SERVERS, indirect=True, ids=[spec.id for spec in ASGI_SERVERS]
)


async def ws_frames(ws: ClientConnection, limit: int | None = None) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    try:
        async for frame in ws:
            events.append(json.loads(frame))
            if limit is not None and len(events) >= limit:
                break
    except ConnectionClosed:
        pass
    return events


def ws_connect(server: RunningServer, tag: str) -> Any:
    return connect(ws_url(server), origin=ORIGIN, additional_headers=headers(tag))


@ws_servers
async def test_websocket_done_sees_field_and_header_with_usage(
    server: RunningServer, upstream: FakeUpstream, log: Path
) -> None:
    tag = new_tag()
    async with ws_connect(server, tag) as ws:
        await ws.send(json.dumps(body("[count:3]", tag)))
        events = await ws_frames(ws)
    assert [e["type"] for e in events] == ["text"] * 4 + ["done"]
    text = "".join(e["text"] for e in events[:-1])
    assert text == prefix(tag) + tokens(3)
    assert ws.close_code == 1000
    await asyncio.to_thread(upstream_request, upstream, tag)

    record = await asyncio.to_thread(finished_once, log, tag, server)
    assert record["outcome"] == "done"
    assert record["text"] == text and record["chunks"] == 4
    assert record["header"] == f"h-{tag}"
    assert record["request"] == request_type(server, websocket=True)
    assert_usage(record, 3)


@ws_servers
async def test_websocket_upstream_error_is_outcome_error(server: RunningServer, log: Path) -> None:
    tag = new_tag()
    async with ws_connect(server, tag) as ws:
        await ws.send(json.dumps(body("[fault:error_mid]", tag)))
        events = await ws_frames(ws)
    assert events[-1]["type"] == "error"
    record = await asyncio.to_thread(finished_once, log, tag, server)
    assert record["outcome"] == "error"
    assert record["error"] == events[-1]["error"]


@ws_servers
async def test_websocket_client_close_is_outcome_disconnected_and_cancels_upstream(
    server: RunningServer, upstream: FakeUpstream, log: Path
) -> None:
    tag = new_tag()
    before = upstream.cancelled
    async with ws_connect(server, tag) as ws:
        await ws.send(json.dumps(body("[count:100000][delay:0.05]", tag)))
        events = await ws_frames(ws, limit=3)
        await ws.close(1000)
    assert [e["type"] for e in events] == ["text"] * 3
    record = await asyncio.to_thread(finished_once, log, tag, server)
    assert record["outcome"] == "disconnected"
    assert await upstream.wait_cancelled_async(before + 1, timeout=15), server.log()[-2000:]


# -- shutdown ----------------------------------------------------------------------------------


@pytest.fixture
def dedicated(
    request: pytest.FixtureRequest,
    upstream: FakeUpstream,
    anthropic_upstream: FakeUpstream,
) -> Iterator[tuple[RunningServer, Path]]:
    """A server of its own, to be SIGTERMed, with its own on_finish log."""
    spec: ServerSpec = request.param
    path = FINISH_LOGS / f"shutdown-{spec.id}-{new_tag()}.jsonl"
    env = {
        **SERVER_ENV,
        "OPENAI_BASE_URL": upstream.base_url,
        "ANTHROPIC_API_KEY": API_KEY,
        "ANTHROPIC_BASE_URL": anthropic_upstream.base_url,
        "RAIS_FINISH_LOG": str(path),
    }
    server = start_server(spec, env)
    try:
        yield server, path
    finally:
        server.stop()


async def read_sse(
    http: httpx.AsyncClient, url: str, tag: str, started: asyncio.Event
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    ask = body("[count:100000][delay:0.05]", tag)
    try:
        async with http.stream("POST", url, json=ask, headers=headers(tag)) as response:
            assert response.status_code == 200
            async for block in ablocks(response):
                events.extend(json.loads(data) for data in block.data)
                if len(events) >= 2:
                    started.set()
    except httpx.HTTPError:
        pass  # a resumable tail may be cut when the process exits
    finally:
        started.set()
    return events


async def read_ws(
    server: RunningServer, tag: str, started: asyncio.Event
) -> tuple[list[dict[str, Any]], int | None]:
    events: list[dict[str, Any]] = []
    async with ws_connect(server, tag) as ws:
        await ws.send(json.dumps(body("[count:100000][delay:0.05]", tag)))
        try:
            async for frame in ws:
                events.append(json.loads(frame))
                if len(events) >= 2:
                    started.set()
        except ConnectionClosed:
            pass
        finally:
            started.set()
    return events, ws.close_code


@pytest.mark.parametrize(
    "dedicated", selected_servers(), indirect=True, ids=[s.id for s in selected_servers()]
)
async def test_sigterm_while_streaming_is_outcome_shutdown(
    dedicated: tuple[RunningServer, Path],
) -> None:
    server, path = dedicated
    tags = {"sse": new_tag(), "resumable": new_tag(), "ws": new_tag()}
    has_ws = not server.spec.wsgi
    flags = {name: asyncio.Event() for name in tags}
    async with httpx.AsyncClient(timeout=30) as http:
        sse = asyncio.ensure_future(read_sse(http, app_url(server), tags["sse"], flags["sse"]))
        resumable = asyncio.ensure_future(
            read_sse(http, app_url(server, "/resumable"), tags["resumable"], flags["resumable"])
        )
        ws = asyncio.ensure_future(read_ws(server, tags["ws"], flags["ws"])) if has_ws else None
        waits = [flags["sse"].wait(), flags["resumable"].wait()]
        if has_ws:
            waits.append(flags["ws"].wait())
        await asyncio.wait_for(asyncio.gather(*waits), 20)
        server.process.send_signal(signal.SIGTERM)
        sse_events = await asyncio.wait_for(sse, 20)
        resumable_events = await asyncio.wait_for(resumable, 20)
        ws_result = await asyncio.wait_for(ws, 20) if ws is not None else None
    await asyncio.to_thread(server.process.wait, 20)

    # Every problem at once: the client side, then what on_finish logged.
    problems: dict[str, Any] = {}
    types = [e["type"] for e in sse_events]
    if not (
        types[:2] == ["text", "text"]
        and types[-1] == "error"
        and sum(t in ("done", "error") for t in types) == 1
        and sse_events[-1]["error"] == SHUTDOWN_MESSAGE
    ):
        problems["sse client"] = sse_events[-3:]
    # Resumable: the tail ends without done (the client resumes elsewhere).
    if "done" in [e["type"] for e in resumable_events]:
        problems["resumable client"] = resumable_events[-3:]
    if ws_result is not None:
        ws_events, code = ws_result
        ws_types = [e["type"] for e in ws_events]
        # Close 1012 says "retry"; uvicorn sends it itself at once, so the error event
        # rais sends first may lose that race. If it gets out, it is the last frame.
        error_ok = "error" not in ws_types or (
            ws_types.count("error") == 1 and ws_events[-1]["error"] == SHUTDOWN_MESSAGE
        )
        if code != 1012 or "done" in ws_types or not error_ok:
            problems["ws client"] = (ws_events[-2:], code)

    kinds = ["sse", "resumable", *(["ws"] if has_ws else [])]
    await asyncio.to_thread(wait_for_lines, path, [tags[kind] for kind in kinds])
    for kind in kinds:
        found = lines(path, tags[kind])
        if len(found) != 1:
            problems[kind] = [r["outcome"] for r in found] or "no on_finish"
            continue
        record = found[0]
        if not (
            record["outcome"] == "shutdown"
            and record["error"] == SHUTDOWN_MESSAGE
            and record["text"].startswith(prefix(tags[kind]))
        ):
            problems[kind] = record
    assert not problems, f"{problems}\n{server.log()[-3000:]}"
