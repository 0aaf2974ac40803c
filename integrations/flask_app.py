"""Flask. Serve: gunicorn integrations.flask_app:app -k gthread --threads 64 -b 0.0.0.0:8000"""

from flask import Flask
from flask_cors import CORS

from integrations import app_hooks
from rais.flask import rais_blueprint

app = Flask(__name__)
CORS(app)
app.register_blueprint(rais_blueprint(provider="openai"))
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

# A real app's endpoints (handler, configure, owner, a sync on_finish): see app_hooks.
app.register_blueprint(
    rais_blueprint("/api/app", name="app", **app_hooks.options("app", sync=True))
)
app.register_blueprint(
    rais_blueprint(
        "/api/app/resumable",
        name="app_resumable",
        **app_hooks.options("resumable", sync=True, resume="memory://"),
    )
)
app.register_blueprint(
    rais_blueprint(
        "/api/app/anthropic",
        name="app_anthropic",
        **app_hooks.options("anthropic", sync=True, provider="anthropic"),
    )
)
