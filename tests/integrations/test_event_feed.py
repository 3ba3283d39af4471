"""GET events/: a reader resuming from its last `next` never misses an event."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from orders.transitions import TRANSITIONS
from tests.conftest import token_client
from tests.integrations.factories import key_client
from tests.webhooks.factories import EndpointFactory
from webhooks import feed
from webhooks.catalogue import EVENT_TYPES
from webhooks.models import Delivery, DeliveryStatus, Event
from webhooks.services import event_record

URL = "/api/v1/events/"


def _types(page: dict) -> list[str]:
    return [e["type"] for e in page["results"]]


@pytest.mark.django_db(transaction=True)
def test_an_event_committed_after_a_later_one_is_still_delivered_to_a_resuming_reader(
    make_integration, roles
):
    """The transaction that inserts first commits last; the reader polls in between."""
    staff = make_integration("Analyst")[0].user
    staff.user_permissions.add(*_event_view_permission())
    client = token_client(staff)
    url = f"{URL}?type=test.first_inserted,test.second_inserted"
    inserted = threading.Event()
    release = threading.Event()

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                event_record(type="test.first_inserted", data={})
                inserted.set()
                assert release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    try:
        assert inserted.wait(timeout=30)
        with transaction.atomic():
            event_record(type="test.second_inserted", data={})
        page = client.get(url).json()
        assert _types(page) == ["test.second_inserted"]
    finally:
        release.set()
        thread.join(timeout=30)

    resumed = client.get(page["next"]).json()
    assert _types(resumed) == ["test.first_inserted"]
    assert resumed["results"][0]["sequence"] > page["results"][0]["sequence"]
    assert client.get(resumed["next"]).json()["results"] == []


def _event_view_permission():
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(content_type__app_label="webhooks", codename="view_event")


@pytest.mark.django_db
def test_the_feed_pages_in_sequence_order_and_filters_by_type(superuser):
    for index in range(5):
        event_record(type="test.a" if index % 2 else "test.b", data={"n": index})
    client = token_client(superuser)

    first = client.get(URL, {"page_size": 2}).json()
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()
    results = first["results"] + second["results"] + third["results"]

    assert [e["data"]["n"] for e in results] == [0, 1, 2, 3, 4]
    sequences = [e["sequence"] for e in results]
    assert sequences == sorted(sequences)
    assert set(results[0]) == {"id", "sequence", "type", "created_at", "data"}
    filtered = client.get(URL, {"type": "test.a, other"}).json()
    assert [e["data"]["n"] for e in filtered["results"]] == [1, 3]


@pytest.mark.django_db
def test_the_feed_needs_the_event_view_permission(make_integration):
    _, key = make_integration("Catalog manager")

    assert key_client(key).get(URL).status_code == 403


@pytest.mark.django_db
def test_events_past_the_retention_are_purged(settings):
    settings.EVENT_RETENTION_DAYS = 30
    old = [event_record(type="test.old", data={}) for _ in range(3)]
    kept = event_record(type="test.kept", data={})
    Event.objects.filter(pk__in=[e.pk for e in old]).update(
        created_at=timezone.now() - timedelta(days=31)
    )
    Delivery.objects.create(event=old[0], endpoint=EndpointFactory())

    assert feed.events_purge(batch=2) == 3
    assert list(Event.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not Delivery.objects.exists()


@pytest.mark.django_db
def test_the_periodic_tasks_purge_events_past_the_retention(settings):
    from webhooks.tasks import events_purge_task

    settings.EVENT_RETENTION_DAYS = 7
    old = event_record(type="test.old", data={})
    kept = event_record(type="test.kept", data={})
    Event.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    scheduled = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]

    assert events_purge_task.name in scheduled
    assert events_purge_task.apply().get() == 1
    assert list(Event.objects.values_list("pk", flat=True)) == [kept.pk]


def test_every_event_type_the_code_records_is_in_the_catalogue():
    recorded = {f"order.{t.event_type}" for t in TRANSITIONS.values()} | {
        "order.placed",
        "order.payment_failed",
        "order.payment_mismatch",
        "order.payment_unallocatable",
        "order.payment_duplicate",
        "stock.changed",
        "integration.key_created",
        "integration.key_revoked",
    }
    assert recorded <= set(EVENT_TYPES)


@pytest.mark.django_db
def test_event_types_are_served_with_their_data_schemas(superuser, customer_client):
    response = token_client(superuser).get("/api/v1/webhooks/event-types/")

    assert response.status_code == 200
    by_type = {t["type"]: t for t in response.json()}
    assert set(by_type) == set(EVENT_TYPES)
    assert by_type["stock.changed"]["data_schema"]["required"] == [
        "sku", "stock", "delta", "kind", "order"
    ]  # fmt: skip
    assert customer_client.get("/api/v1/webhooks/event-types/").status_code == 403


@pytest.mark.django_db
def test_the_schema_carries_each_event_types_data(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    assert schema["components"]["schemas"]["EventDataStockChanged"]["required"] == [
        "sku", "stock", "delta", "kind", "order"
    ]  # fmt: skip


@pytest.mark.django_db
def test_a_replay_queues_every_event_since_a_time_for_one_endpoint(superuser):
    endpoint = EndpointFactory(event_types=["test.wanted"])
    other = EndpointFactory()
    before = event_record(type="test.wanted", data={})
    Event.objects.filter(pk=before.pk).update(created_at=timezone.now() - timedelta(hours=2))
    delivered = event_record(type="test.wanted", data={})
    Delivery.objects.create(
        event=delivered, endpoint=endpoint, status=DeliveryStatus.SUCCEEDED, attempt_count=1
    )
    never_sent = event_record(type="test.wanted", data={})
    event_record(type="test.unwanted", data={})
    since = (timezone.now() - timedelta(hours=1)).isoformat()

    response = token_client(superuser).post(
        f"/api/v1/webhooks/{endpoint.pk}/replay/", {"since": since}, format="json"
    )

    assert response.status_code == 202
    assert response.json() == {"events": 2}
    pending = Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING)
    assert set(pending.values_list("event_id", flat=True)) == {delivered.pk, never_sent.pk}
    assert not Delivery.objects.filter(endpoint=other).exists()


def test_the_catalogue_lists_the_order_statuses_there_are():
    from orders.models import OrderStatus
    from webhooks.catalogue import ORDER_STATUSES

    assert list(OrderStatus.values) == ORDER_STATUSES
