"""A scheduled task sent twice in one period (two beats, a restarted beat) runs once."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from config.celery import app
from core.periodic import (
    BEAT_HEADER,
    CLAIM_PREFIX,
    SENT_AT_HEADER,
    Scheduler,
    periodic_run_claim,
    schedule_period,
)
from orders.models import Order, OrderStatus
from orders.tasks import cancel_expired_orders
from tests.orders.factories import order_place


def test_the_period_is_the_interval_or_the_time_to_the_next_crontab_match():
    assert schedule_period(task_name="orders.tasks.cancel_expired_orders") == 60.0
    # Daily at 03:17: from 03:17:30 the next run is a day less 30 seconds away.
    at = datetime(2026, 12, 6, 3, 17, 30, tzinfo=UTC)
    period = schedule_period(task_name="core.tasks.purge_idempotency_keys", now=at)
    assert period == timedelta(days=1, seconds=-30).total_seconds()
    assert schedule_period(task_name="orders.tasks.order_email_send") is None


def test_only_the_first_message_of_a_period_gets_the_claim():
    name = "webhooks.tasks.webhooks_sweep"  # every 30 seconds: runs at least 27 s apart
    sent = time.time()

    assert periodic_run_claim(task_name=name, task_id="first", sent_at=sent)
    assert not periodic_run_claim(task_name=name, task_id="second beat", sent_at=sent + 1)
    # A retried run keeps its task id, and its claim.
    assert periodic_run_claim(task_name=name, task_id="first", sent_at=sent)
    assert periodic_run_claim(task_name=name, task_id="next period", sent_at=sent + 27.5)
    # An older message taken late, after a newer one ran, is skipped too.
    assert not periodic_run_claim(task_name=name, task_id="late", sent_at=sent + 20)


def test_a_task_that_is_not_scheduled_is_never_skipped():
    sent = time.time()
    assert periodic_run_claim(task_name="orders.tasks.order_email_send", task_id="a", sent_at=sent)
    assert periodic_run_claim(task_name="orders.tasks.order_email_send", task_id="b", sent_at=sent)


@pytest.mark.django_db
def test_a_second_beat_message_in_the_period_is_skipped_and_calls_by_hand_are_not():
    order = order_place(quantity=1, stock=3)
    Order.objects.filter(pk=order.pk).update(created_at=order.created_at - timedelta(hours=2))
    sent = time.time()

    first = cancel_expired_orders.apply(headers=beat_headers(sent)).get()
    second = cancel_expired_orders.apply(headers=beat_headers(sent + 5)).get()
    by_hand = cancel_expired_orders.apply().get()

    assert (first, second, by_hand) == (1, None, 0)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED


@pytest.mark.django_db
def test_beat_stamps_what_it_sends_with_the_time(tmp_path):
    scheduler = Scheduler(app=app, schedule_filename=str(tmp_path / "schedule"))
    entry = scheduler.schedule["orders-cancel-expired"]
    before = time.time()

    scheduler.apply_async(entry)  # the test settings run it inline, with beat's headers
    kept = scheduler.schedule["orders-cancel-expired"].options
    scheduler.close()

    redis = cache.client.get_client()  # type: ignore[attr-defined]  # django-redis
    claim = redis.get(cache.make_key(f"{CLAIM_PREFIX}{entry.task}")).decode()
    sent_at, task_id = claim.split(" ", 1)
    assert before <= float(sent_at) <= time.time()
    assert task_id  # the id of the run the scheduler sent
    assert SENT_AT_HEADER not in kept.get("headers", {}), "the stamp is per message"


def test_of_simultaneous_beat_messages_exactly_one_runs():
    name = "emails.tasks.emails_sweep"
    barrier = threading.Barrier(8)
    claimed: list[bool] = []
    sent = time.time()

    def claim(n: int) -> None:
        barrier.wait()
        claimed.append(periodic_run_claim(task_name=name, task_id=f"run-{n}", sent_at=sent + n))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(claimed) == [False] * 7 + [True]


def beat_headers(sent_at: float) -> dict[str, object]:
    return {BEAT_HEADER: True, SENT_AT_HEADER: sent_at}
