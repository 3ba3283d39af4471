import hashlib
import hmac
import threading
import time
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from catalog import services as catalog_services
from tests.catalog.factories import VariantFactory
from tests.webhooks.factories import EndpointFactory
from tests.webhooks.receiver import Receiver
from webhooks import services
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event
from webhooks.tasks import delivery_attempt_task, events_dispatch_task, webhooks_sweep_task


def _verify(received, secret: str) -> bool:
    """What a receiver does: recompute the HMAC of "<t>.<body>" and compare."""
    parts = dict(p.split("=", 1) for p in received.headers["Stockroom-Signature"].split(","))
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    fresh = abs(time.time() - int(parts["t"])) < 300
    return fresh and hmac.compare_digest(expected, parts["v1"])


def _adjust(variant, delta, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.stock_adjust(variant=variant, delta=delta, reason="test")


def _make_due(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


@pytest.mark.django_db
def test_stock_change_is_posted_signed_with_the_endpoint_secret(
    receiver, django_capture_on_commit_callbacks
):
    endpoint = EndpointFactory(url=receiver.url(), event_types=["stock.changed"])
    variant = VariantFactory()

    _adjust(variant, 7, django_capture_on_commit_callbacks)

    (received,) = receiver.received
    event = Event.objects.get()
    assert received.json == {
        "id": str(event.pk),
        "type": "stock.changed",
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": {"sku": variant.sku, "stock": 7, "delta": 7, "kind": "adjustment", "order": None},
    }
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["Stockroom-Event-Id"] == str(event.pk)
    assert _verify(received, endpoint.secret)
    assert not _verify(received, "whsec_another_secret")
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == (
        DeliveryStatus.SUCCEEDED,
        1,
        200,
    )
    (attempt,) = delivery.attempts.all()
    assert attempt.status_code == 200 and attempt.duration_ms >= 0 and attempt.error == ""
    assert Event.objects.get().dispatched_at is not None


@pytest.mark.django_db
def test_endpoint_gets_only_the_event_types_it_asked_for(
    receiver, django_capture_on_commit_callbacks
):
    EndpointFactory(url=receiver.url("/orders"), event_types=["order.paid"])
    EndpointFactory(url=receiver.url("/all"), event_types=["*"])
    EndpointFactory(url=receiver.url("/off"), event_types=["*"], is_active=False)

    _adjust(VariantFactory(), 2, django_capture_on_commit_callbacks)

    assert [r.path for r in receiver.received] == ["/all"]


@pytest.mark.django_db
def test_a_500_is_retried_with_backoff_and_the_same_event_id(
    receiver, django_capture_on_commit_callbacks
):
    EndpointFactory(url=receiver.url())
    receiver.script = [500]

    before = timezone.now()
    _adjust(VariantFactory(), 3, django_capture_on_commit_callbacks)

    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_status_code == 500
    # First backoff: 30 s +-10%.
    assert delivery.next_attempt_at is not None
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 26 < wait < 34
    assert webhooks_sweep_task() == {"events": 0, "deliveries": 0}, "not due yet"

    _make_due(delivery)
    assert webhooks_sweep_task() == {"events": 0, "deliveries": 1}

    first, second = receiver.received
    assert first.json["id"] == second.json["id"] == str(delivery.event_id)
    assert first.body == second.body
    assert [
        first.headers["Stockroom-Delivery-Attempt"],
        second.headers["Stockroom-Delivery-Attempt"],
    ] == ["1", "2"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.SUCCEEDED, 2)
    assert [a.status_code for a in delivery.attempts.all()] == [500, 200]
    assert Endpoint.objects.get().consecutive_failures == 0


@pytest.mark.django_db
def test_a_400_is_not_retried(receiver, django_capture_on_commit_callbacks):
    EndpointFactory(url=receiver.url())
    receiver.script = [400]

    _adjust(VariantFactory(), 3, django_capture_on_commit_callbacks)

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_status_code, delivery.next_attempt_at) == (
        DeliveryStatus.FAILED,
        400,
        None,
    )
    Delivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert webhooks_sweep_task() == {"events": 0, "deliveries": 0}
    assert len(receiver.received) == 1
    assert Endpoint.objects.get().is_active


@pytest.mark.django_db
def test_a_timeout_is_retried(receiver, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_TIMEOUT = 0.3
    receiver.delay = 1.0
    EndpointFactory(url=receiver.url())

    _adjust(VariantFactory(), 1, django_capture_on_commit_callbacks)

    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_status_code is None
    assert delivery.last_error == "timeout"
    assert delivery.next_attempt_at is not None
    assert delivery.next_attempt_at > timezone.now()


@pytest.mark.django_db
def test_a_redirect_is_not_followed(receiver, django_capture_on_commit_callbacks):
    EndpointFactory(url=receiver.url())
    receiver.script = [302]

    _adjust(VariantFactory(), 1, django_capture_on_commit_callbacks)

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.FAILED, 302)
    assert delivery.last_error == "redirect_not_followed"
    assert len(receiver.received) == 1


@pytest.mark.django_db
def test_endpoint_is_disabled_after_persistent_failures_and_says_why(
    receiver, settings, django_capture_on_commit_callbacks, superuser_client
):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    receiver.default = 503
    endpoint = EndpointFactory(url=receiver.url())
    variant = VariantFactory()

    for _ in range(3):
        _adjust(variant, 1, django_capture_on_commit_callbacks)

    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert endpoint.disabled_reason == "3 consecutive failed attempts; last: HTTP 503."
    body = superuser_client.get(f"/api/v1/webhooks/{endpoint.pk}/").json()
    assert body["is_active"] is False
    assert body["disabled_reason"] == "3 consecutive failed attempts; last: HTTP 503."
    # Its pending retries wait: nothing is sent to a disabled endpoint.
    Delivery.objects.update(next_attempt_at=timezone.now())
    assert webhooks_sweep_task() == {"events": 0, "deliveries": 0}
    assert len(receiver.received) == 3

    # Enabling it again resumes the retries.
    receiver.default = 200
    response = superuser_client.patch(
        f"/api/v1/webhooks/{endpoint.pk}/", {"is_active": True}, format="json"
    )
    assert response.json()["disabled_reason"] == ""
    assert webhooks_sweep_task() == {"events": 0, "deliveries": 3}
    assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 3


@pytest.mark.django_db
def test_gives_up_after_the_retry_window_and_disables_the_endpoint(
    receiver, settings, django_capture_on_commit_callbacks
):
    receiver.default = 500
    endpoint = EndpointFactory(url=receiver.url())
    _adjust(VariantFactory(), 1, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    assert delivery.retry_until is not None
    assert abs(delivery.retry_until - delivery.created_at - timedelta(hours=24)).total_seconds() < 1
    # A day later, the next retry would fall outside the 24-hour window.
    Delivery.objects.filter(pk=delivery.pk).update(
        retry_until=timezone.now() + timedelta(seconds=10)
    )
    _make_due(delivery)

    webhooks_sweep_task()

    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.FAILED, 2)
    assert not endpoint.is_active
    assert endpoint.disabled_reason == (
        f"Gave up on event {delivery.event_id} after 2 attempts over 1 day, 0:00:00; "
        "last: HTTP 500."
    )


@pytest.mark.django_db
def test_410_gone_disables_the_endpoint_at_once(receiver, django_capture_on_commit_callbacks):
    endpoint = EndpointFactory(url=receiver.url())
    receiver.script = [410]
    _adjust(VariantFactory(), 1, django_capture_on_commit_callbacks)
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.disabled_reason) == (
        False,
        "The receiver answered 410 Gone.",
    )


@pytest.mark.django_db
def test_unreachable_receiver_is_a_retryable_error(django_capture_on_commit_callbacks):
    free = Receiver()  # bound, never started, then closed: nothing listens there
    url = free.url()
    free.server.server_close()
    EndpointFactory(url=url)
    _adjust(VariantFactory(), 1, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_error == "connection_refused"


@pytest.mark.django_db
def test_dispatch_and_attempt_are_idempotent(receiver, django_capture_on_commit_callbacks):
    EndpointFactory(url=receiver.url())
    _adjust(VariantFactory(), 1, django_capture_on_commit_callbacks)
    event = Event.objects.get()
    delivery = Delivery.objects.get()

    Event.objects.update(dispatched_at=None)  # as if the first dispatch's commit was lost
    assert services.events_dispatch(event_ids=[str(event.pk)]) == []
    assert services.delivery_attempt(delivery_id=delivery.pk) is None
    assert Delivery.objects.count() == 1
    assert len(receiver.received) == 1


@pytest.mark.django_db
def test_sweep_dispatches_events_whose_task_was_lost(receiver):
    EndpointFactory(url=receiver.url())
    event = services.event_record(type="order.paid", data={"number": "SR-1"})  # on_commit lost
    Event.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(minutes=1))

    assert webhooks_sweep_task() == {"events": 1, "deliveries": 0}

    assert receiver.event_ids() == [str(event.pk)]


@pytest.mark.django_db(transaction=True)
def test_no_event_and_no_webhook_when_the_transaction_rolls_back(receiver):
    EndpointFactory(url=receiver.url())
    variant = VariantFactory()
    receiver.received.clear()

    with pytest.raises(RuntimeError), transaction.atomic():
        catalog_services.stock_adjust(variant=variant, delta=5, reason="rolled back")
        raise RuntimeError("boom")

    assert Event.objects.count() == 0
    assert Delivery.objects.count() == 0
    assert receiver.received == []

    with transaction.atomic():
        catalog_services.stock_adjust(variant=variant, delta=5, reason="kept")
    assert len(receiver.received) == 1
    assert receiver.received[0].json["data"]["delta"] == 5


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_send_the_same_delivery_at_once(receiver):
    endpoint = EndpointFactory(url=receiver.url())
    event = Event.objects.create(type="order.paid", data={})
    services.events_dispatch(event_ids=[str(event.pk)])
    delivery = Delivery.objects.get(endpoint=endpoint)
    receiver.delay = 0.5
    results = []

    def attempt():
        try:
            results.append(services.delivery_attempt(delivery_id=delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(receiver.received) == 1
    assert sorted(r is None for r in results) == [False, True]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.SUCCEEDED, 1)


def test_tasks_retry_on_transient_database_errors():
    for task in (events_dispatch_task, delivery_attempt_task):
        assert OperationalError in task.autoretry_for
        assert task.retry_backoff is True


@pytest.mark.django_db
def test_a_redelivered_old_delivery_gets_a_fresh_retry_window(
    receiver, django_capture_on_commit_callbacks
):
    endpoint = EndpointFactory(url=receiver.url())
    receiver.script = [400, 500]
    _adjust(VariantFactory(), 1, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    long_ago = timezone.now() - timedelta(days=3)
    Delivery.objects.filter(pk=delivery.pk).update(created_at=long_ago, retry_until=long_ago)

    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_redeliver(delivery=delivery)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == (
        DeliveryStatus.PENDING,
        2,
        500,
    )
    assert delivery.retry_until is not None
    assert delivery.retry_until > timezone.now() + timedelta(hours=23)
    endpoint.refresh_from_db()
    assert endpoint.is_active
