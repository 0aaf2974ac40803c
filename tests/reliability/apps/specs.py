"""The reliability apps under the same servers, flags and env as the integrations."""

from __future__ import annotations

import dataclasses

from tests.servers import ServerSpec

_TARGETS = {
    f"integrations.{name}_app:": f"tests.reliability.apps.{name}_app:"
    for name in ("fastapi", "starlette", "flask", "quart", "litestar", "aiohttp")
}
_DJANGO_SETTINGS = "tests.reliability.apps.django_settings"


def app_spec(spec: ServerSpec) -> ServerSpec:
    """``spec`` serving the twin app; an integration this does not know is an error."""
    argv = list(spec.argv)
    env = dict(spec.env)
    swapped = False
    for i, part in enumerate(argv):
        for old, new in _TARGETS.items():
            if part.startswith(old):
                argv[i] = new + part[len(old) :]
                swapped = True
    if spec.framework == "django":
        env["DJANGO_SETTINGS_MODULE"] = _DJANGO_SETTINGS
        swapped = True
    if not swapped:
        raise LookupError(f"no reliability app for {spec.id}: add one to tests/reliability/apps")
    return dataclasses.replace(spec, argv=tuple(argv), env=env)
