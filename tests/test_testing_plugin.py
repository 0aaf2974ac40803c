"""The pytest plugin as a user meets it, and the ``serve()`` under it.

The plugin tests run a user's test file exactly like docs/pytest-plugin.md's in a fresh pytest
(pytester, in a subprocess so the plugin is loaded from the entry point and each
app's globals stay apart): a compliant app must pass, a broken one must fail. The
``serve()`` tests talk to it over raw HTTP to show what a WSGI app's chunks and
connections go through.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from flask import Flask
from quart import Quart
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from rais.testing import detect_interface, serve

pytest_plugins = ["pytester"]

#: docs/pytest-plugin.md's example, word for word.
README_TEST = """
def test_chat_endpoint_speaks_rais(rais_server, rais_check):
    report = rais_check(rais_server.url + "/api/chat")
    assert report.passed, report.table()
"""

SERVED_AS = """
def test_served_as(rais_server):
    assert rais_server.interface == {interface!r}, rais_server
"""

APPS = {
    "fastapi": (
        "asgi",
        """
        from fastapi import FastAPI
        from fastapi.middleware.cors import CORSMiddleware
        from rais.fastapi import rais_router

        app = FastAPI()
        app.add_middleware(
            CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"]
        )
        app.include_router(rais_router(provider="offline"))
        """,
    ),
    "flask": (
        "wsgi",
        """
        from flask import Flask
        from flask_cors import CORS
        from rais.flask import rais_blueprint

        app = Flask(__name__)
        CORS(app)
        app.register_blueprint(rais_blueprint(provider="offline"))
        """,
    ),
    "quart": (
        "asgi",
        """
        from quart import Quart
        from quart_cors import cors
        from rais.quart import rais_blueprint

        app = cors(Quart(__name__), allow_origin="*")
        app.register_blueprint(rais_blueprint(provider="offline"))
        """,
    ),
    "django-wsgi": ("wsgi", "{django}\nfrom django.core.wsgi import get_wsgi_application\n"),
    "django-asgi": ("asgi", "{django}\nfrom django.core.asgi import get_asgi_application\n"),
}

DJANGO = """
import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="not-secret",
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["corsheaders"],
    MIDDLEWARE=[
        "corsheaders.middleware.CorsMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    ],
    CORS_ALLOW_ALL_ORIGINS=True,
    DATABASES={},
    USE_TZ=True,
)
django.setup()

from django.urls import path
from rais.django import rais_view

urlpatterns = [path("api/chat", rais_view(provider="offline"))]
"""

RAIS_APP = """
import pytest

@pytest.fixture
def rais_app():
    return {app}
"""


def user_test_file(setup: str, app: str = "app") -> str:
    return "\n".join([textwrap.dedent(setup), RAIS_APP.format(app=app), README_TEST])


@pytest.fixture
def quick_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """A short offline answer (about 0.4 s) that still streams visibly."""
    monkeypatch.setenv("RAIS_OFFLINE_DELAY", "0.01")


def run_user_tests(pytester: pytest.Pytester, source: str) -> pytest.RunResult:
    pytester.makepyfile(test_user_app=source)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")


@pytest.mark.usefixtures("quick_offline")
@pytest.mark.parametrize("framework", list(APPS))
def test_the_readme_example_passes_against_a_compliant_app(
    pytester: pytest.Pytester, framework: str
) -> None:
    interface, setup = APPS[framework]
    if framework.startswith("django"):
        setup = setup.format(django=DJANGO)
        app = f"get_{interface}_application()"
    else:
        app = "app"
    source = user_test_file(setup, app) + SERVED_AS.format(interface=interface)
    result = run_user_tests(pytester, source)
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=2)


#: Hand-written Starlette routes, right in every way but one; each must fail its check.
BROKEN = {
    "crlf": (
        "lf-line-ends",
        """
        body = 'data: {"type":"text","text":"Hi"}\\r\\n\\r\\ndata: {"type":"done"}\\r\\n\\r\\n'
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        media_type = "text/event-stream"
        """,
    ),
    "json": (
        "content-type",
        """
        body = '{"text":"Hi"}'
        headers = {}
        media_type = "application/json"
        """,
    ),
}

BROKEN_APP = """
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
{answer}

async def chat(request):
    return Response(body, media_type=media_type, headers=headers)

app = Starlette(routes=[Route("/api/chat", chat, methods=["POST"])])
"""


@pytest.mark.parametrize("fault", list(BROKEN))
def test_the_readme_example_fails_against_a_broken_endpoint(
    pytester: pytest.Pytester, fault: str
) -> None:
    check, answer = BROKEN[fault]
    setup = BROKEN_APP.format(answer=textwrap.dedent(answer))
    result = run_user_tests(pytester, user_test_file(setup))
    result.assert_outcomes(failed=1)
    # The inner failure shows the report table: the check's row says FAIL.
    assert re.search(rf"\b{check}\s+MUST\s+FAIL\b", result.stdout.str()), result.stdout.str()


def test_rais_server_without_rais_app_says_what_to_define(pytester: pytest.Pytester) -> None:
    result = run_user_tests(pytester, README_TEST)
    result.assert_outcomes(errors=1)
    assert "define a fixture named rais_app" in result.stdout.str()


# -- serve() directly ------------------------------------------------------------------------


def test_a_wsgi_chunk_reaches_the_client_while_the_app_is_still_working() -> None:
    client_has_first = threading.Event()
    released: list[bool] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/event-stream")])

        def body() -> Iterator[bytes]:
            yield b"data: first\n\n"
            # A server that buffers holds "first" until this wait gives up.
            released.append(client_has_first.wait(30))
            yield b"data: second\n\n"

        return body()

    with serve(app) as server, httpx.Client(timeout=60) as client:
        assert server.interface == "wsgi"
        with client.stream("GET", server.url + "/") as response:
            chunks = response.iter_raw()
            received = b""
            while b"\n\n" not in received:
                received += next(chunks)
            assert received == b"data: first\n\n"
            assert released == [], "the server held the first chunk until the app went on"
            client_has_first.set()
            assert b"".join(chunks) == b"data: second\n\n"
        assert response.headers["transfer-encoding"] == "chunked"
    assert released == [True]


def test_a_client_leaving_mid_stream_closes_the_wsgi_apps_iterator() -> None:
    closed = threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body() -> Iterator[bytes]:
            try:
                for number in itertools.count():
                    yield b"%d\n" % number
                    closed.wait(0.01)
            finally:
                closed.set()

        return body()

    with serve(app) as server:
        with httpx.Client() as client, client.stream("GET", server.url + "/") as response:
            next(response.iter_raw())
        assert closed.wait(30), "the app's iterator was never closed"


def test_wsgi_connections_are_kept_alive_even_when_the_app_ignores_the_body() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([environ["REQUEST_METHOD"].encode(), b" ", environ["PATH_INFO"].encode()])

    with serve(app) as server:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
        connection.request("POST", "/first", body=b'{"unread": true}')
        first = connection.getresponse()
        assert (first.read(), first.getheader("Connection")) == (b"POST /first", "keep-alive")
        sock = connection.sock
        connection.request("GET", "/second")
        second = connection.getresponse()
        assert second.read() == b"GET /second"
        assert connection.sock is sock and sock is not None  # the same connection, reused
        # Leaving the block with this connection idle and open must not hang.
    connection.close()


def test_an_asgi_apps_lifespan_runs_on_start_and_on_exit() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hello")

    app = Starlette(routes=[Route("/", hello)], lifespan=lifespan)
    with serve(app) as server:
        assert (server.interface, server.server) == ("asgi", "uvicorn")
        assert server.url == f"http://127.0.0.1:{server.port}" and server.port != 0
        assert httpx.get(server.url + "/").text == "hello"
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]


def test_an_asgi_app_whose_startup_fails_is_not_served() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield  # pragma: no cover

    app = Starlette(lifespan=lifespan)
    with pytest.raises(RuntimeError, match="exited before it started serving"), serve(app):
        pytest.fail("serve() yielded a server whose app never started")


def test_loading_the_plugin_imports_no_server() -> None:
    """pytest loads the plugin in every project that installs rais: it must stay light."""
    heavy = ("uvicorn", "werkzeug", "http.server", "wsgiref.simple_server", "httpx")
    code = f"import sys, rais.testing; print([m for m in {heavy!r} if m in sys.modules])"
    imported = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert imported.strip() == "[]"


def wsgi_function(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    return []


async def asgi_function(scope: Any, receive: Any, send: Any) -> None:
    return None


@pytest.mark.parametrize(
    ("app", "interface"),
    [
        (FastAPI(), "asgi"),
        (Starlette(), "asgi"),
        (Quart(__name__), "asgi"),
        (asgi_function, "asgi"),
        (Flask(__name__), "wsgi"),
        (wsgi_function, "wsgi"),
    ],
    ids=["fastapi", "starlette", "quart", "asgi-function", "flask", "wsgi-function"],
)
def test_detect_interface_tells_asgi_from_wsgi(app: Any, interface: str) -> None:
    assert detect_interface(app) == interface


@pytest.mark.parametrize("app", [object(), lambda only_one: None], ids=["not-callable", "arity-1"])
def test_detect_interface_refuses_what_is_neither(app: Any) -> None:
    with pytest.raises(TypeError, match="ASGI"):
        detect_interface(app)
