"""The event feed (`events/`), the retention of events, and replays to an endpoint.

A feed read by `sequence` must never grow in its middle: a reader that has
seen sequence N and resumes after it must find every later event. Numbers
taken when an event is inserted would not do: transactions commit in another
order than they insert, so N+1 may commit after a reader already saw N+2.
Here an event gets its `sequence` only after its transaction committed
(`events_sequence_assign`), by a statement that holds a transaction-level
advisory lock until its own commit; numbers come from a PostgreSQL sequence.
So whatever has a number is committed, and every number given later is
greater than every number already visible.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from webhooks.exceptions import EndpointInactive
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event

# Any constant unique to this lock: the ASCII of "evseq".
_SEQUENCE_LOCK = 0x6576736571
SEQUENCE_BATCH = 5000
REPLAY_ENQUEUE_MAX = 1000
PURGE_BATCH = 2000


def events_sequence_assign(*, limit: int = SEQUENCE_BATCH) -> int:
    """Number the committed events that have no `sequence` yet; returns how many.

    Waits for a concurrent numbering to commit first. Inside a caller's
    transaction the lock is held until that one ends: call it outside any
    (as the feed does) to keep the lock short. Events are numbered in the
    order they were created, at most `limit` at a time (the rest next time).
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SEQUENCE_LOCK])
        # Statement snapshot taken after the lock: every number given before is
        # committed and visible here, and no committed event is left out.
        cursor.execute(
            "UPDATE webhooks_event e SET sequence = o.seq FROM ("
            " SELECT id, nextval('webhooks_event_feed_seq') AS seq FROM ("
            "  SELECT id FROM webhooks_event WHERE sequence IS NULL"
            "  ORDER BY created_at, id LIMIT %s) pending) o"
            " WHERE e.id = o.id",
            [limit],
        )
        return int(cursor.rowcount)


def event_feed(*, after: int | None, types: list[str] | None) -> QuerySet[Event]:
    """Numbered events after `after` (a sequence), in sequence order; of `types` if given."""
    queryset = Event.objects.filter(sequence__isnull=False)
    if after is not None:
        queryset = queryset.filter(sequence__gt=after)
    if types:
        queryset = queryset.filter(type__in=types)
    return queryset.order_by("sequence")


def events_purge(*, now: datetime | None = None, batch: int = PURGE_BATCH) -> int:
    """Delete events (and their delivery log) older than EVENT_RETENTION_DAYS; returns how many.

    In batches of `batch` events, each its own transaction, so a large
    backlog never holds locks or memory for long.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.EVENT_RETENTION_DAYS)
    total = 0
    while True:
        ids = list(
            Event.objects.filter(created_at__lt=cutoff)
            .order_by("created_at")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return total
        with transaction.atomic():
            _deleted, per_model = Event.objects.filter(pk__in=ids).delete()
        total += int(per_model.get(Event._meta.label, 0))


@dataclass(frozen=True)
class Replay:
    events: int
    delivery_ids: list[int]


@transaction.atomic
def endpoint_replay(*, endpoint: Endpoint, since: datetime) -> Replay:
    """Send `endpoint` again every kept event since `since` that it subscribes to.

    Creates the deliveries it never had and makes the others pending again,
    due now, with a fresh retry window. Raises EndpointInactive for a
    disabled endpoint. The first deliveries are queued on commit; the sweep
    sends the rest.
    """
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    if not endpoint.is_active:
        raise EndpointInactive()
    now = timezone.now()
    events = Event.objects.filter(created_at__gte=since)
    if "*" not in endpoint.event_types:
        events = events.filter(type__in=endpoint.event_types)
    event_ids = list(events.order_by("created_at", "pk").values_list("pk", flat=True))
    fields: dict[str, Any] = {
        "status": DeliveryStatus.PENDING,
        "next_attempt_at": now,
        "retry_until": now + settings.WEBHOOK_RETRY_WINDOW,
    }
    Delivery.objects.bulk_create(
        [Delivery(event_id=pk, endpoint_id=endpoint.pk, **fields) for pk in event_ids],
        ignore_conflicts=True,
    )
    deliveries = Delivery.objects.filter(endpoint=endpoint, event_id__in=event_ids)
    deliveries.update(**fields, updated_at=now)
    delivery_ids = list(
        deliveries.order_by("created_at", "pk").values_list("pk", flat=True)[:REPLAY_ENQUEUE_MAX]
    )
    transaction.on_commit(_EnqueueAll(delivery_ids), robust=True)
    return Replay(events=len(event_ids), delivery_ids=delivery_ids)


class _EnqueueAll:
    """Queue deliveries after the commit (a bound callable, no captured loop variable)."""

    def __init__(self, delivery_ids: list[int]) -> None:
        self.delivery_ids = list(delivery_ids)

    def __call__(self) -> None:
        from webhooks.services import _delivery_enqueue

        for delivery_id in self.delivery_ids:
            _delivery_enqueue(delivery_id=delivery_id)
