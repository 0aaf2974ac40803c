"""Quart. Serve: hypercorn integrations.quart_app:app --bind 0.0.0.0:8000"""

from quart import Quart
from quart_cors import cors

from integrations import app_hooks
from rais.quart import rais_blueprint

app = Quart(__name__)
app.config.from_prefixed_env()  # QUART_RESPONSE_TIMEOUT=... etc.
app = cors(app, allow_origin="*", allow_headers="*", allow_methods="*")
app.register_blueprint(rais_blueprint(provider="openai", websocket_path="/api/chat/ws"))
# The chat UIs' own protocols too (useChat, AG-UI): decided per request by its body.
app.register_blueprint(
    rais_blueprint("/api/ui", name="ui", provider="openai", protocol="auto", tools=app_hooks.TOOLS)
)
app.register_blueprint(
    rais_blueprint(
        "/api/ui-resumable",
        name="ui_resumable",
        provider="openai",
        protocol="auto",
        tools=app_hooks.TOOLS,
        resume="memory://",
    )
)

# A real app's endpoints (handler, configure, owner, on_finish): see app_hooks.
app.register_blueprint(
    rais_blueprint("/api/app", name="app", websocket_path="/api/app/ws", **app_hooks.options("app"))
)
app.register_blueprint(
    rais_blueprint(
        "/api/app/resumable",
        name="app_resumable",
        **app_hooks.options("resumable", resume="memory://"),
    )
)
app.register_blueprint(
    rais_blueprint(
        "/api/app/anthropic",
        name="app_anthropic",
        **app_hooks.options("anthropic", provider="anthropic"),
    )
)
