"""Every example starts the way examples/README.md says, and streams a chat over a real socket.

Provider-backed examples talk to a fake OpenAI upstream (``OPENAI_BASE_URL``); the
React example is built with npm exactly as a user would.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from rais._sse_decode import SSEBlockDecoder
from tests.browser.react_example import build_react_example, run_npm
from tests.conformance.sse import Received, chat
from tests.fakes.upstreams import FakeUpstream
from tests.servers import (
    GTHREAD,
    ROOT,
    RunningServer,
    ServerSpec,
    free_port,
    running,
    wait_for_port,
)

API_KEY = "sk-test-examples-0c1d2e3f"


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream("openai") as fake:
        yield fake


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(20.0)) as http:
        yield http


@contextlib.contextmanager
def example(
    script: str, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """Run ``python examples/<script> [args]`` with ``PORT`` set; yield its base URL."""
    port = free_port()
    merged = {**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1", **(env or {})}
    merged["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), merged.get("PYTHONPATH")]))
    argv = [sys.executable, f"examples/{script}", *(a.format(port=port) for a in args)]
    log_path = Path(tempfile.mkstemp(prefix=f"rais-example-{script}-", suffix=".log")[1])
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, cwd=ROOT, env=merged, stdout=log, stderr=subprocess.STDOUT)
    try:
        try:
            wait_for_port(port, process)
        except (RuntimeError, TimeoutError):
            pytest.fail(f"{script} did not start:\n{log_path.read_text(errors='replace')}")
        yield f"http://127.0.0.1:{port}", process, log_path
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def assert_answer(received: Received, text: str) -> None:
    assert received.status == 200, received.raw[:500]
    assert received.headers["content-type"].startswith("text/event-stream")
    assert received.text == text
    assert received.types[-1] == "done"


FRAMEWORK_EXAMPLES = {
    "fastapi": ("fastapi_app.py",),
    "starlette": ("starlette_app.py",),
    "django": ("django_app.py", "runserver", "127.0.0.1:{port}", "--noreload"),
    "flask": ("flask_app.py",),
    "quart": ("quart_app.py",),
}


@pytest.mark.parametrize("framework", sorted(FRAMEWORK_EXAMPLES))
def test_framework_example_streams_from_openai(
    framework: str, upstream: FakeUpstream, client: httpx.Client
) -> None:
    script, *args = FRAMEWORK_EXAMPLES[framework]
    env = {"OPENAI_BASE_URL": upstream.base_url, "OPENAI_API_KEY": API_KEY}
    with example(script, *args, env=env) as (base, _, log):
        received = chat(client, base + "/api/chat", f"[tokens:Hi|, {framework}|!] hello")
        assert_answer(received, f"Hi, {framework}!")
        assert upstream.requests[-1].api_key == API_KEY
        # The browser's preflight: every example opens CORS for local development.
        preflight = client.options(
            base + "/api/chat",
            headers={
                "Origin": "http://localhost:3000",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code in (200, 204), log.read_text()
        allowed = preflight.headers.get("access-control-allow-origin")
        assert allowed in ("*", "http://localhost:3000")


@pytest.mark.parametrize("script", ["flask_app.py", "quart_app.py"])
def test_hand_written_view_with_rais_response(script: str, client: httpx.Client) -> None:
    with example(script) as (base, _, _):
        received = chat(client, base + "/api/shout", "make it loud")
        assert_answer(received, "MAKE IT LOUD ")
        assert all(event_id is not None for event_id in received.ids)


def test_custom_generator_both_ways(client: httpx.Client) -> None:
    with example("custom_generator.py") as (base, _, _):
        verbatim = chat(client, base + "/api/chat", "one two three")
        assert_answer(verbatim, "Backwards: three two one ")
        assert verbatim.ids == [None] * len(verbatim.events)  # the docs' generator, as written
        wrapped = chat(client, base + "/api/rais", "one two three")
        assert_answer(wrapped, "Backwards: three two one ")
        assert wrapped.ids == [str(n) for n in range(1, len(wrapped.events) + 1)]


def test_openai_compatible_server_via_base_url(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    env = {"OPENAI_BASE_URL": upstream.base_url, "OPENAI_API_KEY": ""}
    with example("openai_compatible.py", env=env) as (base, _, _):
        received = chat(client, base + "/api/chat", "[tokens:local|model] hi")
        assert_answer(received, "localmodel")
    sent = upstream.requests[-1].json
    assert sent["model"] == "llama3.2"
    assert sent["temperature"] == 0.2
    assert sent["messages"][0] == {"role": "system", "content": "You are a concise assistant."}


def test_react_example_builds() -> None:
    site = build_react_example()
    index = (site / "index.html").read_text()
    assert '<div id="root">' in index
    scripts = list((site / "assets").glob("*.js"))
    assert scripts, "vite emitted no JavaScript"
    bundle = "".join(path.read_text() for path in scripts)
    for needle in ("AbortController", "getReader", "data: "):
        assert needle in bundle


# ----------------------------------------------------------------- the realistic backends
#
# examples/backend_*.py: the same chat backend (auth, per-user system prompt, allow-listed
# model, turns saved through on_finish, 2 streams per user) booted under its production
# server, checked over real sockets against the fake OpenAI upstream.

SYSTEM_PROMPTS = {  # the users both kinds of backends know (token table / Django Profile)
    "alice": "You are Alice's research assistant. Cite your sources.",
    "bob": "You are Bob's cooking helper. Use metric units.",
}
USER_IDS = {"alice": 1, "bob": 2}
DJANGO_PASSWORDS = {"alice": "pw-alice-7f3a", "bob": "pw-bob-2c9e"}
DJANGO_SETUP = """
from django.apps import apps
from django.contrib.auth.models import User
Profile = apps.get_model("chat", "Profile")
for name, system, password in {users!r}:
    user = User.objects.create_user(name, password=password)
    Profile.objects.create(user=user, system_prompt=system)
"""
BACKEND_SERVERS = (
    ServerSpec(
        "fastapi-uvicorn",
        "fastapi",
        ("{py}", "-m", "uvicorn", "examples.backend_fastapi:app", "--port", "{port}"),
    ),
    ServerSpec(
        "flask-gunicorn",
        "flask",
        (
            "{py}",
            "-m",
            "gunicorn",
            "examples.backend_flask:app",
            "-b",
            "127.0.0.1:{port}",
            *GTHREAD,
        ),
        wsgi=True,
    ),
    ServerSpec(
        "quart-hypercorn",
        "quart",
        ("{py}", "-m", "hypercorn", "examples.backend_quart:app", "--bind", "127.0.0.1:{port}"),
    ),
    ServerSpec(
        "django-uvicorn",
        "django",
        ("{py}", "-m", "uvicorn", "examples.backend_django:application", "--port", "{port}"),
    ),
    ServerSpec(
        "django-gunicorn",
        "django",
        (
            "{py}",
            "-m",
            "gunicorn",
            "examples.backend_django:wsgi_application",
            "-b",
            "127.0.0.1:{port}",
            *GTHREAD,
        ),
        wsgi=True,
    ),
)
#: Long enough that a stream is still running while a test holds it (50 s at most).
SLOW = "[delay:0.05][count:1000]"


@dataclass
class Backend:
    server: RunningServer
    db: Path
    upstream: FakeUpstream

    @property
    def django(self) -> bool:
        return self.server.spec.framework == "django"

    @property
    def url(self) -> str:
        return self.server.url

    @contextlib.contextmanager
    def session(self, user: str | None) -> Iterator[httpx.Client]:
        """A client signed in as ``user`` (a bearer token, or a Django session), or anonymous."""
        headers = {} if user is None or self.django else {"Authorization": f"Bearer token-{user}"}
        with httpx.Client(timeout=httpx.Timeout(20.0), headers=headers) as http:
            if user is not None and self.django:
                login = http.post(
                    self.server.base_url + "/api/login",
                    json={"username": user, "password": DJANGO_PASSWORDS[user]},
                )
                assert login.status_code == 200, login.text
                assert http.cookies.get("sessionid")
            yield http

    def last_turn_id(self) -> int:
        with contextlib.closing(sqlite3.connect(self.db)) as db:
            table = "chat_turn" if self.django else "turns"
            return int(db.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0])

    def turns_after(self, turn_id: int, count: int = 1) -> list[dict[str, Any]]:
        """The turns saved after ``turn_id``, once ``count`` of them are (on_finish runs
        after the stream ends, so poll with a bounded deadline)."""
        table = "chat_turn" if self.django else "turns"
        deadline = time.monotonic() + 30
        while True:
            with contextlib.closing(sqlite3.connect(self.db)) as db:
                db.row_factory = sqlite3.Row
                rows = db.execute(f"SELECT * FROM {table} WHERE id > ? ORDER BY id", (turn_id,))
                turns = [dict(row) for row in rows]
            if len(turns) >= count or time.monotonic() > deadline:
                assert len(turns) == count, (turns, self.server.log()[-3000:])
                return turns
            time.sleep(0.05)

    def sent(self, marker: str) -> list[dict[str, Any]]:
        """The bodies the upstream got for chats whose last message holds ``marker``."""
        return [
            r.json
            for r in self.upstream.requests
            if isinstance(r.json, dict) and marker in r.json["messages"][-1]["content"]
        ]


def _django_database(db: Path, env: dict[str, str]) -> None:
    """What the example's docstring says to run first: migrate, then create the users."""
    script = [sys.executable, "examples/backend_django.py"]
    users = [(name, SYSTEM_PROMPTS[name], DJANGO_PASSWORDS[name]) for name in USER_IDS]
    merged = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    for argv in (
        [*script, "migrate", "--run-syncdb", "-v", "0"],
        [*script, "shell", "-c", DJANGO_SETUP.format(users=users)],
    ):
        done = subprocess.run(argv, cwd=ROOT, env=merged, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module", params=BACKEND_SERVERS, ids=lambda spec: spec.id)
def backend(
    request: pytest.FixtureRequest, upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    spec: ServerSpec = request.param
    db = tmp_path_factory.mktemp(spec.id) / "chat.sqlite3"
    env = {"CHAT_DB": str(db), "OPENAI_BASE_URL": upstream.base_url, "OPENAI_API_KEY": API_KEY}
    if spec.framework == "django":
        _django_database(db, env)
    with running(spec, env) as server:
        # gunicorn listens before its worker has imported the app (and made the table).
        with httpx.Client(timeout=20) as http:
            assert http.post(server.url, json=body("ready?")).status_code == 401, server.log()
        yield Backend(server, db, upstream)


def body(content: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": content}], **extra}


class HeldStream:
    """A stream read event by event, held open between reads."""

    def __init__(self, response: httpx.Response) -> None:
        self.received = Received(response.status_code, response.headers)
        # Held in an attribute: a dropped iterator would be closed, and the connection with it.
        self.chunks = response.iter_raw()
        self.decoder = SSEBlockDecoder()

    def read_events(self, count: int) -> list[dict[str, Any]]:
        """Read until ``count`` more events have arrived; return all so far."""
        wanted = len(self.received.events) + count
        while len(self.received.events) < wanted:
            for block in self.decoder.feed(next(self.chunks)):
                self.received.add(block)
        return self.received.events


@contextlib.contextmanager
def streaming(http: httpx.Client, url: str, content: str) -> Iterator[HeldStream]:
    """A stream held open after its first text event; leaving the block hangs up."""
    with http.stream("POST", url, json=body(content)) as response:
        assert response.status_code == 200, response.read()
        held = HeldStream(response)
        assert [e["type"] for e in held.read_events(1)] == ["text"], held.received.raw
        yield held


def test_backend_refuses_who_is_not_signed_in(backend: Backend) -> None:
    marker = f"anonymous-{backend.server.spec.id}"  # only this test sends it upstream, if any
    with backend.session(None) as http:
        refused = chat(http, backend.url, marker)
        assert refused.status == 401
        assert refused.json()["error"]["type"] == "unauthorized"
        if not backend.django:
            assert refused.headers["www-authenticate"] == "Bearer"
            wrong = chat(http, backend.url, marker, headers={"Authorization": "Bearer nope"})
            assert wrong.status == 401
            basic = chat(http, backend.url, marker, headers={"Authorization": "token-alice"})
            assert basic.status == 401  # a token without its scheme is not a bearer token
    assert not backend.sent(marker)
    if not backend.django:  # the scheme is case-insensitive (RFC 9110)
        lower = f"lowercase-{backend.server.spec.id}"
        with backend.session(None) as http:
            received = chat(
                http,
                backend.url,
                body=body(f"[tokens:Hi] {lower}"),
                headers={"Authorization": "bearer token-alice"},
            )
        assert_answer(received, "Hi")


def test_backend_keeps_each_conversations_history_on_the_server(backend: Backend) -> None:
    """Issue 20.1 in the examples: the client sends only its new message and the
    conversation's id; the model gets the earlier turns from the database, per user."""
    spec = backend.server.spec.id
    conversation = f"trip-{spec}"
    before = backend.last_turn_id()
    first, second = f"first-{spec}", f"second-{spec}"
    with backend.session("alice") as http:
        one = chat(
            http, backend.url, body=body(f"[tokens:Lisbon] {first}", conversation=conversation)
        )
        assert_answer(one, "Lisbon")
        backend.turns_after(before)  # saved (on_finish runs before the client reads done)
        two = chat(
            http, backend.url, body=body(f"[tokens:Sure] {second}", conversation=conversation)
        )
        assert_answer(two, "Sure")
        bad = chat(http, backend.url, body=body("x", conversation=["not", "an", "id"]))
        assert bad.status == 422
    (sent,) = backend.sent(second)
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "user"]
    assert sent["messages"][1:3] == [
        {"role": "user", "content": f"[tokens:Lisbon] {first}"},
        {"role": "assistant", "content": "Lisbon"},
    ]
    with backend.session("bob") as http:  # another user's conversation of the same id: empty
        other = f"other-{spec}"
        assert_answer(
            chat(http, backend.url, body=body(f"[tokens:Hm] {other}", conversation=conversation)),
            "Hm",
        )
    (sent,) = backend.sent(other)
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]


def test_backend_streams_with_the_users_settings_and_saves_the_turn(backend: Backend) -> None:
    before = backend.last_turn_id()
    for user, model, temperature in (("alice", "gpt-4o", 0.3), ("bob", None, None)):
        marker = f"settings-{backend.server.spec.id}-{user}"
        extra = {} if model is None else {"model": model, "temperature": temperature}
        with backend.session(user) as http:
            received = chat(
                http, backend.url, body=body(f"[tokens:Hi |{user}|!] {marker}", **extra)
            )
        assert_answer(received, f"Hi {user}!")
        (sent,) = backend.sent(marker)
        assert sent["messages"][0] == {"role": "system", "content": SYSTEM_PROMPTS[user]}
        assert sent["model"] == (model or "gpt-4o-mini")  # the server's default otherwise
        assert sent["temperature"] == (temperature if model else 0.7)
        (turn,) = backend.turns_after(before)
        before = turn["id"]
        # The fake upstream's usage: a quarter token per character of the prompt, one per token.
        prompt = max(1, len(" ".join(["", *(m["content"] for m in sent["messages"])])) // 4)
        assert turn == {
            **turn,
            "user_id": USER_IDS[user],
            "outcome": "done",
            "text": f"Hi {user}!",
            "error": None,
            "model": sent["model"],
            "prompt_tokens": prompt,
            "completion_tokens": 3,
            "total_tokens": prompt + 3,
        }


@pytest.mark.parametrize(
    "extra", [{"model": "gpt-5-ultra"}, {"model": ["gpt-4o"]}, {"temperature": 2.5}], ids=str
)
def test_backend_refuses_a_value_it_does_not_allow(backend: Backend, extra: dict[str, Any]) -> None:
    before = backend.last_turn_id()
    marker = f"not-allowed-{backend.server.spec.id}-{sorted(extra)}"
    with backend.session("alice") as http:
        refused = chat(http, backend.url, body=body(marker, **extra))
    assert refused.status == 422, refused.raw
    assert refused.headers["content-type"].startswith("application/json")
    assert refused.json()["error"]["type"] == "not_allowed"
    assert not backend.sent(marker)
    # Refused in configure before a slot was taken: nothing saved, and alice can still chat.
    assert backend.last_turn_id() == before


def test_backend_saves_a_turn_that_failed_upstream(backend: Backend) -> None:
    before = backend.last_turn_id()
    with backend.session("bob") as http:
        received = chat(http, backend.url, "[tokens:half |an |answer][fault:error_mid] go")
    assert received.status == 200
    assert received.types[-1] == "error"
    assert received.text == "half an "
    (turn,) = backend.turns_after(before)
    assert turn["user_id"] == USER_IDS["bob"]
    assert turn["outcome"] == "error"
    assert turn["text"] == "half an "
    assert turn["error"] == received.events[-1]["error"]  # the safe message the client saw


def test_backend_saves_a_turn_the_client_left(backend: Backend) -> None:
    before = backend.last_turn_id()
    with backend.session("alice") as http, streaming(http, backend.url, f"{SLOW} stay") as first:
        assert first.received.text == "t0 "
    (turn,) = backend.turns_after(before)
    assert turn["user_id"] == USER_IDS["alice"]
    assert turn["outcome"] == "disconnected"
    assert turn["text"].startswith("t0 ")
    assert turn["completion_tokens"] is None  # OpenAI reports usage at the end only


def test_backend_allows_two_streams_per_user(backend: Backend) -> None:
    before = backend.last_turn_id()
    with contextlib.ExitStack() as stack:
        alice = stack.enter_context(backend.session("alice"))
        bob = stack.enter_context(backend.session("bob"))
        bobs = stack.enter_context(streaming(bob, backend.url, f"{SLOW} bob first"))
        for _ in range(2):
            stack.enter_context(streaming(alice, backend.url, f"{SLOW} long answer"))
        third = chat(alice, backend.url, "[tokens:one|more] please")
        assert third.status == 429, third.raw
        assert third.headers["content-type"].startswith("application/json")
        assert third.json()["error"]["type"] == "too_many_streams"
        assert third.headers["retry-after"] == "5"
        # bob, streaming all along, is not held back by alice: his answer goes on, and he
        # may start his second.
        assert [e["text"] for e in bobs.read_events(3)] == ["t0 ", "t1 ", "t2 ", "t3 "]
        assert_answer(chat(bob, backend.url, "[tokens:bob|'s turn] hi"), "bob's turn")
    # Everyone hung up: one turn per stream, each with its outcome.
    saved = backend.turns_after(before, 4)
    assert sorted((t["user_id"], t["outcome"]) for t in saved) == [
        (USER_IDS["alice"], "disconnected"),
        (USER_IDS["alice"], "disconnected"),
        (USER_IDS["bob"], "disconnected"),
        (USER_IDS["bob"], "done"),
    ]
    # on_finish ran once per stream: alice has her two slots back, and not one more.
    with contextlib.ExitStack() as stack:
        alice = stack.enter_context(backend.session("alice"))
        for _ in range(2):
            stack.enter_context(streaming(alice, backend.url, f"{SLOW} again"))
        assert chat(alice, backend.url, "[tokens:one|more] please").status == 429
    backend.turns_after(before, 6)  # leave no stream behind for the next test


@pytest.mark.parametrize(
    "script",
    ["backend_fastapi.py", "backend_flask.py", "backend_quart.py", "backend_django.py"],
)
def test_backend_runs_offline_as_its_docstring_says(script: str, tmp_path: Path) -> None:
    """``python examples/backend_*.py`` with no key and no base URL: the offline provider."""
    db = tmp_path / "chat.sqlite3"
    env = {"CHAT_DB": str(db), "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
    django = script == "backend_django.py"
    if django:
        _django_database(db, env)
    args = ("runserver", "127.0.0.1:{port}", "--noreload") if django else ()
    with example(script, *args, env=env) as (base, _, log), httpx.Client(timeout=20) as http:
        if django:
            credentials = {"username": "bob", "password": DJANGO_PASSWORDS["bob"]}
            assert http.post(base + "/api/login", json=credentials).status_code == 200
        else:
            http.headers["Authorization"] = "Bearer token-bob"
        received = chat(http, base + "/api/chat", "hello offline")
        assert received.status == 200, log.read_text()
        assert received.text.startswith("You said: “hello offline”.")
        assert received.types[-1] == "done"
        table = "chat_turn" if django else "turns"
        deadline = time.monotonic() + 30
        while True:
            with contextlib.closing(sqlite3.connect(db)) as conn:
                saved = conn.execute(
                    f"SELECT user_id, outcome, text, completion_tokens FROM {table}"
                ).fetchall()
            if saved or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    chunks = received.types.count("text")
    assert saved == [(USER_IDS["bob"], "done", received.text, chunks)]  # a word is a token


def test_ag_ui_client_example_asks_the_fastapi_example(upstream: FakeUpstream) -> None:
    """examples/ag-ui-client: AG-UI's own HttpAgent, run as its README says, against the
    FastAPI example (``protocol="auto"``); the answer is printed as it streams."""
    where = ROOT / "examples" / "ag-ui-client"
    run_npm("ci", "--no-audit", "--no-fund", timeout=300, cwd=where)
    env = {"OPENAI_BASE_URL": upstream.base_url, "OPENAI_API_KEY": API_KEY}
    with example("fastapi_app.py", env=env) as (base, _, log):

        def ask(question: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["node", "ask.mjs", question],
                cwd=where,
                env={**os.environ, "CHAT_API": base + "/api/chat"},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )

        done = ask("[count:5] what is SSE?")
        failing = ask("[fault:error_mid] fail")
    assert done.returncode == 0, (done.stderr, log.read_text()[-2000:])
    assert done.stdout == "t0 t1 t2 t3 t4 \n"
    assert "2 messages in the thread" in done.stderr
    assert failing.returncode == 1, failing.stderr
    assert failing.stderr.splitlines()[-1].startswith("error: ")
    assert API_KEY not in failing.stderr
