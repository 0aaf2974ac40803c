"""A chat backend as a team ships it, on Django in one file: session login
(django.contrib.auth), a system prompt per user (a Profile row), a model and temperature
the client may choose within limits, every turn saved with the async ORM with its outcome
and token usage, the history of each conversation kept on the server (the client sends
its new message and a ``conversation`` id), and at most 2 streams at once per user.
Needs Django 5 (async auth).

Setup: python examples/backend_django.py migrate --run-syncdb
       python examples/backend_django.py createsuperuser
Run:   python examples/backend_django.py runserver 8000      (offline demo model unless
       OPENAI_API_KEY or OPENAI_BASE_URL is set)
Prod:  CHAT_DB=/var/lib/chat/db.sqlite3 uvicorn examples.backend_django:application \\
           --host 0.0.0.0 --port 8000                                               (ASGI)
       gunicorn examples.backend_django:wsgi_application -k gthread --threads 64 --workers 1
                                                                                    (WSGI)
Log in with ``POST /api/login {"username": ..., "password": ...}``, then chat with the
session cookie (serve the chat page from the same site). A user's ``Profile`` row holds
their system prompt. The stream count lives in this process (configure and on_finish run
on one event loop, under ASGI and WSGI alike): with several workers keep it in Redis.
"""

import json
import os
import sys
from collections import Counter
from typing import Any

import django
from django.apps import AppConfig
from django.conf import settings

APP = __name__  # this file is the Django app: its models are below, not in models.py


class ChatApp(AppConfig):
    name = APP
    label = "chat"

    def import_models(self) -> None:  # the models live in this module
        super().import_models()
        self.models_module = sys.modules[APP]  # so `migrate --run-syncdb` creates their tables


settings.configure(
    DEBUG=os.environ.get("DJANGO_DEBUG") == "1",
    SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "rais-example-not-secret"),
    ALLOWED_HOSTS=["127.0.0.1", "localhost", "[::1]"],
    ROOT_URLCONF=APP,
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        f"{APP}.ChatApp",
    ],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("CHAT_DB", "chat.sqlite3"),
        }
    },
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    USE_TZ=True,
)
django.setup()

from django.contrib.auth import aauthenticate, alogin  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import models  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402
from django.views.decorators.http import require_POST  # noqa: E402

import rais  # noqa: E402
from rais.django import rais_view  # noqa: E402

OPENAI = any(os.environ.get(name) for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"))
PROVIDER = "openai" if OPENAI else "offline"  # offline: runs anywhere, no key
MODELS = ("gpt-4o-mini", "gpt-4o")  # what a client may ask for; the first is the default
MAX_STREAMS = 2  # per user, at once
DEFAULT_SYSTEM = "You are a helpful assistant."


class Profile(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE)
    system_prompt = models.TextField()

    class Meta:
        app_label = "chat"


class Turn(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE)
    outcome = models.CharField(max_length=16)
    text = models.TextField()
    error = models.TextField(null=True)
    model = models.CharField(max_length=64, null=True)
    prompt_tokens = models.IntegerField(null=True)
    completion_tokens = models.IntegerField(null=True)
    total_tokens = models.IntegerField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    conversation = models.CharField(max_length=64, null=True)
    question = models.TextField(default="")

    class Meta:
        app_label = "chat"


streams: Counter[int] = Counter()  # streams in flight per user id


async def configure(chat: rais.Chat) -> dict[str, Any] | None:
    """Who asks, with which settings; refuse (401, 422, 429) before anything is paid for."""
    user = await chat.request.auser()
    if not user.is_authenticated:
        raise rais.RequestError(401, "Log in first (POST /api/login).", kind="unauthorized")
    if chat.reconnect:  # a resume: authorized, and no on_finish follows, so take no slot
        return None
    model = chat.option("model", allowed=MODELS, default=MODELS[0])
    temperature = chat.option("temperature", between=(0, 2), default=0.7)
    conversation = chat.option("conversation", allowed=conversation_id, default=None)
    profile = await Profile.objects.filter(user=user).afirst()
    if streams[user.pk] >= MAX_STREAMS:  # last: a refusal above must not take a slot
        raise rais.RequestError(
            429, f"At most {MAX_STREAMS} answers at once.", kind="too_many_streams",
            headers={"Retry-After": "5"},
        )  # fmt: skip
    streams[user.pk] += 1
    chat.state["user_id"] = user.pk  # for on_finish
    chat.state["conversation"] = conversation
    chat.state["question"] = chat.messages[-1]["content"]
    chat.log["user"] = user.pk  # on the access-log line
    system = profile.system_prompt if profile else DEFAULT_SYSTEM
    settings = {"model": model, "temperature": temperature, "system": system}
    if conversation is not None:  # earlier turns from the database, then the new message
        settings["messages"] = [*await history(user.pk, conversation), chat.messages[-1]]
    return settings


async def history(user_id: int, conversation: str) -> list[dict[str, str]]:
    """The conversation's last 10 answered turns, oldest first: the server keeps the
    history, the client sends only its new message (and the conversation's id)."""
    turns = Turn.objects.filter(user_id=user_id, conversation=conversation, outcome="done")
    messages: list[dict[str, str]] = []
    async for turn in turns.order_by("-id")[:10]:
        messages[:0] = [
            {"role": "user", "content": turn.question},
            {"role": "assistant", "content": turn.text},
        ]
    return messages


def conversation_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64


async def on_finish(result: rais.StreamResult) -> None:
    """Called once per stream that configure let through, however it ended."""
    assert result.chat is not None
    user_id = result.chat.state["user_id"]
    streams[user_id] -= 1
    usage = result.usage or rais.Usage()
    await Turn.objects.acreate(
        user_id=user_id, outcome=result.outcome, text=result.text, error=result.error,
        model=result.model, prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens, total_tokens=usage.total_tokens,
        conversation=result.chat.state["conversation"], question=result.chat.state["question"],
    )  # fmt: skip


@csrf_exempt  # a JSON body: a cross-site form cannot send one without a CORS preflight
@require_POST
async def login(request: HttpRequest) -> JsonResponse:
    if request.content_type != "application/json":
        return JsonResponse({"error": {"type": "unsupported_media_type"}}, status=415)
    try:
        body = json.loads(request.body)
        user = await aauthenticate(request, username=body["username"], password=body["password"])
    except (ValueError, KeyError, TypeError):
        user = None
    if user is None:
        return JsonResponse({"error": {"type": "unauthorized"}}, status=401)
    await alogin(request, user)
    return JsonResponse({"user": user.get_username()})


urlpatterns = [
    path("api/login", login),
    path("api/chat", rais_view(provider=PROVIDER, configure=configure, on_finish=on_finish)),
]

application = get_asgi_application()
wsgi_application = get_wsgi_application()

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
