"""Litestar's own response settings reach rais's replies, streams and JSON refusals alike
(issue 20.7): ``response_headers`` and ``response_cookies`` of the app, a router and a
controller, what ``after_request`` sets, and background tasks; and rais's access line
stays out of Litestar's default logging unless the app asks for it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.inprocess.clients import selected_clients

if not any(client.name == "litestar" for client in selected_clients()):
    pytest.skip(  # a matrix cell installs only its own frameworks
        "Litestar is not among this run's frameworks (RAIS_FRAMEWORKS)", allow_module_level=True
    )

from litestar import Controller, Litestar, Request, Response, Router, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import Cookie, ResponseHeader
from litestar.testing import AsyncTestClient

from rais.litestar import rais_response, rais_router

CHAT = {"messages": [{"role": "user", "content": "Hi"}]}
#: Not JSON: the core refuses it before any answer starts (415, a JSON body).
REFUSED = {"content": b"hello", "headers": {"Content-Type": "text/plain"}}

ran: list[str] = []


def header(name: str, value: str) -> list[ResponseHeader]:
    return [ResponseHeader(name=name, value=value)]


async def after_request(response: Response[Any]) -> Response[Any]:
    response.headers["X-After"] = "after"
    if response.background is None:
        response.background = BackgroundTask(ran.append, f"after_request {response.status_code}")
    return response


async def answer(chat: Any) -> AsyncIterator[str]:
    yield "Hello"


async def controller_after_request(response: Response[Any]) -> Response[Any]:
    response.set_header("X-After", "controller")  # the nearest after_request is the one run
    return response


class ChatController(Controller):
    path = "/controller"
    after_request = controller_after_request
    response_headers = header("X-Controller", "controller")
    response_cookies = [Cookie(key="controller_cookie", value="c")]

    @post("/chat", request_max_body_size=None, background=BackgroundTask(ran.append, "handler"))
    async def chat(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await rais_response(request, answer)


def make_app(**app_options: Any) -> Litestar:
    router = Router(
        path="/router",
        route_handlers=[rais_router(provider="offline")],
        response_headers=header("X-Router", "router"),
        response_cookies=[Cookie(key="router_cookie", value="r")],
    )
    return Litestar(
        route_handlers=[router, ChatController],
        response_headers=[
            *header("X-App", "app"),
            *header("Cache-Control", "max-age=600"),  # rais's no-cache is the reply's own
        ],
        response_cookies=[Cookie(key="app_cookie", value="a")],
        logging_config=None,  # its default reconfigures the process's logging
        **app_options,
    )


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient[Litestar]]:
    ran.clear()
    async with AsyncTestClient(app=make_app(after_request=after_request)) as client:
        yield client


def cookies_of(response: Any) -> set[str]:
    return {value.split(";")[0] for value in response.headers.get_list("set-cookie")}


@pytest.mark.parametrize("body", ["chat", "refused"])
async def test_app_and_router_settings_and_after_request_apply(
    client: AsyncTestClient[Litestar], body: str
) -> None:
    options: dict[str, Any] = {"json": CHAT} if body == "chat" else REFUSED
    response = await client.post("/router/api/chat", **options)

    if body == "chat":
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"  # the reply's own header wins
        assert response.text.rstrip().endswith('"type":"done"}')
    else:
        assert response.status_code == 415
        assert "error" in json.loads(response.content)
    assert response.headers["x-app"] == "app"
    assert response.headers["x-router"] == "router"
    assert response.headers["x-after"] == "after"
    assert cookies_of(response) == {"app_cookie=a", "router_cookie=r"}
    assert ran == [f"after_request {response.status_code}"]  # after the reply, once


@pytest.mark.parametrize("body", ["chat", "refused"])
async def test_controller_settings_and_handler_background_apply(
    client: AsyncTestClient[Litestar], body: str
) -> None:
    options: dict[str, Any] = {"json": CHAT} if body == "chat" else REFUSED
    response = await client.post("/controller/chat", **options)

    assert response.status_code == (200 if body == "chat" else 415)
    assert (response.headers["x-app"], response.headers["x-controller"]) == ("app", "controller")
    assert response.headers["x-after"] == "controller"
    assert cookies_of(response) == {"app_cookie=a", "controller_cookie=c"}
    assert ran == ["handler"]  # the handler's background, after the reply


async def test_a_reply_without_settings_keeps_its_own_headers() -> None:
    app = Litestar(route_handlers=[rais_router(provider="offline")], logging_config=None)
    async with AsyncTestClient(app=app) as client:
        response = await client.post("/api/chat", json=CHAT)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert "set-cookie" not in response.headers


# -- rais.access under Litestar's default logging ---------------------------------------------

LOGGING_APP = textwrap.dedent(
    """
    import asyncio, logging, sys
    from litestar import Litestar
    from litestar.logging import LoggingConfig
    from litestar.testing import AsyncTestClient
    from rais.litestar import rais_router

    options = {}
    if sys.argv[1] == "own":  # the app's own logging, at INFO for everything
        logging.basicConfig(level=logging.INFO)
        options["logging_config"] = None
    if sys.argv[1] == "asked":
        options["logging_config"] = LoggingConfig(
            loggers={"rais": {"level": "INFO", "handlers": ["queue_listener"], "propagate": False}}
        )
    app = Litestar(route_handlers=[rais_router(provider="offline")], **options)

    async def main():
        async with AsyncTestClient(app=app) as client:
            response = await client.post(
                "/api/chat", json={"messages": [{"role": "user", "content": "Hi"}]}
            )
            assert response.status_code == 200, response.text

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("config", ["default", "asked", "own"])
def test_rais_access_line_only_when_the_app_asks(config: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", LOGGING_APP, config], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    lines = [line for line in output.splitlines() if "rais.access" in line]
    if config == "default":
        assert lines == [], output
    else:
        assert len(lines) == 1 and "stream done status=200" in lines[0], output
