"""A chat backend as a team ships it, on Flask: bearer-token users, a system prompt per
user, a model and temperature the client may choose within limits, every turn saved to
SQLite with its outcome and token usage, the history of each conversation kept on the
server (the client sends its new message and a ``conversation`` id), and at most 2
streams at once per user.

Run:   python examples/backend_flask.py          (offline demo model unless OPENAI_API_KEY
       or OPENAI_BASE_URL is set; http://127.0.0.1:8000/api/chat)
Prod:  CHAT_DB=/var/lib/chat/turns.sqlite3 gunicorn examples.backend_flask:app \\
           -k gthread --threads 64 --workers 1 -b 0.0.0.0:8000
Try:   curl -N localhost:8000/api/chat -H 'Authorization: Bearer token-alice' \\
           -H 'Content-Type: application/json' \\
           -d '{"messages": [{"role": "user", "content": "hi"}], "model": "gpt-4o"}'

Streams hold a thread each: serve Flask with threads (gthread, waitress), not sync workers.
``configure`` runs in the request thread (``g`` and login extensions work there); turns are
saved with the standard ``sqlite3`` driver, one short connection per turn. The stream count
lives in this process: with several workers keep it in Redis (or route each user to one).
"""

import contextlib
import os
import sqlite3
import threading
from collections import Counter
from typing import Any, NamedTuple

from flask import Flask
from flask_cors import CORS

import rais
from rais.flask import rais_blueprint

DB = os.environ.get("CHAT_DB", "chat.sqlite3")
OPENAI = any(os.environ.get(name) for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"))
PROVIDER = "openai" if OPENAI else "offline"  # offline: runs anywhere, no key
MODELS = ("gpt-4o-mini", "gpt-4o")  # what a client may ask for; the first is the default
MAX_STREAMS = 2  # per user, at once


class User(NamedTuple):
    id: int
    name: str
    system: str


# token -> user. In production: your user store, with hashed tokens.
USERS = {
    "token-alice": User(1, "alice", "You are Alice's research assistant. Cite your sources."),
    "token-bob": User(2, "bob", "You are Bob's cooking helper. Use metric units."),
}
streams: Counter[int] = Counter()  # streams in flight per user id
lock = threading.Lock()  # requests and on_finish run in several threads

with contextlib.closing(sqlite3.connect(DB)) as db:
    db.execute(
        "CREATE TABLE IF NOT EXISTS turns (id INTEGER PRIMARY KEY, user_id INTEGER, outcome TEXT,"
        " text TEXT, error TEXT, model TEXT, prompt_tokens INTEGER, completion_tokens INTEGER,"
        " total_tokens INTEGER, created_at TEXT DEFAULT CURRENT_TIMESTAMP,"
        " conversation TEXT, question TEXT)"
    )


def history(user_id: int, conversation: str) -> list[dict[str, str]]:
    """The conversation's last 10 answered turns, oldest first: the server keeps the
    history, the client sends only its new message (and the conversation's id)."""
    with contextlib.closing(sqlite3.connect(DB)) as db:
        rows = db.execute(
            "SELECT question, text FROM turns WHERE user_id = ? AND conversation = ?"
            " AND outcome = 'done' ORDER BY id DESC LIMIT 10",
            (user_id, conversation),
        ).fetchall()
    messages = []
    for asked, answer in reversed(rows):
        messages += [{"role": "user", "content": asked}, {"role": "assistant", "content": answer}]
    return messages


def conversation_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64


def configure(chat: rais.Chat) -> dict[str, Any] | None:
    """Who asks, with which settings; refuse (401, 422, 429) before anything is paid for."""
    scheme, _, token = (chat.headers.get("authorization") or "").partition(" ")
    user = USERS.get(token.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        raise rais.RequestError(
            401, "Send Authorization: Bearer <token>.", kind="unauthorized",
            headers={"WWW-Authenticate": "Bearer"},
        )  # fmt: skip
    if chat.reconnect:  # a resume: authorized, and no on_finish follows, so take no slot
        return None
    model = chat.option("model", allowed=MODELS, default=MODELS[0])
    temperature = chat.option("temperature", between=(0, 2), default=0.7)
    conversation = chat.option("conversation", allowed=conversation_id, default=None)
    with lock:  # last: a refusal above must not take a slot that on_finish would not free
        if streams[user.id] >= MAX_STREAMS:
            raise rais.RequestError(
                429, f"At most {MAX_STREAMS} answers at once.", kind="too_many_streams",
                headers={"Retry-After": "5"},
            )  # fmt: skip
        streams[user.id] += 1
    chat.state["user"] = user  # for on_finish
    chat.state["conversation"] = conversation
    chat.state["question"] = chat.messages[-1]["content"]
    chat.log["user"] = user.id  # on the access-log line
    settings = {"model": model, "temperature": temperature, "system": user.system}
    if conversation is not None:  # earlier turns from the database, then the new message
        settings["messages"] = [*history(user.id, conversation), chat.messages[-1]]
    return settings


def on_finish(result: rais.StreamResult) -> None:
    """Called once per stream that configure let through, however it ended."""
    assert result.chat is not None
    user: User = result.chat.state["user"]
    with lock:
        streams[user.id] -= 1
    usage = result.usage or rais.Usage()
    with contextlib.closing(sqlite3.connect(DB)) as db, db:  # commits
        db.execute(
            "INSERT INTO turns (user_id, outcome, text, error, model, prompt_tokens,"
            " completion_tokens, total_tokens, conversation, question)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (user.id, result.outcome, result.text, result.error, result.model,
             usage.prompt_tokens, usage.completion_tokens, usage.total_tokens,
             result.chat.state["conversation"], result.chat.state["question"]),
        )  # fmt: skip


app = Flask(__name__)
CORS(app)  # browsers call from another origin; pass origins=[...] in production
app.register_blueprint(rais_blueprint(provider=PROVIDER, configure=configure, on_finish=on_finish))

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8000")), threaded=True)
