"""The Celery app: `celery -A config worker` and `celery -A config beat`.

Settings are the `CELERY_*` names of config.settings (broker from the
environment, beat schedule included). With no broker configured, tasks run
inline (eagerly) in the calling process: the embedded default and unit tests.

`task_hint` is how request code queues work after a commit: the work is
already recorded in an outbox table, so the message only makes it happen
sooner, and a broker outage must cost the request next to nothing.
"""

import logging
import os
import threading
import time
from typing import Any

import celery
from kombu import Connection

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

DATABASE_RETRIES = 5


class Task(celery.Task):
    """Every task: a database that is gone, or a connection that broke, runs it again later.

    A run that beat sent is skipped when another run of the task already
    claimed the current period (core.periodic: several beats, a restarted one).

    The broken connection is closed (its pool drops it) and the task retried
    with backoff, up to DATABASE_RETRIES times, on a fresh connection. Tasks
    are written to have their effect once however often they run (locks,
    state checks, outbox rows), so a retry after a partial run is safe.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from django.db import InterfaceError, OperationalError, connections

        from core.database import database_unavailable
        from core.periodic import BEAT_HEADER, SENT_AT_HEADER, periodic_run_claim

        headers = self.request.headers or {}
        if headers.get(BEAT_HEADER) and not periodic_run_claim(
            task_name=self.name, task_id=self.request.id, sent_at=headers.get(SENT_AT_HEADER)
        ):
            return None
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

logger = logging.getLogger("stockroom.tasks")


class _Hints(threading.local):
    """Each thread's own broker connection for hints (kombu connections are not shared)."""

    connection: Connection | None = None


_hints = _Hints()
# After a failed hint, the process sends none for TASK_HINT_PAUSE seconds: while the
# broker is unreachable every request would otherwise wait for its own timeout.
_paused_until = 0.0


def hint_connection() -> Connection:
    """This thread's connection for hints: one attempt to connect, short socket timeouts.

    It is not taken from Celery's producer pool: a publish with retries on a
    pooled connection leaves its retry policy in the connection's options
    (kombu), which a later publish without retries would then follow.
    """
    from django.conf import settings

    if _hints.connection is None:
        timeout = settings.TASK_HINT_TIMEOUT
        _hints.connection = app.connection_for_write(
            connect_timeout=timeout,
            transport_options={
                "max_retries": 0,
                "socket_connect_timeout": timeout,
                "socket_timeout": timeout,
            },
        )
    return _hints.connection


def hint_connection_reset() -> None:
    """Forget this thread's connection and any pause (the next hint connects afresh)."""
    global _paused_until
    _paused_until = 0.0
    if _hints.connection is not None:
        _hints.connection.collect()
        _hints.connection = None


def task_hint(task: Any, *, kwargs: dict[str, Any], what: str) -> bool:
    """Queue `task(**kwargs)` once, now or never; True if it was queued.

    For work that an outbox row and a periodic sweep already guarantee: no
    retry, one connection attempt with TASK_HINT_TIMEOUT, and a failure is
    logged (as `what`) and swallowed, never raised into the caller's request.
    After a failure, hints are skipped for TASK_HINT_PAUSE seconds.
    """
    from django.conf import settings

    global _paused_until
    eager = app.conf.task_always_eager  # the task runs here and now: nothing to publish
    if not eager and time.monotonic() < _paused_until:
        logger.info("broker recently unreachable: %s left to the sweep", what)
        return False
    try:
        task.apply_async(kwargs=kwargs, connection=hint_connection(), retry=False)
    except Exception as exc:  # noqa: BLE001 - whatever failed, the outbox sweep repairs it
        if not eager:
            _paused_until = time.monotonic() + settings.TASK_HINT_PAUSE
        connection, _hints.connection = _hints.connection, None
        if connection is not None:
            connection.collect()
        # No traceback: while the broker is down it would cost every request's hint its time.
        logger.warning(
            "could not queue %s: the sweep sends it later",
            what,
            extra={"error": f"{type(exc).__name__}: {exc}"},
        )
        return False
    return True
