"""Worker killed: gunicorn workers SIGKILLed mid-load while clients retry with one key.

Each client places orders one Idempotency-Key at a time and, like a careful
client, retries the same request (same key, same body) after a dropped
connection, a 5xx or 409 `idempotency_in_progress`, until it gets its 201.
Meanwhile the test SIGKILLs gunicorn workers (the master starts new ones), so
some requests die before their order commits, some after, and some after the
commit but before the response was stored. Whatever the moment: exactly one
order per key, the same order number in every 201 for that key, each key
settled without waiting for a stale reservation to time out (no key left reserved), stock
equals ledger. A payment-provider thread meanwhile pays the placed orders
through the signed webhook, resending an event until it gets its 200: each
payment is applied exactly once.
"""

import hashlib
import hmac
import json
import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count

from core.models import IdempotencyKey
from orders.models import Order, OrderEvent, PaymentEvent
from tests.reliability.live import Gunicorn, Load, call
from tests.reliability.shop import (
    Shop,
    assert_every_order_has_lines,
    assert_stock_conserved,
    assert_stock_equals_ledger,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

KILLS = 6
CLIENTS = 6
KEY_DEADLINE = 20.0  # seconds a client keeps retrying one key


@dataclass
class KeyResult:
    key: str
    attempts: int = 0
    statuses: list[int | None] = field(default_factory=list)
    numbers: set[str] = field(default_factory=set)
    seconds: float = 0.0

    def __repr__(self) -> str:
        return f"{self.key}: {dict(Counter(self.statuses))} in {self.seconds:.1f} s"

    @property
    def settled(self) -> bool:
        return bool(self.statuses) and self.statuses[-1] == 201


def test_killed_workers_never_double_an_idempotent_order(shop: Shop, log_dir: Path) -> None:
    server = Gunicorn(log_dir=log_dir, workers=3, threads=2).start()
    results: list[KeyResult] = []
    lock = threading.Lock()

    def place_with_retries(token: str, key: str) -> int:
        result = KeyResult(key)
        body = shop.order_body(note=key)
        started = time.monotonic()
        while time.monotonic() - started < KEY_DEADLINE:
            result.attempts += 1
            try:
                reply = call(
                    server,
                    "POST",
                    "/api/v1/orders/",
                    token=token,
                    body=body,
                    headers={"Idempotency-Key": key},
                    timeout=15,
                )
            except OSError:
                result.statuses.append(None)
                time.sleep(0.2)
                continue
            result.statuses.append(reply.status)
            if reply.status == 201:
                result.numbers.add(reply.json()["number"])
                break
            retryable = reply.status >= 500 or (
                reply.status == 409 and reply.json().get("code") == "idempotency_in_progress"
            )
            if not retryable:
                break
            time.sleep(0.2)
        result.seconds = time.monotonic() - started
        with lock:
            results.append(result)
        return result.statuses[-1] or 0

    secret = server.env["PAYMENT_WEBHOOK_SECRET"]
    paid: list[str] = []

    def pay_next_with_retries(n: int) -> int:
        """The payment provider: pays placed orders in turn, resending an event until 200."""
        with lock:
            numbers = [number for r in results for number in r.numbers]
        if len(numbers) <= len(paid):
            time.sleep(0.1)
            return 0
        number = numbers[len(paid)]
        total = str(Order.objects.only("total").get(number=number).total)
        connection.close()
        body = json.dumps(
            {
                "id": f"evt_{number}",
                "type": "payment.succeeded",
                "data": {"order_number": number, "amount": total, "currency": "EUR"},
            }
        ).encode()
        started = time.monotonic()
        while time.monotonic() - started < KEY_DEADLINE:
            t = int(time.time())
            mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256)
            headers = {"Payment-Signature": f"t={t},v1={mac.hexdigest()}"}
            try:
                reply = call(
                    server, "POST", "/api/v1/payments/webhook/", body=body, headers=headers
                )
            except OSError:
                reply = None
            if reply is not None and reply.status == 200:
                paid.append(number)
                return 200
            time.sleep(0.2)
        raise AssertionError(f"the payment of {number} never got its 200")

    def client(index: int):
        _user, token = shop.customers[index % len(shop.customers)]
        return lambda n: place_with_retries(token, f"kill-{index}-{n}-{uuid.uuid4().hex[:8]}")

    killed: list[int] = []
    try:
        clients = [("order", client(i)) for i in range(CLIENTS)]
        with Load([*clients, ("pay", pay_next_with_retries)]) as load:
            for _ in range(KILLS):
                load.wait_for(4, kind="order")
                time.sleep(random.uniform(0, 0.2))  # land anywhere inside a request
                while not (workers := server.worker_pids()):
                    time.sleep(0.05)  # the master is still replacing the last one
                victim = random.choice(workers)
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
            load.wait_for(CLIENTS, kind="order", timeout=KEY_DEADLINE * 3)
        # The provider pays what is left once the clients have stopped.
        while len(paid) < sum(len(r.numbers) for r in results):
            pay_next_with_retries(0)
    finally:
        server.stop()

    assert len(killed) == KILLS
    keys = [r.key for r in results]
    per_key = dict(
        Order.objects.filter(note__in=keys)
        .values("note")
        .annotate(n=Count("pk"))
        .values_list("note", "n")
    )
    doubled = {key: n for key, n in per_key.items() if n > 1}
    assert doubled == {}, "a retried key placed more than one order"
    unsettled = [r for r in results if not r.settled]
    assert unsettled == [], f"keys never answered 201 (retrying {KEY_DEADLINE} s): {unsettled[:3]}"
    assert all(per_key.get(r.key) == 1 for r in results), "a 201 key has no order"
    for result in results:
        assert len(result.numbers) == 1, f"{result.key} answered two order numbers"
        assert Order.objects.get(note=result.key).number in result.numbers
    # Settled at once, not after a stale reservation expired: a killed request
    # leaves no key row behind without its stored response (its lock died with it).
    stale = IdempotencyKey.objects.filter(key__in=keys, status_code__isnull=True)
    assert list(stale.values_list("key", flat=True)) == [], "a key was left reserved"
    assert any(r.attempts > 1 for r in results), "no request was interrupted: no test"
    placed = {number for r in results for number in r.numbers}
    assert set(paid) == placed, "a placed order was never paid"
    for number in paid:  # each payment applied once, however often it was resent
        assert PaymentEvent.objects.filter(event_id=f"evt_{number}").count() == 1
        assert OrderEvent.objects.filter(order__number=number, type="paid").count() == 1
        assert Order.objects.get(number=number).status == "paid"
    assert_every_order_has_lines()
    assert_stock_equals_ledger()
    assert_stock_conserved(shop)
