"""Webhook background work. Every task is safe to run twice (the services are idempotent)."""

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from webhooks import services

logger = logging.getLogger("stockroom.webhooks")

# Transient trouble with our own database or broker: try the task again, with backoff.
# (A receiver's failure is not one of these: it is recorded and retried by the sweep.)
_TRANSIENT = (OSError, OperationalError, InterfaceError)


@shared_task(
    name="webhooks.tasks.events_dispatch",
    acks_late=True,
    autoretry_for=_TRANSIENT,
    retry_backoff=True,
    max_retries=5,
)
def events_dispatch_task(event_ids: list[str]) -> int:
    """Fan events out into deliveries and queue one delivery task each."""
    delivery_ids = services.events_dispatch(event_ids=event_ids)
    for delivery_id in delivery_ids:
        delivery_attempt_task.delay(delivery_id)
    return len(delivery_ids)


@shared_task(
    name="webhooks.tasks.delivery_attempt",
    acks_late=True,
    autoretry_for=_TRANSIENT,
    retry_backoff=True,
    max_retries=5,
)
def delivery_attempt_task(delivery_id: int) -> int | None:
    """POST one delivery if it is due. A failed POST is retried by the sweep, not here."""
    attempt = services.delivery_attempt(delivery_id=delivery_id)
    return attempt.status_code if attempt else None


@shared_task(name="webhooks.tasks.webhooks_sweep", acks_late=True)
def webhooks_sweep_task() -> dict[str, int]:
    """Every 30 seconds (beat): dispatch events whose task was lost, send due retries.

    Also numbers the committed events for the feed, so it stays current without readers.
    """
    from webhooks.feed import events_sequence_assign

    events_sequence_assign()
    found = services.webhooks_sweep()
    if found.event_ids:
        events_dispatch_task.delay(found.event_ids)
    for delivery_id in found.delivery_ids:
        delivery_attempt_task.delay(delivery_id)
    return {"events": len(found.event_ids), "deliveries": len(found.delivery_ids)}


@shared_task(name="webhooks.tasks.events_purge", acks_late=True)
def events_purge_task() -> int:
    """Nightly (beat): delete events older than EVENT_RETENTION_DAYS."""
    from webhooks.feed import events_purge

    return events_purge()
