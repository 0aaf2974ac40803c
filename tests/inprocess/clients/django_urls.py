"""The URLconf of the in-process Django apps: each Django client fills it for its test."""

from __future__ import annotations

from typing import Any

urlpatterns: list[Any] = []
