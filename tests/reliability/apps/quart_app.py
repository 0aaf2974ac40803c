"""The Quart integration plus the reliability endpoints (see ``__init__``)."""

from integrations.quart_app import app
from rais.quart import rais_blueprint
from tests.reliability.apps import CRASH, CRASH_PATH, LONG, LONG_PATH, OWNED, OWNED_PATH

app.register_blueprint(rais_blueprint(CRASH_PATH, name="rais_crash", **CRASH))
app.register_blueprint(rais_blueprint(LONG_PATH, name="rais_long", **LONG))
app.register_blueprint(rais_blueprint(OWNED_PATH, name="rais_owned", **OWNED))
