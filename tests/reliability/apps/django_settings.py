"""The Django integration's settings, with the reliability endpoints' URLconf."""

from integrations.django_project.settings import *  # noqa: F403

ROOT_URLCONF = "tests.reliability.apps.django_urls"
