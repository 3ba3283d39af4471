"""A transaction's hints leave as one task message (core.hints)."""

import pytest
from django.core import mail
from django.db import transaction

import config.celery
from core.hints import TransactionHints, hint_after_commit
from core.tasks import hints_run_task
from emails.models import OutgoingEmail
from tests.catalog.factories import VariantFactory
from tests.orders.factories import ADDRESS
from webhooks.models import Event

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


@pytest.fixture
def published(monkeypatch):
    """The task of every hint sent (each still sent, run inline as the tests' Celery does)."""
    sent: list[tuple[str, dict, str]] = []
    real = config.celery.task_hint

    def spy(task, *, kwargs, what):
        sent.append((task.name, kwargs, what))
        return real(task, kwargs=kwargs, what=what)

    monkeypatch.setattr(config.celery, "task_hint", spy)
    return sent


def test_an_order_publishes_one_message_for_its_events_and_its_email(
    user_client, published, django_capture_on_commit_callbacks
):
    a, b = VariantFactory(stock=5), VariantFactory(stock=5)
    body = {
        "lines": [{"sku": a.sku, "quantity": 1}, {"sku": b.sku, "quantity": 2}],
        "shipping_address": ADDRESS,
    }
    Event.objects.all().delete()  # the factories' stock adjustments
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = user_client.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.content

    # One hook (each hint registers it again; it sends once).
    assert len({id(hook) for hook in callbacks if isinstance(hook, TransactionHints)}) == 1
    ((name, kwargs, _what),) = published
    assert name == "core.tasks.hints_run"
    tasks = [task for task, _ in kwargs["calls"]]
    assert tasks == ["webhooks.tasks.events_dispatch", "emails.tasks.email_send"]
    # What the one message stood for was done: every event dispatched, the email sent.
    assert not Event.objects.filter(dispatched_at__isnull=True).exists()
    assert OutgoingEmail.objects.get().status == "sent"
    assert len(mail.outbox) == 1


def test_a_lone_hint_is_its_own_task(published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        hint_after_commit(hints_run_task, kwargs={"calls": []}, what="nothing")
    assert published == [("core.tasks.hints_run", {"calls": []}, "nothing")]


def test_a_hint_under_a_rolled_back_savepoint_is_dropped_with_it(
    published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        with pytest.raises(Boom), transaction.atomic():
            hint_after_commit(hints_run_task, kwargs={"calls": []}, what="rolled back")
            raise Boom
        # Must not join the dropped hook: a hook of its own.
        hint_after_commit(hints_run_task, kwargs={"calls": []}, what="kept")
    assert [what for _, _, what in published] == ["kept"]


def test_hints_run_runs_every_call_and_raises_the_first_failure():
    variant = VariantFactory(stock=5)
    events = list(Event.objects.filter(dispatched_at__isnull=True).values_list("pk", flat=True))
    with pytest.raises(KeyError):
        hints_run_task.run(
            calls=[
                ["no.such.task", {}],
                ["webhooks.tasks.events_dispatch", {"event_ids": [str(pk) for pk in events]}],
            ]
        )
    assert events, variant
    assert not Event.objects.filter(dispatched_at__isnull=True).exists()
