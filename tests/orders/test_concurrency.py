"""Races with real threads against PostgreSQL: no oversell, no deadlock, no double apply."""

import json
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from rest_framework.test import APIClient

from catalog.models import StockMovement, Variant
from orders.models import Order, OrderEvent, OrderStatus, PaymentEvent
from orders.services import orders_cancel_expired
from tests.accounts.factories import UserFactory
from tests.catalog.factories import VariantFactory
from tests.orders.factories import ADDRESS, order_place
from tests.orders.test_payments import SECRET, signed

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/orders/"


def run_at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in `count` threads released together; each closes its connection."""
    barrier = threading.Barrier(count)

    def call(index: int) -> Any:
        try:
            barrier.wait(timeout=30)
            return work(index)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(call, range(count)))


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def _token(user) -> str:
    from knox.models import AuthToken

    return AuthToken.objects.create(user=user)[1]


def _ledger_matches(variant: Variant) -> None:
    variant.refresh_from_db()
    total = StockMovement.objects.filter(variant=variant).aggregate(s=Sum("delta"))["s"] or 0
    assert variant.stock == total


def test_sixty_buyers_for_twenty_units_make_exactly_twenty_orders():
    variant = VariantFactory(stock=20)
    tokens = [_token(UserFactory()) for _ in range(6)]
    body = {"lines": [{"sku": variant.sku, "quantity": 1}], "shipping_address": ADDRESS}

    def buy(index: int) -> tuple[int, str]:
        response = _client(tokens[index % 6]).post(URL, body, format="json")
        return response.status_code, response.json().get("code", "")

    results = Counter(run_at_once(60, buy))
    assert results == {(201, ""): 20, (409, "insufficient_stock"): 40}
    variant.refresh_from_db()
    assert variant.stock == 0
    _ledger_matches(variant)
    assert Order.objects.count() == 20


def test_two_line_orders_in_opposite_sku_orders_do_not_deadlock():
    a = VariantFactory(stock=100)
    b = VariantFactory(stock=100)
    token = _token(UserFactory())

    def buy(index: int) -> int:
        skus = [a.sku, b.sku] if index % 2 else [b.sku, a.sku]
        body = {
            "lines": [{"sku": sku, "quantity": 1} for sku in skus],
            "shipping_address": ADDRESS,
        }
        return _client(token).post(URL, body, format="json").status_code

    assert Counter(run_at_once(40, buy)) == {201: 40}
    for variant in (a, b):
        variant.refresh_from_db()
        assert variant.stock == 60
        _ledger_matches(variant)


def test_twenty_simultaneous_requests_with_one_key_make_one_order():
    variant = VariantFactory(stock=50)
    token = _token(UserFactory())
    body = {"lines": [{"sku": variant.sku, "quantity": 1}], "shipping_address": ADDRESS}

    def place(index: int) -> tuple[int, str]:
        response = _client(token).post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="same")
        data = response.json()
        return response.status_code, data.get("code") or data["number"]

    results = run_at_once(20, place)
    assert Order.objects.count() == 1
    number = Order.objects.get().number
    assert all(r in {(201, number), (409, "idempotency_in_progress")} for r in results), results
    assert (201, number) in results
    variant.refresh_from_db()
    assert variant.stock == 49


def test_the_same_webhook_event_at_once_applies_once(settings):
    settings.PAYMENT_WEBHOOK_SECRET = SECRET
    order = order_place()
    body = json.dumps(
        {
            "id": "evt_race",
            "type": "payment.succeeded",
            "data": {
                "order_number": order.number,
                "amount": str(order.total),
                "currency": order.currency,
            },
        }
    ).encode()

    def deliver(index: int) -> tuple[int, str]:
        response = APIClient().post(
            "/api/v1/payments/webhook/",
            body,
            content_type="application/json",
            HTTP_PAYMENT_SIGNATURE=signed(body),
        )
        return response.status_code, response.json()["outcome"]

    results = Counter(run_at_once(8, deliver))
    assert results == {(200, "paid"): 1, (200, "duplicate"): 7}
    assert PaymentEvent.objects.count() == 1
    assert OrderEvent.objects.filter(order=order, type="paid").count() == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_expiry_sweeps_running_at_once_cancel_each_order_once():
    variant = VariantFactory(stock=30)
    orders = [order_place(variant=variant, quantity=1) for _ in range(12)]
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    counts = run_at_once(3, lambda i: orders_cancel_expired(batch_size=2))
    assert sum(counts) == 12
    assert OrderEvent.objects.filter(type="cancelled").count() == 12
    variant.refresh_from_db()
    assert variant.stock == 30
    _ledger_matches(variant)


def test_a_payment_racing_the_expiry_sweep_ends_paid_with_stock_taken_once(settings):
    settings.PAYMENT_WEBHOOK_SECRET = SECRET
    variant = VariantFactory(stock=10)
    order = order_place(variant=variant, quantity=3)
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=1))
    body = json.dumps(
        {
            "id": "evt_late",
            "type": "payment.succeeded",
            "data": {
                "order_number": order.number,
                "amount": str(order.total),
                "currency": order.currency,
            },
        }
    ).encode()

    def work(index: int) -> Any:
        if index == 0:
            return orders_cancel_expired()
        return (
            APIClient()
            .post(
                "/api/v1/payments/webhook/",
                body,
                content_type="application/json",
                HTTP_PAYMENT_SIGNATURE=signed(body),
            )
            .status_code
        )

    _swept, status = run_at_once(2, work)
    assert status == 200
    order.refresh_from_db()
    assert (order.status, order.refund_due) == (OrderStatus.PAID, False)
    variant.refresh_from_db()
    assert variant.stock == 7
    _ledger_matches(variant)
    assert OrderEvent.objects.filter(order=order, type="paid").count() == 1
