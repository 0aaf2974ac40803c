"""Quart: the RAIS endpoint as a blueprint, plus a hand-written view with ``rais_response``.

Run:   OPENAI_API_KEY=sk-... python examples/quart_app.py         (http://127.0.0.1:8000/api/chat)
Prod:  hypercorn examples.quart_app:app --bind 0.0.0.0:8000
"""

import asyncio
import os

from quart import Quart, request
from quart_cors import cors

from rais.quart import rais_blueprint, rais_response

app = Quart(__name__)
app = cors(app, allow_origin="*", allow_headers="*", allow_methods="*")  # list yours in prod
app.register_blueprint(rais_blueprint(provider="openai"))


@app.post("/api/shout")
async def shout():  # type: ignore[no-untyped-def]
    """Your own streaming logic: any async generator of text chunks becomes a RAIS stream."""
    words = (await request.get_json())["messages"][-1]["content"].split()

    async def tokens():  # type: ignore[no-untyped-def]
        for word in words:
            yield word.upper() + " "
            await asyncio.sleep(0)

    return await rais_response(tokens())


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8000")), use_reloader=False)
