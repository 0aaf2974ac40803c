"""Flask bench twin of integrations/flask_app.py (served by gunicorn gthread)."""

from flask import Flask, Response, request
from flask_cors import CORS

from bench.apps.source import PROTOCOLS, ceiling_frames_sync, spec_from_body, tokens
from rais.flask import rais_blueprint

app = Flask(__name__)
CORS(app)
app.register_blueprint(rais_blueprint(handler=tokens))
for _protocol in PROTOCOLS:
    app.register_blueprint(
        rais_blueprint(
            f"/api/{_protocol}",
            name="rais_" + _protocol.replace("-", "_"),
            handler=tokens,
            protocol=_protocol,
        )
    )


@app.post("/ceiling")
def ceiling() -> Response:
    spec = spec_from_body(request.get_data())
    return Response(
        ceiling_frames_sync(spec),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
