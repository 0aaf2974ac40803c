"""docs/deploy, proved: Debian's nginx with docs/deploy/nginx.conf in front of two rais
servers (two processes on loopback, standing in for two machines) that share one Redis.

The test changes only the conf's ports and, for the heartbeat check, its
``proxy_read_timeout`` (to 5 s); everything else is the documented file.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from rais._sse_decode import SSEBlockDecoder
from tests.conformance.sse import Received, chat, read_stream
from tests.fakes.upstreams import FakeUpstream
from tests.redis_server import RedisServer, redis_server
from tests.servers import ROOT, RunningServer, ServerSpec, free_port, start_server, wait_for_port

__all__ = ["redis_server"]  # the session fixture, used below

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CONF = ROOT / "docs" / "deploy" / "nginx.conf"
#: A bound for what takes a second on an idle machine.
DEADLINE = 20.0
READ_TIMEOUT = 5
#: The documented backend command (docs/deploy/README.md), on the FastAPI integration.
BACKEND = ServerSpec(
    "fastapi-behind-nginx",
    "fastapi",
    (
        "{py}",
        "-m",
        "uvicorn",
        "integrations.fastapi_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--timeout-graceful-shutdown",
        "10",
        "--proxy-headers",
        "--forwarded-allow-ips",
        "127.0.0.1",
    ),
)


@dataclass
class Proxy:
    url: str
    backends: list[RunningServer]
    process: subprocess.Popen[bytes]
    error_log: Path
    redis_url: str


def rendered_conf(listen: int, backends: list[int]) -> str:
    """The documented conf with this test's ports and a 5 s read timeout."""
    text = CONF.read_text()
    assert text.count("server 127.0.0.1:800") == 2 and "listen 8080;" in text
    text = text.replace("127.0.0.1:8001", f"127.0.0.1:{backends[0]}")
    text = text.replace("127.0.0.1:8002", f"127.0.0.1:{backends[1]}")
    text = text.replace("listen 8080;", f"listen 127.0.0.1:{listen};")
    text, count = re.subn(r"proxy_read_timeout \d+s;", f"proxy_read_timeout {READ_TIMEOUT}s;", text)
    assert count == 1
    return text


@pytest.fixture(scope="module")
def proxy(upstream: FakeUpstream, redis_server: RedisServer) -> Iterator[Proxy]:
    if not Path(NGINX).exists():
        pytest.fail(f"{NGINX} is missing: apt-get install nginx (scripts/test.sh does)")
    env = {
        "OPENAI_API_KEY": "sk-test-deploy-51d0c2",
        "OPENAI_BASE_URL": upstream.base_url,
        "RAIS_MAX_RETRIES": "0",
        "RAIS_HEARTBEAT": "1",  # well under the 5 s proxy_read_timeout
        "RAIS_RESUME_URL": redis_server.url,
        "RAIS_RESUME_GRACE": "2",  # an answer nobody reads any more is stopped
    }
    backends = [start_server(BACKEND, env), start_server(BACKEND, env)]
    prefix = Path(tempfile.mkdtemp(prefix="rais-nginx-"))
    listen = free_port()
    (prefix / "rais.conf").write_text(rendered_conf(listen, [b.port for b in backends]))
    (prefix / "nginx.conf").write_text(
        f"""
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/rais.conf;
}}
"""
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        try:
            wait_for_port(listen, process)
        except (RuntimeError, TimeoutError):
            pytest.fail("nginx did not start:\n" + (prefix / "error.log").read_text())
        yield Proxy(
            f"http://127.0.0.1:{listen}", backends, process, prefix / "error.log", redis_server.url
        )
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for backend in backends:
            backend.stop()
        shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream("openai") as fake:
        yield fake


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(20.0)) as http:
        yield http


class Reader:
    """One open stream, read a little at a time."""

    def __init__(self, response: httpx.Response) -> None:
        assert response.status_code == 200
        self.response = response
        self.received = Received(response.status_code, response.headers)
        self.chunks = response.iter_raw()
        self.decoder = SSEBlockDecoder()

    def read(self, events: int) -> bool:
        """Read until ``events`` events in all; ``False`` if the stream ended first."""
        while len(self.received.events) < events:
            chunk = next(self.chunks, None)
            if chunk is None:
                return False
            for block in self.decoder.feed(chunk):
                self.received.add(block)
        return True


def logs(proxy: Proxy) -> str:
    return "\n".join(b.log()[-1500:] for b in proxy.backends) + proxy.error_log.read_text()[-1500:]


def test_tokens_arrive_one_by_one_through_nginx(proxy: Proxy, client: httpx.Client) -> None:
    # A 500 s answer: had nginx buffered it, no token would arrive before the deadline.
    body = {"messages": [{"role": "user", "content": "[count:1000][delay:0.5]"}]}
    deadline = time.monotonic() + DEADLINE
    with client.stream("POST", proxy.url + "/api/chat", json=body) as response:
        assert response.status_code == 200
        received = Received(response.status_code, response.headers)
        decoder = SSEBlockDecoder()
        for chunk in response.iter_raw():  # heartbeats keep this loop turning
            for block in decoder.feed(chunk):
                received.add(block)
            if len(received.events) >= 2 or time.monotonic() > deadline:
                break
    assert received.events == [{"type": "text", "text": "t0 "}, {"type": "text", "text": "t1 "}]
    assert received.arrivals[1] - received.arrivals[0] > 0.25  # apart, as the model made them


def test_heartbeats_keep_an_idle_stream_open_past_the_read_timeout(
    proxy: Proxy, client: httpx.Client
) -> None:
    started = time.monotonic()
    received = chat(client, proxy.url + "/api/chat", f"[count:2][delay:{READ_TIMEOUT + 2}]")
    assert received.status == 200, received.raw
    assert received.types == ["text", "text", "done"], (received.raw, logs(proxy))
    assert time.monotonic() - started > 2 * READ_TIMEOUT  # idle longer than nginx allows
    assert received.comments >= READ_TIMEOUT  # RAIS_HEARTBEAT=1


def test_a_dropped_stream_resumes_on_the_other_backend(proxy: Proxy, client: httpx.Client) -> None:
    """RAIS v1 with ``Last-Event-ID``; round-robin sends the two requests to both backends."""
    content = "[count:40][delay:0.03]"
    posts_before = [b.log().count('"POST /api/chat HTTP/1.1" 200') for b in proxy.backends]
    before = chat(client, proxy.url + "/api/chat", content, max_events=4)
    assert before.status == 200 and len(before.events) >= 4
    last_id = before.ids[3]
    after = chat(client, proxy.url + "/api/chat", content, headers={"Last-Event-ID": last_id})
    assert after.status == 200, (after.raw, logs(proxy))
    text = "".join(e["text"] for e in before.events[:4] if e["type"] == "text") + after.text
    assert text == "".join(f"t{i} " for i in range(40))
    assert after.types[-1] == "done"
    posts = [b.log().count('"POST /api/chat HTTP/1.1" 200') for b in proxy.backends]
    assert [n - m for n, m in zip(posts, posts_before, strict=True)] == [1, 1]  # one on each


def test_the_ai_sdk_resume_goes_through_nginx(proxy: Proxy, client: httpx.Client) -> None:
    chat_id = "chat-" + uuid.uuid4().hex[:8]
    body = {
        "id": chat_id,
        "trigger": "submit-message",
        "messages": [
            {
                "id": "m",
                "role": "user",
                "parts": [{"type": "text", "text": "[count:40][delay:0.05]"}],
            }
        ],
    }
    before = chat(client, proxy.url + "/api/ui", body=body, max_events=5)
    assert before.status == 200 and before.events[0]["type"] == "start"
    with client.stream("GET", f"{proxy.url}/api/ui/{chat_id}/stream") as response:
        assert response.status_code == 200, logs(proxy)
        after = Received(response.status_code, response.headers)
        read_stream(response, after)
    assert after.events[0] == before.events[0]
    deltas = "".join(e["delta"] for e in after.events if e["type"] == "text-delta")
    assert deltas == "".join(f"t{i} " for i in range(40))
    assert after.done_marker


def read_marks(proxy: Proxy) -> dict[str, str]:
    """Until when each resumable stream's readers said they read (for a failure's message)."""
    import redis

    client = redis.Redis.from_url(proxy.redis_url, decode_responses=True)
    try:
        return {key: str(client.get(key)) for key in client.scan_iter("*:read")}
    finally:
        client.close()


def test_a_client_leaving_at_nginx_cancels_the_upstream_call(
    proxy: Proxy, client: httpx.Client, upstream: FakeUpstream
) -> None:
    """nginx closes the backend connection; with nobody reading, the answer is stopped
    (RAIS_RESUME_GRACE=2) and the upstream call cancelled."""
    before = upstream.cancelled
    # 100 s of answer: a cancel is told from a completion whatever the machine's load
    body = {"messages": [{"role": "user", "content": "[count:2000][delay:0.05]"}]}
    with client.stream("POST", proxy.url + "/api/chat", json=body) as response:
        received = Received(response.status_code, response.headers)
        read_stream(response, received, max_events=3)
    # heartbeat (1 s) + grace (2 s) on an idle machine; bounded generously for a loaded one
    cancelled = upstream.wait_cancelled(before + 1, timeout=3 * DEADLINE)
    assert cancelled, f"{logs(proxy)}\nreaders: {read_marks(proxy)} at {time.time():.1f}"


def test_sigterm_to_one_backend_sends_its_clients_to_the_other(
    proxy: Proxy, client: httpx.Client
) -> None:
    """Last: it stops a backend. Its reader's stream ends (rais leaves resumable readers
    without a terminal event, so they reconnect); the reconnect through nginx reaches the
    other backend, which replays the rest from Redis: up to the shutdown error the stopped
    generation stored. New chats all go to the other backend."""
    victim = proxy.backends[0]
    body = {"messages": [{"role": "user", "content": "[count:1000][delay:0.05]"}]}
    readers = []
    for _ in range(2):  # round-robin: one of them is on the victim
        request = client.build_request("POST", proxy.url + "/api/chat", json=body)
        readers.append(Reader(client.send(request, stream=True)))
    for reader in readers:
        assert reader.read(3), "no events"
    victim.process.send_signal(signal.SIGTERM)
    cut = [reader.received for reader in readers if not reader.read(40)]
    for reader in readers:
        reader.response.close()
    assert len(cut) == 1, [r.received.types[-3:] for r in readers]
    assert cut[0].types[-1] == "text"  # ended without a terminal event: reconnect
    assert victim.process.wait(DEADLINE) is not None
    rest = chat(
        client,
        proxy.url + "/api/chat",
        "ignored",
        headers={"Last-Event-ID": str(cut[0].ids[-1])},
    )
    assert rest.status == 200, (rest.raw, logs(proxy))
    assert rest.events[-1] == {
        "type": "error",
        "error": "The server is shutting down; please retry.",
    }
    for _ in range(4):
        again = chat(client, proxy.url + "/api/chat", "[count:2]")
        assert again.status == 200, (again.raw, logs(proxy))
        assert again.types == ["text", "text", "done"]
