"""Serve: uvicorn integrations.django_project.asgi:application --host 0.0.0.0 --port 8000"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "integrations.django_project.settings")
application = get_asgi_application()
