"""A real Celery worker (a subprocess) consuming from Redis runs the webhook tasks."""

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from orders.models import Order, OrderStatus
from tests.operations.celery_worker import Worker
from tests.orders.factories import order_place
from tests.webhooks.factories import EndpointFactory
from tests.webhooks.receiver import HANG, Receiver
from webhooks.models import Delivery, DeliveryStatus, Event

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def worker(django_db_setup, tmp_path_factory):
    running = Worker(tmp_path_factory.mktemp("celery")).start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _worker_idle_before_flush():
    """Let the worker finish what it is doing: the flush after each test would deadlock with it."""
    yield
    deadline = time.monotonic() + 20
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')"
            )
            if cursor.fetchone()[0] == 0:
                break
            time.sleep(0.1)
    connection.close()


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


def _wait_until(predicate, *, timeout: float, worker: Worker) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; worker log:\n{worker.output()[-4000:]}")
        time.sleep(0.1)


def _all_delivered(count: int):
    def check() -> bool:
        done = Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count()
        connection.close()  # see the worker's commits: no long-lived transaction here
        return done == count

    return check


def test_worker_runs_tasks_sent_through_redis(worker, receiver):
    EndpointFactory(url=receiver.url())
    events = Event.objects.bulk_create(
        [Event(type="order.paid", data={"number": f"SR-{n}"}) for n in range(3)]
    )

    worker.send("webhooks.tasks.events_dispatch", [str(e.pk) for e in events])

    _wait_until(_all_delivered(3), timeout=30, worker=worker)
    assert sorted(receiver.event_ids()) == sorted(str(e.pk) for e in events)
    assert "webhooks.tasks.delivery_attempt" in worker.output()


def test_a_worker_killed_mid_delivery_delivers_every_event_once_per_endpoint(worker, receiver):
    EndpointFactory(url=receiver.url("/a"))
    EndpointFactory(url=receiver.url("/b"))
    events = Event.objects.bulk_create(
        [Event(type="stock.changed", data={"sku": f"S-{n}"}) for n in range(3)]
    )
    receiver.script = [HANG]  # the first POST never gets an answer...

    worker.send("webhooks.tasks.events_dispatch", [str(e.pk) for e in events])
    assert receiver.got_request.wait(30), worker.output()[-4000:]
    (child,) = worker.children()
    os.kill(child, signal.SIGKILL)  # ...because the worker process dies while sending it
    receiver.release.set()

    _wait_until(_all_delivered(6), timeout=60, worker=worker)
    assert Delivery.objects.count() == 6
    ids = {str(e.pk) for e in events}
    for path in ("/a", "/b"):
        assert set(receiver.event_ids(path)) == ids
    first = receiver.received[0]
    again = [r for r in receiver.received[1:] if r.path == first.path and r.body == first.body]
    assert len(again) == 1, "the interrupted delivery was sent again, same id and body"
    assert len(receiver.received) == 7
    assert "WorkerLostError" in worker.output()


def test_worker_runs_the_scheduled_expiry_task(worker):
    order = order_place(quantity=2, stock=5)
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=2))

    worker.send("orders.tasks.cancel_expired_orders")

    def cancelled() -> bool:
        status = Order.objects.get(pk=order.pk).status
        connection.close()
        return status == OrderStatus.CANCELLED

    _wait_until(cancelled, timeout=30, worker=worker)
    variant = order.lines.get().variant
    variant.refresh_from_db()
    assert variant.stock == 5


def test_a_whole_worker_killed_mid_delivery_is_replaced_and_nothing_is_lost(
    receiver, tmp_path, django_db_setup
):
    """The container dies (SIGKILL to every process): another worker finishes the job.

    The message stays unacknowledged in Redis; after the visibility timeout
    the next worker hands it out again (short timeouts here, an hour in
    production), and the delivery's row lock died with the old connection.
    """
    fast_restore = {
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "CELERY_RESTORE_INTERVAL": "1",
        "CELERY_RESTORE_THROTTLE": "1",
    }
    EndpointFactory(url=receiver.url())
    event = Event.objects.create(type="order.paid", data={"number": "SR-1"})
    receiver.script = [HANG]
    first = Worker(tmp_path, env=fast_restore).start()
    second = None
    try:
        first.send("webhooks.tasks.events_dispatch", [str(event.pk)])
        assert receiver.got_request.wait(30), first.output()[-4000:]
        first.kill()
        receiver.release.set()
        second = Worker(tmp_path, queue=first.queue, env=fast_restore).start()

        _wait_until(_all_delivered(1), timeout=60, worker=second)
    finally:
        first.stop()
        if second is not None:
            second.stop()
    assert receiver.event_ids() == [str(event.pk)] * 2
    assert receiver.received[0].body == receiver.received[1].body
    assert Delivery.objects.get().attempt_count == 1


def test_the_compose_health_check_command_pings_the_worker(worker):
    """compose.yaml's worker health check: `celery -A config inspect ping -d <node>`."""
    celery = Path(sys.executable).with_name("celery")
    node = f"{worker.queue}@{socket.gethostname()}"
    command = [str(celery), "-A", "config", "inspect", "ping", "--timeout", "10", "-d", node]
    result = subprocess.run(
        command, env=worker.env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pong" in result.stdout

    other = subprocess.run(
        [*command[:-4], "--timeout", "1", "-d", "celery@no-such-worker"],
        env=worker.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert other.returncode != 0


def test_a_worker_helper_leaves_this_process_running_tasks_inline(tmp_path):
    """The helper's client app must not become Celery's current app: shared tasks
    sent from the test process would then go to a broker queue nobody reads."""
    from celery import current_app

    from config.celery import app

    Worker(tmp_path)
    assert current_app._get_current_object() is app
    assert app.conf.task_always_eager is True
