"""Quart. Serve: hypercorn integrations.quart_app:app --bind 0.0.0.0:8000"""

from quart import Quart
from quart_cors import cors

from rais.quart import rais_blueprint

app = Quart(__name__)
app.config.from_prefixed_env()  # QUART_RESPONSE_TIMEOUT=... etc.
app = cors(app, allow_origin="*", allow_headers="*", allow_methods="*")
app.register_blueprint(rais_blueprint(provider="openai", websocket_path="/api/chat/ws"))
