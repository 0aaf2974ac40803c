"""The FastAPI integration plus the reliability endpoints (see ``__init__``)."""

from integrations.fastapi_app import app
from rais.fastapi import rais_router
from tests.reliability.apps import CRASH, CRASH_PATH, LONG, LONG_PATH, OWNED, OWNED_PATH

app.include_router(rais_router(CRASH_PATH, **CRASH))
app.include_router(rais_router(LONG_PATH, **LONG))
app.include_router(rais_router(OWNED_PATH, **OWNED))
