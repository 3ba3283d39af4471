"""The Celery app: `celery -A config worker` and `celery -A config beat`.

Settings are the `CELERY_*` names of config.settings (broker from the
environment, beat schedule included). With no broker configured, tasks run
inline (eagerly) in the calling process: the embedded default and unit tests.
"""

import os
from typing import Any

import celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

DATABASE_RETRIES = 5


class Task(celery.Task):
    """Every task: a database that is gone, or a connection that broke, runs it again later.

    The broken connection is closed (its pool drops it) and the task retried
    with backoff, up to DATABASE_RETRIES times, on a fresh connection. Tasks
    are written to have their effect once however often they run (locks,
    state checks, outbox rows), so a retry after a partial run is safe.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from django.db import InterfaceError, OperationalError, connections

        from config.database import database_unavailable

        try:
            return super().__call__(*args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            if not database_unavailable(exc) or self.request.called_directly:
                raise
            for connection in connections.all(initialized_only=True):
                connection.close()
            countdown = min(2**self.request.retries, 60)
            raise self.retry(exc=exc, countdown=countdown, max_retries=DATABASE_RETRIES) from exc


app = celery.Celery("stockroom", task_cls=Task)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
