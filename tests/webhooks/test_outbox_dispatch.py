"""The outbox queues one dispatch per transaction, and never loses an event to a savepoint."""

import pytest
from django.db import transaction

from core.hints import TransactionHints
from tests.catalog.factories import VariantFactory
from tests.orders.factories import ADDRESS
from webhooks import services
from webhooks.models import Event

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


@pytest.fixture
def dispatches(monkeypatch) -> list[list[str]]:
    """The event ids of every dispatch sent (in its transaction's one message), in order."""
    queued: list[list[str]] = []
    send = TransactionHints.__call__

    def record(self: TransactionHints) -> None:
        if not self.sent:
            queued.extend(
                list(kwargs["event_ids"])
                for task, kwargs, _what in self.calls
                if task.name == "webhooks.tasks.events_dispatch"
            )
        send(self)

    monkeypatch.setattr(TransactionHints, "__call__", record)
    return queued


def test_an_order_queues_one_dispatch_for_its_stock_and_order_events(
    user_client, django_capture_on_commit_callbacks, dispatches
):
    with django_capture_on_commit_callbacks(execute=True):  # their own transaction's batch
        a, b = VariantFactory(stock=5), VariantFactory(stock=5)
    body = {
        "lines": [{"sku": a.sku, "quantity": 1}, {"sku": b.sku, "quantity": 2}],
        "shipping_address": ADDRESS,
    }
    Event.objects.all().delete()  # the factories' stock adjustments
    dispatches.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post("/api/v1/orders/", body, format="json")

    assert response.status_code == 201
    events = {str(pk): t for pk, t in Event.objects.values_list("pk", "type")}
    assert sorted(events.values()) == ["order.placed", "stock.changed", "stock.changed"]
    (queued,) = dispatches
    assert sorted(queued) == sorted(events)
    assert not Event.objects.filter(dispatched_at__isnull=True).exists()


def test_events_after_a_rolled_back_savepoint_are_still_dispatched(
    django_capture_on_commit_callbacks, dispatches
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        with pytest.raises(Boom), transaction.atomic():
            services.event_record(type="order.note", data={"n": 1})  # its hook is dropped
            raise Boom
        kept = services.event_record(type="order.note", data={"n": 2})
        with pytest.raises(Boom), transaction.atomic():
            services.event_record(type="order.note", data={"n": 3})  # joins, then undone
            raise Boom
        with transaction.atomic():
            inner = services.event_record(type="order.note", data={"n": 4})

    assert list(Event.objects.order_by("data__n").values_list("data__n", flat=True)) == [2, 4]
    assert not Event.objects.filter(dispatched_at__isnull=True).exists()
    (queued,) = dispatches
    assert {str(kept.pk), str(inner.pk)} <= set(queued)


def test_an_event_after_a_released_savepoint_gets_its_own_dispatch(
    django_capture_on_commit_callbacks, dispatches
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        with transaction.atomic():
            first = services.event_record(type="order.note", data={"n": 1})
        second = services.event_record(type="order.note", data={"n": 2})

    assert dispatches == [[str(first.pk)], [str(second.pk)]]
    assert not Event.objects.filter(dispatched_at__isnull=True).exists()


def test_a_transaction_that_rolls_back_leaves_nothing_for_the_next_one(
    django_capture_on_commit_callbacks, dispatches
):
    with pytest.raises(Boom), transaction.atomic():
        services.event_record(type="order.note", data={"n": 1})
        raise Boom
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        kept = services.event_record(type="order.note", data={"n": 2})

    assert dispatches == [[str(kept.pk)]]


@pytest.mark.django_db(transaction=True)
def test_each_event_outside_a_transaction_is_dispatched_at_once(dispatches):
    first = services.event_record(type="order.note", data={"n": 1})
    assert dispatches == [[str(first.pk)]]
    second = services.event_record(type="order.note", data={"n": 2})
    assert dispatches == [[str(first.pk)], [str(second.pk)]]
