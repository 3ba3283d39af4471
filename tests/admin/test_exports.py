"""CSV exports from the back office are streamed, in a bounded number of queries."""

import csv
import io

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.catalog.factories import VariantFactory
from tests.orders.factories import order_place

pytestmark = pytest.mark.django_db

ORDERS = reverse("admin:orders_order_changelist")


def _export(client, orders) -> tuple[StreamingHttpResponse, list[dict[str, str]], int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            ORDERS, {"action": "export_csv", "_selected_action": [o.pk for o in orders]}
        )
        assert isinstance(response, StreamingHttpResponse)
        body = b"".join(response.streaming_content).decode()  # type: ignore[arg-type]
    return response, list(csv.DictReader(io.StringIO(body))), len(queries)


def test_orders_export_streams_a_row_per_line(role_client):
    analyst = role_client("Analyst")  # reading is enough to export
    variant = VariantFactory(price="12.50", stock=20, product__name="=HYPERLINK(1)")
    first = order_place(variant=variant, quantity=2)
    second = order_place(variant=variant, quantity=1)
    order_place(variant=variant)  # not selected

    response, rows, _ = _export(analyst, [first, second])

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="orders.csv"'
    assert [(r["order_number"], r["quantity"], r["line_total"]) for r in rows] == [
        (first.number, "2", "25.00"),
        (second.number, "1", "12.50"),
    ]
    assert rows[0]["customer_email"] == first.user.email
    assert rows[0]["product_name"] == "'=HYPERLINK(1)"  # not run by a spreadsheet


def test_orders_export_queries_do_not_grow_with_orders(role_client):
    manager = role_client("Order manager")
    variant = VariantFactory(stock=100)
    few = [order_place(variant=variant) for _ in range(2)]
    _, rows, few_queries = _export(manager, few)
    many = few + [order_place(variant=variant) for _ in range(10)]

    _, rows, many_queries = _export(manager, many)

    assert len(rows) == 12
    assert many_queries == few_queries
