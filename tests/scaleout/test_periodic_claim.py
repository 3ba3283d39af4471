"""A scheduled task sent twice in one period (two beats, a restarted beat) runs once."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from core.periodic import CLAIM_PREFIX, periodic_run_claim, schedule_period
from orders.models import Order, OrderStatus
from orders.tasks import cancel_expired_orders
from tests.orders.factories import order_place

BEAT = {"celery_beat_task": True}


def test_the_period_is_the_interval_or_the_time_to_the_next_crontab_match():
    assert schedule_period(task_name="orders.tasks.cancel_expired_orders") == 60.0
    # Daily at 03:17: from 03:17:30 the next run is a day less 30 seconds away.
    at = datetime(2026, 12, 6, 3, 17, 30, tzinfo=UTC)
    period = schedule_period(task_name="core.tasks.purge_idempotency_keys", now=at)
    assert period == timedelta(days=1, seconds=-30).total_seconds()
    assert schedule_period(task_name="orders.tasks.order_email_send") is None


def test_only_the_first_run_of_a_period_gets_the_claim():
    name = "webhooks.tasks.webhooks_sweep"

    assert periodic_run_claim(task_name=name, task_id="first")
    assert not periodic_run_claim(task_name=name, task_id="second")
    # A retried run keeps its task id, and its claim.
    assert periodic_run_claim(task_name=name, task_id="first")
    lifetime = cache.ttl(f"{CLAIM_PREFIX}{name}")
    assert 25 <= lifetime <= 27  # 90% of the 30-second period


def test_a_task_that_is_not_scheduled_is_never_skipped():
    assert periodic_run_claim(task_name="orders.tasks.order_email_send", task_id="a")
    assert periodic_run_claim(task_name="orders.tasks.order_email_send", task_id="b")


@pytest.mark.django_db
def test_a_second_beat_message_in_the_period_is_skipped_and_calls_by_hand_are_not():
    order = order_place(quantity=1, stock=3)
    Order.objects.filter(pk=order.pk).update(created_at=order.created_at - timedelta(hours=2))

    first = cancel_expired_orders.apply(headers=BEAT).get()
    second = cancel_expired_orders.apply(headers=BEAT).get()
    by_hand = cancel_expired_orders.apply().get()

    assert (first, second, by_hand) == (1, None, 0)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED


def test_of_simultaneous_beat_messages_exactly_one_runs():
    name = "emails.tasks.emails_sweep"
    barrier = threading.Barrier(8)
    claimed: list[bool] = []

    def claim(n: int) -> None:
        barrier.wait()
        claimed.append(periodic_run_claim(task_name=name, task_id=f"run-{n}"))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(claimed) == [False] * 7 + [True]
