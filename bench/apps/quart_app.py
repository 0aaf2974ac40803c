"""Quart bench twin of integrations/quart_app.py (served by hypercorn)."""

from quart import Quart, Response, request
from quart_cors import cors

from bench.apps.source import PROTOCOLS, ceiling_frames, spec_from_body, tokens
from rais.quart import rais_blueprint

app = Quart(__name__)
app.config.from_prefixed_env()
app = cors(app, allow_origin="*", allow_headers="*", allow_methods="*")
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
async def ceiling() -> Response:
    spec = spec_from_body(await request.get_data(as_text=False))  # type: ignore[arg-type]
    response = Response(
        ceiling_frames(spec),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    response.timeout = None  # type: ignore[assignment]
    return response
