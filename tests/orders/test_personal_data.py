"""orders' part of me/export/ and of account erasure."""

import pytest

from accounts.personal_data import ERASERS, EXPORTERS
from accounts.services import user_erase
from orders.models import Order
from orders.personal_data import orders_erase, orders_export
from tests.orders.factories import ADDRESS, OrderFactory, order_place

pytestmark = pytest.mark.django_db


def test_hooks_are_registered_from_apps_ready():
    assert EXPORTERS["orders"] is orders_export
    assert orders_erase in ERASERS


def test_export_lists_the_users_orders_with_lines(user_client, user, django_assert_max_num_queries):
    order = order_place(user=user, quantity=2)
    OrderFactory()  # someone else's
    with django_assert_max_num_queries(12):
        data = user_client.get("/api/v1/me/export/").json()
    assert [o["number"] for o in data["orders"]] == [order.number]
    exported = data["orders"][0]
    assert exported["shipping_address"] == ADDRESS
    assert exported["lines"][0]["quantity"] == 2
    assert exported["total"] == str(order.total)


def test_erasure_keeps_orders_but_reduces_the_address(user):
    order = order_place(user=user)
    user_erase(user=user)
    order.refresh_from_db()
    assert Order.objects.filter(user=user).count() == 1
    assert order.shipping_address == {
        "full_name": "",
        "line1": "",
        "line2": "",
        "city": ADDRESS["city"],
        "postal_code": ADDRESS["postal_code"],
        "country": ADDRESS["country"],
        "phone": "",
    }
