"""The Starlette integration plus the reliability endpoints (see ``__init__``)."""

from starlette.routing import Route

from integrations.starlette_app import app
from rais.starlette import rais_endpoint
from tests.reliability.apps import CRASH, CRASH_PATH, LONG, LONG_PATH, OWNED, OWNED_PATH

app.router.routes.append(Route(CRASH_PATH, rais_endpoint(**CRASH)))
app.router.routes.append(Route(LONG_PATH, rais_endpoint(**LONG)))
app.router.routes.append(Route(OWNED_PATH, rais_endpoint(**OWNED)))
