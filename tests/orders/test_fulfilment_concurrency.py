"""Fulfilment races with real threads against PostgreSQL: never over-refund, never over-ship."""

from collections import Counter
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from orders.models import Order, OrderLine, OrderStatus, Refund
from orders.services import order_place, order_transition
from tests.accounts.factories import StaffFactory, UserFactory
from tests.catalog.factories import VariantFactory
from tests.orders.factories import ADDRESS
from tests.orders.test_concurrency import _client, _token, run_at_once

pytestmark = pytest.mark.django_db(transaction=True)


def _staff_tokens(count: int) -> list[str]:
    tokens = []
    for _ in range(count):
        staff = StaffFactory()
        staff.user_permissions.set(
            Permission.objects.filter(
                content_type__app_label="orders", codename__in=["view_order", "transition_order"]
            )
        )
        tokens.append(_token(staff))
    return tokens


def _paid_order(quantity: int) -> Order:
    variant = VariantFactory(price=Decimal("5.00"), stock=quantity)
    order = order_place(
        user=UserFactory(),
        lines=[{"sku": variant.sku, "quantity": quantity}],
        shipping_address=ADDRESS,
    )
    return order_transition(order=order, action="mark-paid", user=None)


def test_two_staff_refunding_at_once_never_exceed_what_was_paid():
    order = _paid_order(quantity=4)  # 20.00 + 4.90 shipping
    tokens = _staff_tokens(2)
    url = f"/api/v1/orders/{order.number}/refunds/"

    def refund(index: int) -> tuple[int, str]:
        response = _client(tokens[index]).post(url, {"amount": "15.00"}, format="json")
        return response.status_code, response.json().get("code", "")

    results = Counter(run_at_once(2, refund))
    assert results == {(201, ""): 1, (409, "over_refund"): 1}
    order.refresh_from_db()
    assert order.refunded_total == Decimal("15.00") <= order.paid_total
    assert sum(r.amount for r in Refund.objects.filter(order=order)) == Decimal("15.00")


def test_two_staff_refunding_everything_at_once_refund_it_once():
    order = _paid_order(quantity=2)
    tokens = _staff_tokens(2)

    def refund(index: int) -> int:
        url = f"/api/v1/orders/{order.number}/refund/"
        return _client(tokens[index]).post(url, {"reason": "r"}, format="json").status_code

    assert sorted(run_at_once(2, refund)) == [200, 409]
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (OrderStatus.REFUNDED, order.paid_total)
    assert Refund.objects.filter(order=order).count() == 1


def test_two_shipments_of_the_last_units_at_once_never_over_ship():
    order = _paid_order(quantity=3)
    sku = order.lines.get().sku
    tokens = _staff_tokens(2)
    url = f"/api/v1/orders/{order.number}/shipments/"

    def ship(index: int) -> tuple[int, str]:
        body = {"lines": [{"sku": sku, "quantity": 2}], "tracking_number": f"T{index}"}
        response = _client(tokens[index]).post(url, body, format="json")
        return response.status_code, response.json().get("code", "")

    results = Counter(run_at_once(2, ship))
    assert results == {(201, ""): 1, (409, "over_fulfilment"): 1}
    line = OrderLine.objects.get(order=order)
    assert line.quantity_shipped == 2
    assert order.shipments.count() == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_SHIPPED
