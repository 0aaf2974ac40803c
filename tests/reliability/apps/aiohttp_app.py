"""The aiohttp integration plus the reliability endpoints (see ``__init__``)."""

from aiohttp import web

from integrations.aiohttp_app import app
from rais.aiohttp import rais_app
from tests.reliability.apps import CRASH, CRASH_PATH, LONG, LONG_PATH, OWNED, OWNED_PATH

app.add_subapp(CRASH_PATH, rais_app(websocket_path=None, **CRASH))
app.add_subapp(LONG_PATH, rais_app(websocket_path=None, **LONG))
app.add_subapp(OWNED_PATH, rais_app(websocket_path=None, **OWNED))


def init_func(argv: list[str]) -> web.Application:
    """The entry point of ``python -m aiohttp.web``."""
    return app
