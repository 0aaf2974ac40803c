"""Flask: the RAIS endpoint as a blueprint, plus a hand-written view with ``rais_response``.

Run:   OPENAI_API_KEY=sk-... python examples/flask_app.py         (http://127.0.0.1:8000/api/chat)
Prod:  gunicorn examples.flask_app:app -k gthread --threads 64 -b 0.0.0.0:8000

Streams hold a thread each, so serve Flask with threads (gthread, waitress), not sync workers.
"""

import os

from flask import Flask, request
from flask_cors import CORS

from rais.flask import rais_blueprint, rais_response

app = Flask(__name__)
CORS(app)  # browsers call from another origin; pass origins=[...] in production
app.register_blueprint(rais_blueprint(provider="openai"))


@app.post("/api/shout")
def shout():  # type: ignore[no-untyped-def]
    """Your own streaming logic: any generator of text chunks becomes a RAIS stream."""
    words = request.get_json()["messages"][-1]["content"].split()  # read the request first

    def tokens():  # type: ignore[no-untyped-def]
        for word in words:
            yield word.upper() + " "

    return rais_response(tokens())


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8000")), threaded=True)
