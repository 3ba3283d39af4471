"""The Celery app: `celery -A config worker` and `celery -A config beat`.

Settings are the `CELERY_*` names of config.settings (broker from the
environment, beat schedule included). With no broker configured, tasks run
inline (eagerly) in the calling process: the embedded default and unit tests.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("stockroom")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
