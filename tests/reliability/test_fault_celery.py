"""Celery worker killed during webhook delivery: every event still arrives, under its one id.

A real `celery worker` (tests/operations/celery_worker.py, a queue of its own)
delivers events to two endpoints of a real HTTP receiver that answers slowly,
so the worker is mostly in the middle of a POST. The test SIGKILLs a pool
pool twice (the tasks are rejected and redelivered: acks_late with
reject_on_worker_lost) and then the whole worker, main process and pool,
as a container kill would: the messages it had taken stay unacknowledged, so
a new worker and the periodic sweep (what beat runs every 30 s) must finish
the job. In the end every event reached each endpoint, each under its own
id only (a redelivery repeats the same bytes), and every delivery is
recorded as succeeded.
"""

import contextlib
import os
import signal
import time
from collections import defaultdict
from pathlib import Path

import pytest
from django.db import connection

from tests.operations.celery_worker import Worker
from tests.webhooks.factories import EndpointFactory
from tests.webhooks.receiver import Receiver
from webhooks.models import Delivery, DeliveryStatus, Event

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EVENTS = 16
PATHS = ("/a", "/b")


def _received_at_least(receiver: Receiver, count: int, *, timeout: float, worker: Worker) -> None:
    deadline = time.monotonic() + timeout
    while len(receiver.received) < count:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"receiver got {len(receiver.received)}:\n{worker.output()[-3000:]}"
            )
        time.sleep(0.05)


def _kill_whole_worker(worker: Worker) -> None:
    """SIGKILL the main process and its pool, like `docker kill` (nothing acknowledged)."""
    assert worker.process is not None
    pool = worker.children()
    worker.process.kill()
    worker.process.wait()
    for pid in pool:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.log.close()


def _succeeded() -> int:
    done = Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count()
    connection.close()  # see the worker's commits
    return done


def test_killed_celery_workers_lose_no_event_and_never_change_an_id(tmp_path: Path) -> None:
    with Receiver() as receiver:
        for path in PATHS:
            EndpointFactory(url=receiver.url(path), event_types=["*"])
        events = Event.objects.bulk_create(
            [
                Event(type="stock.changed", data={"sku": f"KILL-{n}", "stock": n, "delta": -1})
                for n in range(EVENTS)
            ]
        )
        ids = {str(e.pk) for e in events}
        receiver.delay = 0.15
        first = Worker(tmp_path, concurrency=2).start()
        replacement: Worker | None = None
        try:
            first.send("webhooks.tasks.events_dispatch", sorted(ids))
            for count in (4, 10):
                _received_at_least(receiver, count, timeout=60, worker=first)
                for pid in first.children():  # the whole pool: the busy one among them
                    os.kill(pid, signal.SIGKILL)
            _received_at_least(receiver, 16, timeout=60, worker=first)
            _kill_whole_worker(first)

            replacement = Worker(tmp_path, concurrency=2)
            replacement.queue, replacement.log_path = first.queue, first.log_path
            replacement.start()
            deadline = time.monotonic() + 90
            while _succeeded() < EVENTS * len(PATHS):
                assert time.monotonic() < deadline, replacement.output()[-4000:]
                replacement.send("webhooks.tasks.webhooks_sweep")  # what beat does
                time.sleep(1.5)
        finally:
            (replacement or first).stop()

    assert "WorkerLostError" in first.output()
    by_path: dict[str, dict[str, set[bytes]]] = {path: defaultdict(set) for path in PATHS}
    for received in receiver.received:
        by_path[received.path][received.json["id"]].add(received.body)
    for path in PATHS:
        assert set(by_path[path]) == ids, f"events missing or unknown at {path}"
        assert all(len(bodies) == 1 for bodies in by_path[path].values()), "an id changed body"
        ids_per_sku: dict[str, set[str]] = defaultdict(set)
        for event_id in by_path[path]:
            ids_per_sku[Event.objects.get(pk=event_id).data["sku"]].add(event_id)
        assert all(len(v) == 1 for v in ids_per_sku.values()), "one event sent under two ids"
    assert Delivery.objects.count() == EVENTS * len(PATHS)
    resent = len(receiver.received) - EVENTS * len(PATHS)
    assert resent >= 1, "no delivery was interrupted: the faults missed"
