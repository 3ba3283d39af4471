"""The Celery app. With no broker configured, tasks run inline (eagerly)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("stockroom")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
