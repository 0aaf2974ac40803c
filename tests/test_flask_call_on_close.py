"""Flask: ``response.call_on_close`` hooks run on a rais response, also when the client leaves.

A slot released in such a hook (a per-user stream limit) must not leak.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from flask import Flask, Response

from rais.flask import rais_blueprint
from rais.testing import serve

pytestmark = pytest.mark.timeout(60)

BODY = {"messages": [{"role": "user", "content": "hello there"}]}


def app_with_close_hook(closed: list[str], done: threading.Event) -> Flask:
    app = Flask(__name__)
    app.register_blueprint(rais_blueprint(provider="offline", options={"delay": 0.02}))

    @app.after_request
    def release(response: Response) -> Response:
        response.call_on_close(lambda: (closed.append("released"), done.set()))
        return response

    return app


def test_call_on_close_runs_after_a_whole_answer() -> None:
    closed: list[str] = []
    done = threading.Event()
    with serve(app_with_close_hook(closed, done)) as server:
        response = httpx.post(server.url + "/api/chat", json=BODY, timeout=30)
        assert response.status_code == 200 and '"type":"done"' in response.text
        assert done.wait(20), "call_on_close hook did not run"
    assert closed == ["released"]


def test_call_on_close_runs_when_the_client_leaves() -> None:
    closed: list[str] = []
    done = threading.Event()
    with serve(app_with_close_hook(closed, done)) as server, httpx.Client(timeout=30) as client:
        with client.stream("POST", server.url + "/api/chat", json=BODY) as response:
            chunks: Any = response.iter_raw()
            assert b"data: " in next(chunks)  # streaming has begun; now the client leaves
        assert done.wait(20), "call_on_close hook did not run after a disconnect"
    assert closed == ["released"]
