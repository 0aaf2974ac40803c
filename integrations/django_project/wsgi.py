"""Serve: gunicorn integrations.django_project.wsgi:application -k gthread --threads 64"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "integrations.django_project.settings")
application = get_wsgi_application()
