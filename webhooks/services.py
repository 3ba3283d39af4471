"""Outgoing webhooks: the outbox (events), endpoints, and delivery of events to them.

Flow: a change records its events in its own transaction (`event_record`);
on commit a task fans each event out into one Delivery per interested
endpoint (`events_dispatch`) and a task per delivery POSTs it
(`delivery_attempt`). Failed attempts are retried by the periodic sweep
(`webhooks_sweep`) with exponential backoff, never by ETA tasks, so that a
lost or duplicated task message costs nothing: every step is idempotent.
"""

import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from config.celery import task_hint
from core.hints import hint_after_commit
from webhooks import http
from webhooks.destinations import url_check
from webhooks.exceptions import EndpointInactive
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint, Event

logger = logging.getLogger("stockroom.webhooks")

SIGNATURE_HEADER = "Stockroom-Signature"
# Worth another try later: the receiver is overloaded, slow or restarting.
RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})


# --- The outbox -----------------------------------------------------------------------------


def event_record(*, type: str, data: dict[str, Any]) -> Event:
    """Store an outgoing event in the caller's transaction (the outbox).

    Must be called inside the transaction that makes the change the event
    describes, so the event exists if and only if the change committed. Its
    delivery is queued when (and only if) that transaction commits.
    """
    event = Event.objects.create(type=type, data=data)
    _dispatch_on_commit(event_ids=[str(event.pk)])
    return event


def events_record(*, events: list[tuple[str, dict[str, Any]]]) -> list[Event]:
    """Store several events at once (one INSERT); same contract as `event_record`."""
    created = Event.objects.bulk_create([Event(type=t, data=d) for t, d in events])
    if created:
        _dispatch_on_commit(event_ids=[str(e.pk) for e in created])
    return created


def _dispatch_on_commit(*, event_ids: list[str]) -> None:
    """Queue these events' dispatch after the commit: one task message per transaction.

    The ids join a dispatch already waiting in the transaction's hints
    (core.hints: the same savepoint rule); an order's stock events, its own
    event and its email leave in one message. A rolled-back event's id may
    stay in a hint; the dispatch skips ids it cannot find.
    """
    from webhooks.tasks import events_dispatch_task

    hint_after_commit(
        events_dispatch_task,
        kwargs={"event_ids": event_ids},
        what="the dispatch of webhook events",
        merge="event_ids",
    )


# --- Endpoints ------------------------------------------------------------------------------


def secret_generate() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def endpoint_create(
    *,
    url: str,
    event_types: list[str],
    secret: str = "",
    description: str = "",
    is_active: bool = True,
) -> Endpoint:
    """Register an endpoint; without a `secret` one is generated (shown to staff once).

    Raises EndpointUrlRefused for a URL that deliveries would refuse.
    """
    url_check(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES)
    return Endpoint.objects.create(
        url=url,
        event_types=sorted(set(event_types)),
        secret=secret or secret_generate(),
        description=description,
        is_active=is_active,
    )


@transaction.atomic
def endpoint_update(*, endpoint: Endpoint, **fields: Any) -> Endpoint:
    """Change an endpoint. Enabling it again forgets why it was disabled and its failures.

    Raises EndpointUrlRefused for a URL that deliveries would refuse.
    """
    allowed = {"url", "event_types", "secret", "description", "is_active"}
    if unknown := set(fields) - allowed:
        raise TypeError(f"Unknown endpoint fields: {sorted(unknown)}")
    if "url" in fields:
        url_check(fields["url"], allow_private=settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES)
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    if "event_types" in fields:
        fields["event_types"] = sorted(set(fields["event_types"]))
    if fields.get("is_active") and not endpoint.is_active:
        fields.update(disabled_reason="", disabled_at=None, consecutive_failures=0)
    for name, value in fields.items():
        setattr(endpoint, name, value)
    endpoint.save(update_fields=[*fields, "updated_at"])
    return endpoint


def _endpoint_disable(*, endpoint: Endpoint, reason: str) -> None:
    endpoint.is_active = False
    endpoint.disabled_reason = reason[:500]
    endpoint.disabled_at = timezone.now()
    logger.warning("webhook endpoint disabled", extra={"endpoint": endpoint.pk, "reason": reason})


# --- Dispatch -------------------------------------------------------------------------------


def events_dispatch(*, event_ids: list[str]) -> list[int]:
    """Create the deliveries of these events (once per endpoint) and return the ones to send.

    Idempotent: events already dispatched are skipped, and the unique
    (event, endpoint) constraint forbids a second delivery row. Returns the
    ids of all pending deliveries of these events.
    """
    with transaction.atomic():
        events = list(
            Event.objects.select_for_update(skip_locked=True)
            .filter(pk__in=event_ids, dispatched_at__isnull=True)
            .order_by("pk")
            .only("pk", "type")
        )
        if events:
            now = timezone.now()
            endpoints = list(Endpoint.objects.filter(is_active=True).only("pk", "event_types"))
            Delivery.objects.bulk_create(
                [
                    Delivery(
                        event_id=event.pk,
                        endpoint_id=endpoint.pk,
                        next_attempt_at=now,
                        retry_until=now + settings.WEBHOOK_RETRY_WINDOW,
                    )
                    for event in events
                    for endpoint in endpoints
                    if endpoint.wants(event.type)
                ],
                ignore_conflicts=True,
            )
            Event.objects.filter(pk__in=[e.pk for e in events]).update(dispatched_at=now)
    return list(
        Delivery.objects.filter(event_id__in=event_ids, status=DeliveryStatus.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@dataclass(frozen=True)
class SweepResult:
    event_ids: list[str]
    delivery_ids: list[int]


def webhooks_sweep(*, now: datetime | None = None, limit: int = 1000) -> SweepResult:
    """Find what the task queue lost or deferred: undispatched events and due deliveries."""
    now = now or timezone.now()
    # Younger events are normally being dispatched right now by their on_commit task.
    event_ids = Event.objects.filter(
        dispatched_at__isnull=True, created_at__lte=now - timedelta(seconds=30)
    ).order_by("created_at")[:limit]
    delivery_ids = Delivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now, endpoint__is_active=True
    ).order_by("next_attempt_at")[:limit]
    return SweepResult(
        event_ids=[str(pk) for pk in event_ids.values_list("pk", flat=True)],
        delivery_ids=list(delivery_ids.values_list("pk", flat=True)),
    )


# --- Delivery -------------------------------------------------------------------------------


def event_payload(event: Event) -> bytes:
    """The body POSTed for an event: the same bytes however often it is sent."""
    created_at = event.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    payload = {
        "id": str(event.pk),
        "type": event.type,
        "created_at": created_at,
        "data": event.data,
    }
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def signature_header(*, secret: str, body: bytes, timestamp: int) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the endpoint's secret>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def backoff_seconds(*, attempt: int) -> float:
    """Delay before attempt `attempt + 1`: exponential, capped, with +-10% jitter."""
    delay = min(settings.WEBHOOK_BACKOFF_BASE * 2 ** (attempt - 1), settings.WEBHOOK_BACKOFF_MAX)
    return delay * random.uniform(0.9, 1.1)


@contextmanager
def _delivery_send_lock(*, delivery_id: int) -> Iterator[bool]:
    """Try to take this delivery's sending lock; yields whether it was taken.

    A session-level advisory lock: it outlives transactions (so none need stay
    open while sending), and PostgreSQL releases it when the session ends, so
    a worker that dies mid-way never leaves it behind.
    """
    key = [f"webhooks.delivery:{delivery_id}"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", key)
        (taken,) = cursor.fetchone()
    try:
        yield taken
    finally:
        if taken:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", key)


def delivery_attempt(*, delivery_id: int) -> DeliveryAttempt | None:
    """POST a due pending delivery once and record the outcome; None if there is nothing to do.

    Holds no transaction and no row lock while it sends: only the delivery's
    advisory sending lock, so two workers (a task run twice, or a task and
    the sweep) never send the same delivery at once. The outcome is recorded
    in a short transaction afterwards. A worker that dies mid-way loses the
    lock with its connection, and the redelivered task sends the same event
    (same id) again.
    """
    with _delivery_send_lock(delivery_id=delivery_id) as taken:
        if not taken:
            return None
        delivery = (
            Delivery.objects.select_related("event", "endpoint")
            .filter(
                pk=delivery_id,
                status=DeliveryStatus.PENDING,
                next_attempt_at__lte=timezone.now(),
                endpoint__is_active=True,
            )
            .first()
        )
        if delivery is None:
            return None
        number = delivery.attempt_count + 1
        body = event_payload(delivery.event)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Stockroom-Webhooks/1.0",
            "Stockroom-Event-Id": str(delivery.event_id),
            "Stockroom-Event-Type": delivery.event.type,
            "Stockroom-Delivery-Attempt": str(number),
            SIGNATURE_HEADER: signature_header(
                secret=delivery.endpoint.secret, body=body, timestamp=int(time.time())
            ),
        }
        response = http.post(
            url=delivery.endpoint.url,
            body=body,
            headers=headers,
            timeout=settings.WEBHOOK_TIMEOUT,
            allow_private=settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES,
        )
        with transaction.atomic():
            delivery = Delivery.objects.select_for_update().get(pk=delivery_id)
            attempt = DeliveryAttempt.objects.create(
                delivery=delivery,
                number=number,
                status_code=response.status_code,
                duration_ms=response.duration_ms,
                error=response.error,
            )
            _delivery_outcome_record(delivery=delivery, attempt=attempt)
        return attempt


def _delivery_outcome_record(*, delivery: Delivery, attempt: DeliveryAttempt) -> None:
    """Update the delivery and its endpoint after an attempt (inside its transaction)."""
    now = timezone.now()
    code = attempt.status_code
    delivery.attempt_count = attempt.number
    delivery.last_status_code = code
    delivery.last_error = attempt.error
    endpoint = Endpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    endpoint_fields = ["consecutive_failures", "updated_at"]
    if code is not None and 200 <= code < 300:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        endpoint.consecutive_failures = 0
    else:
        outcome = f"HTTP {code}" if code is not None else attempt.error
        endpoint.consecutive_failures += 1
        retryable = code is None or code >= 500 or code in RETRYABLE_CLIENT_ERRORS
        next_at = now + timedelta(seconds=backoff_seconds(attempt=attempt.number))
        retry_until = delivery.retry_until or delivery.created_at + settings.WEBHOOK_RETRY_WINDOW
        if retryable and next_at <= retry_until:
            delivery.next_attempt_at = next_at
        else:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
            if retryable:
                _endpoint_disable(
                    endpoint=endpoint,
                    reason=f"Gave up on event {delivery.event_id} after {attempt.number} "
                    f"attempts over {settings.WEBHOOK_RETRY_WINDOW}; last: {outcome}.",
                )
        if code == 410 and endpoint.is_active:
            _endpoint_disable(endpoint=endpoint, reason="The receiver answered 410 Gone.")
        limit = settings.WEBHOOK_DISABLE_AFTER_FAILURES
        if endpoint.is_active and endpoint.consecutive_failures >= limit:
            _endpoint_disable(
                endpoint=endpoint,
                reason=f"{endpoint.consecutive_failures} consecutive failed attempts; "
                f"last: {outcome}.",
            )
        if not endpoint.is_active:
            endpoint_fields += ["is_active", "disabled_reason", "disabled_at"]
    delivery.save(
        update_fields=[
            "status",
            "attempt_count",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "updated_at",
        ]
    )
    endpoint.save(update_fields=endpoint_fields)


@transaction.atomic
def delivery_redeliver(*, delivery: Delivery) -> Delivery:
    """Send a delivery again now, whatever its state (staff asked for it: the admin action).

    Raises EndpointInactive when its endpoint is disabled: enable the endpoint first.
    """
    delivery = Delivery.objects.select_for_update().select_related("endpoint").get(pk=delivery.pk)
    if not delivery.endpoint.is_active:
        raise EndpointInactive()
    now = timezone.now()
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now
    # A fresh retry window: an old delivery sent again by hand is not given up at once.
    delivery.retry_until = now + settings.WEBHOOK_RETRY_WINDOW
    delivery.save(update_fields=["status", "next_attempt_at", "retry_until", "updated_at"])
    transaction.on_commit(partial(_delivery_enqueue, delivery_id=delivery.pk), robust=True)
    return delivery


def _delivery_enqueue(*, delivery_id: int) -> None:
    from webhooks.tasks import delivery_attempt_task

    task_hint(
        delivery_attempt_task,
        kwargs={"delivery_id": delivery_id},
        what=f"webhook delivery {delivery_id}",
    )
