"""POST orders/ answers the new order from the objects in hand, exactly as GET shows it."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.catalog.factories import VariantFactory
from tests.orders.factories import ADDRESS

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders/"


def test_the_created_order_is_rendered_without_reading_it_back(
    user_client, django_capture_on_commit_callbacks
):
    a = VariantFactory(price=Decimal("19.90"), stock=5)
    b = VariantFactory(price=Decimal("2.50"), stock=10)
    body = {
        "lines": [{"sku": b.sku, "quantity": 1}, {"sku": a.sku, "quantity": 2}],
        "shipping_address": ADDRESS,
    }
    with django_capture_on_commit_callbacks(execute=True), CaptureQueriesContext(connection) as q:
        created = user_client.post(URL, body, format="json")
    assert created.status_code == 201, created.content
    selects = [x["sql"] for x in q.captured_queries if x["sql"].startswith("SELECT")]
    assert not any('FROM "orders_orderline"' in sql for sql in selects), selects
    assert not any(sql.startswith('SELECT "orders_order"') for sql in selects), selects

    shown = user_client.get(f"{URL}{created.json()['number']}/")
    assert shown.status_code == 200
    assert created.json() == shown.json()
    assert [line["sku"] for line in created.json()["lines"]] == [b.sku, a.sku]
