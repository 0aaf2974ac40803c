"""Test your own RAIS endpoint: serve your app on a real socket and run the compliance checks.

This module is also a pytest plugin (registered under the ``pytest11`` entry point,
so installing rais is enough). Point the ``rais_app`` fixture at your app and the
``rais_server`` fixture serves it on a loopback port for the test::

    @pytest.fixture
    def rais_app():
        return app  # FastAPI/Starlette/Quart/Django ASGI, or Flask/Django WSGI

    def test_chat_endpoint_speaks_rais(rais_server, rais_check):
        report = rais_check(rais_server.url + "/api/chat")
        assert report.passed, report.table()

The app runs under a real HTTP server (uvicorn for ASGI, a threaded HTTP/1.1 server
from the standard library for WSGI) because buffering and disconnects only show up
over a socket. :func:`serve` does the same outside pytest, and this module imports
without pytest: only the fixtures need it, and they are defined only where it is
installed. The checks are the ones ``rais check URL`` runs, from :mod:`rais.check`
(needs httpx). ``pip install 'rais[testing]'`` brings httpx and uvicorn.

Why not werkzeug's or waitress's server for WSGI: both close the connection after every
streamed (chunked) response (werkzeug 3.1 sends ``Connection: close`` on every response;
waitress 3.0 closes after any response without a Content-Length), so a Flask or Django
app served by them fails the ``connection`` check (``Connection: keep-alive`` on
HTTP/1.1) and no WSGI app could reach the Recommended level under ``rais_server``. The
server below keeps connections alive as gunicorn's threaded workers do.

Nothing heavy is imported when pytest loads the plugin: uvicorn and the WSGI server
are imported when an app is first served.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .check import Report

__all__ = ["LiveServer", "assert_compliant", "detect_interface", "rais_check", "serve"]

Interface = Literal["asgi", "wsgi"]

#: Seconds an app gets to start (uvicorn's lifespan startup included).
STARTUP_TIMEOUT = 10.0
#: Seconds open requests get to finish when the server stops, before they are cut.
SHUTDOWN_TIMEOUT = 5.0


@dataclass(frozen=True)
class LiveServer:
    """A served app: ``url`` is its base address, ``http://127.0.0.1:PORT`` (no trailing slash)."""

    url: str
    host: str
    port: int
    interface: Interface  #: how the app was called: ``"asgi"`` or ``"wsgi"``
    server: str  #: what served it: ``"uvicorn"`` or ``"wsgiref"``


def rais_check(url: str, **options: Any) -> Report:
    """Run every check against ``url``; see :func:`rais.check.run_checks` for ``options``."""
    from .check import run_checks

    return run_checks(url, **options)


def assert_compliant(url: str, level: str = "recommended", **options: Any) -> Report:
    """Fail with the whole report table unless ``url`` reaches ``level``."""
    report = rais_check(url, require=level, **options)
    if not report.passed:
        raise AssertionError("RAIS compliance check failed\n" + report.table())
    return report


# -- telling ASGI from WSGI --------------------------------------------------------------------


def detect_interface(app: Any) -> Interface:
    """ASGI is ``async (scope, receive, send)``; WSGI is ``(environ, start_response)``.

    An async ``__call__`` means ASGI (Starlette, FastAPI, Quart, Django's
    ``ASGIHandler``, ASGI middleware); otherwise the arity decides, which covers
    Flask and Django's ``WSGIHandler``. Pass ``interface=`` to :func:`serve` when
    an app is neither, e.g. a sync callable that returns a coroutine.
    """
    if not callable(app):
        raise TypeError(f"{app!r} is not an ASGI or WSGI app: it is not callable")
    call = app if inspect.isroutine(app) or isinstance(app, functools.partial) else app.__call__
    if inspect.iscoroutinefunction(call):
        return "asgi"
    try:
        parameters = inspect.signature(call).parameters.values()
    except (TypeError, ValueError):
        parameters = None
    if parameters is not None:
        positional = [
            p
            for p in parameters
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
        if len(positional) == 3:
            return "asgi"
        if len(positional) == 2:
            return "wsgi"
    raise TypeError(
        f"cannot tell whether {app!r} is an ASGI or a WSGI app; pass interface='asgi' or 'wsgi'"
    )


# -- serving -----------------------------------------------------------------------------------


@contextlib.contextmanager
def serve(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    interface: Interface | None = None,
) -> Iterator[LiveServer]:
    """Serve ``app`` on ``host:port`` in a background thread until the block ends.

    ``port=0`` picks a free port; the URL says which. ASGI apps run under uvicorn
    (lifespan ``"auto"``, so startup and shutdown handlers run), WSGI apps under a
    threaded HTTP/1.1 server that sends each chunk the app yields at once. On exit
    the server stops accepting, gives open requests :data:`SHUTDOWN_TIMEOUT` seconds,
    then closes their connections.
    """
    kind = interface or detect_interface(app)
    if kind not in ("asgi", "wsgi"):
        raise ValueError(f"interface must be 'asgi' or 'wsgi', not {kind!r}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=128)
    try:
        bound_port = sock.getsockname()[1]
        run = _run_asgi if kind == "asgi" else _run_wsgi
        with run(app, sock) as server_name:
            netloc = f"[{host}]" if family == socket.AF_INET6 else host
            yield LiveServer(f"http://{netloc}:{bound_port}", host, bound_port, kind, server_name)
    finally:
        sock.close()


def _wait_started(started: Callable[[], bool], thread: threading.Thread, what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not started():
        if not thread.is_alive():
            raise RuntimeError(
                f"{what} exited before it started serving (did the app's startup fail?); "
                "see the log above"
            )
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {STARTUP_TIMEOUT:g} s")
        time.sleep(0.005)


@contextlib.contextmanager
def _run_asgi(app: Any, sock: socket.socket) -> Iterator[str]:
    """uvicorn in a thread with its own event loop (it installs no signal handlers there)."""
    try:
        import uvicorn
    except ImportError as exc:  # Quart and Django installs need not have it
        raise ImportError("serving an ASGI app needs uvicorn: pip install uvicorn") from exc

    config = uvicorn.Config(
        app,
        lifespan="auto",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=int(SHUTDOWN_TIMEOUT),
    )
    server = uvicorn.Server(config)

    def run() -> None:
        # uvicorn calls sys.exit() when the app's lifespan startup fails; here that
        # only ends this thread, and _wait_started reports it.
        with contextlib.suppress(SystemExit):
            server.run(sockets=[sock])

    thread = threading.Thread(target=run, name="rais-uvicorn", daemon=True)
    thread.start()
    try:
        _wait_started(lambda: server.started, thread, "uvicorn")
        yield "uvicorn"
    finally:
        server.should_exit = True
        thread.join(SHUTDOWN_TIMEOUT + 2)
        if thread.is_alive():
            server.force_exit = True
            thread.join(2)


@contextlib.contextmanager
def _run_wsgi(app: Any, sock: socket.socket) -> Iterator[str]:
    server = _wsgi_server_class()(sock, app)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="rais-wsgi", daemon=True
    )
    thread.start()
    try:
        yield "wsgiref"
    finally:
        server.shutdown()
        thread.join()
        server.stop(SHUTDOWN_TIMEOUT)


@functools.cache
def _wsgi_server_class() -> Any:
    """Build the WSGI server classes on first use, so loading the plugin imports no http.server.

    ``wsgiref.simple_server`` alone answers one request at a time, over HTTP/1.0,
    closing every connection; this adds a thread per connection, chunked
    responses (each chunk written and flushed as the app yields it) and keep-alive,
    as production WSGI servers (gunicorn, waitress) do.
    """
    import socketserver
    from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

    class RequestBody:
        """``wsgi.input`` that ends at Content-Length: the next request on it stays intact."""

        def __init__(self, stream: Any, length: int) -> None:
            self._stream = stream
            self._left = length

        def _limit(self, size: int | None) -> int:
            return self._left if size is None or size < 0 else min(size, self._left)

        def read(self, size: int | None = -1) -> bytes:
            data: bytes = self._stream.read(self._limit(size)) if self._left else b""
            self._left -= len(data)
            return data

        def readline(self, size: int | None = -1) -> bytes:
            data: bytes = self._stream.readline(self._limit(size)) if self._left else b""
            self._left -= len(data)
            return data

        def readlines(self, hint: int = -1) -> list[bytes]:
            return list(self)

        def __iter__(self) -> Iterator[bytes]:
            return iter(self.readline, b"")

        def drain(self) -> None:
            while self._left and self.read(65536):
                pass

    class ChunkedHandler(ServerHandler):
        """wsgiref's handler, plus ``Transfer-Encoding: chunked`` when the app sets no length."""

        # Set by wsgiref at run time; typeshed does not declare them.
        request_handler: Any
        status: str | None
        headers: Any
        headers_sent: bool
        bytes_sent: int
        chunked = False
        complete = False

        def cleanup_headers(self) -> None:
            super().cleanup_headers()
            request: Any = self.request_handler
            status = int(str(self.status).split(" ", 1)[0])
            if (
                "Content-Length" not in self.headers
                and self.http_version == "1.1"
                and status not in (204, 304)
                and request.command != "HEAD"
            ):
                self.headers["Transfer-Encoding"] = "chunked"
                self.chunked = True
            if "Content-Length" not in self.headers and not self.chunked:
                request.close_connection = True
            if self.http_version == "1.1" or not request.close_connection:
                self.headers["Connection"] = "close" if request.close_connection else "keep-alive"

        def write(self, data: bytes) -> None:
            if not self.headers_sent:
                super().write(b"")  # sends the status line and headers, deciding on chunks
            if not self.chunked:
                super().write(data)
            elif data:
                self.bytes_sent += len(data)
                self._write(b"%X\r\n%b\r\n" % (len(data), data))
                self._flush()

        def finish_content(self) -> None:
            if self.chunked and self.headers_sent:
                self._write(b"0\r\n\r\n")
                self._flush()
            else:
                super().finish_content()
            self.complete = True

    class Handler(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"
        server: Server

        def setup(self) -> None:
            super().setup()
            self.server.track(self.connection, add=True)

        def finish(self) -> None:
            self.server.track(self.connection, add=False)
            super().finish()

        def handle(self) -> None:
            # http.server's loop: one request after another until either side closes.
            self.close_connection = True
            self.handle_one_request()
            while not self.close_connection:
                self.handle_one_request()

        def handle_one_request(self) -> None:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            if "Transfer-Encoding" in self.headers:
                self.send_error(501, "chunked request bodies are not supported by this server")
                self.close_connection = True
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                self.send_error(400, "bad Content-Length")
                self.close_connection = True
                return
            body = RequestBody(self.rfile, length)
            output: Any = self.wfile
            handler = ChunkedHandler(
                body, output, self.get_stderr(), self.get_environ(), multithread=True
            )
            handler.http_version = "1.1" if self.request_version == "HTTP/1.1" else "1.0"
            handler.request_handler = self
            handler.run(self.server.app)
            if handler.complete and not self.close_connection:
                body.drain()
            else:
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: a test run does not need an access log line per request."""

    class Server(socketserver.ThreadingMixIn, WSGIServer):
        """Serves on the socket :func:`serve` bound; remembers connections to close them on exit."""

        daemon_threads = True
        block_on_close = False

        def __init__(self, sock: socket.socket, app: Any) -> None:
            host, port = sock.getsockname()[:2]
            super().__init__((host, port), Handler, bind_and_activate=False)
            self.socket.close()
            self.socket = sock
            self.server_name = host  # no getfqdn(): a DNS lookup per test is slow
            self.server_port = port
            self.setup_environ()
            self.app: Any = app
            self._lock = threading.Lock()
            self._connections: set[socket.socket] = set()
            self._workers: list[threading.Thread] = []

        def process_request(self, request: Any, client_address: Any) -> None:
            worker = threading.Thread(
                target=self.process_request_thread,
                args=(request, client_address),
                name="rais-wsgi-request",
                daemon=True,
            )
            with self._lock:
                self._workers = [w for w in self._workers if w.is_alive()]
                self._workers.append(worker)
            worker.start()

        def track(self, connection: socket.socket, *, add: bool) -> None:
            with self._lock:
                if add:
                    self._connections.add(connection)
                else:
                    self._connections.discard(connection)

        def stop(self, timeout: float) -> None:
            """After ``shutdown()``: requests get ``timeout`` s to end, then connections close."""
            deadline = time.monotonic() + timeout
            with self._lock:
                idle_or_busy = list(self._connections)
            # Idle keep-alive connections would wait forever for another request.
            for connection in idle_or_busy:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RD)
            with self._lock:
                workers = list(self._workers)
            for worker in workers:
                worker.join(max(0.0, deadline - time.monotonic()))
            with self._lock:
                left = list(self._connections)
            for connection in left:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            for worker in workers:
                worker.join(1)

        def server_close(self) -> None:
            """The socket belongs to :func:`serve`, which closes it."""

    return Server


# -- the pytest fixtures -----------------------------------------------------------------------


try:
    import pytest
except ImportError:  # outside pytest: serve() and the checks work, there are no fixtures
    pass
else:

    @pytest.fixture(name="rais_check")
    def rais_check_fixture() -> Callable[..., Report]:
        """``rais_check(url, **options)`` returns a :class:`~rais.check.Report`."""
        return rais_check

    @pytest.fixture(name="rais_app")
    def rais_app_fixture() -> Any:
        """The app ``rais_server`` serves: override this fixture to return yours."""
        pytest.fail(
            "rais_server needs your app: define a fixture named rais_app that returns it, e.g.\n\n"
            "    @pytest.fixture\n"
            "    def rais_app():\n"
            "        from myapp import app\n"
            "        return app\n\n"
            "in your conftest.py or test module (an ASGI app, e.g. FastAPI/Starlette/Quart/"
            "Django's get_asgi_application(), or a WSGI app, e.g. Flask/Django's "
            "get_wsgi_application()).",
            pytrace=False,
        )

    @pytest.fixture(name="rais_server")
    def rais_server_fixture(rais_app: Any) -> Iterator[LiveServer]:
        """``rais_app`` served on a free loopback port for one test; ``.url`` is its base URL."""
        with serve(rais_app) as server:
            yield server
