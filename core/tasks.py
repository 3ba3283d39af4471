"""Background work of the platform (scheduled by CELERY_BEAT_SCHEDULE)."""

from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task
def purge_idempotency_keys() -> int:
    """Delete Idempotency-Key records older than IDEMPOTENCY_KEY_TTL."""
    from core.idempotency import idempotency_keys_purge

    return idempotency_keys_purge()


@shared_task(
    name="core.tasks.hints_run",
    acks_late=True,
    autoretry_for=(OSError, OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def hints_run_task(calls: list[list[Any]]) -> int:
    """Run the hints of one transaction (core.hints) here, each as its own task would.

    Every call runs even if one fails; the first failure is raised afterwards
    (a retry runs them all again: each hinted task is safe to run twice).
    """
    from config.celery import app

    failure: Exception | None = None
    for name, kwargs in calls:
        try:
            app.tasks[name](**kwargs)
        except Exception as exc:  # noqa: BLE001 - raised below, after the other calls
            failure = failure or exc
    if failure is not None:
        raise failure
    return len(calls)
