"""The Litestar integration plus the reliability endpoints (see ``__init__``)."""

from integrations.litestar_app import app
from rais.litestar import rais_router
from tests.reliability.apps import CRASH, CRASH_PATH, LONG, LONG_PATH, OWNED, OWNED_PATH

app.register(rais_router(CRASH_PATH, **CRASH))
app.register(rais_router(LONG_PATH, **LONG))
app.register(rais_router(OWNED_PATH, **OWNED))
