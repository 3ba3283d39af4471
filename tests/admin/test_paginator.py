"""Unfiltered big change lists take PostgreSQL's row estimate instead of counting the table."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Category
from core import admin_paginator
from core.admin_paginator import EstimatedCountPaginator
from orders.models import Order
from tests.admin.test_indexes import BIG_TABLES
from tests.orders.factories import OrderFactory

pytestmark = pytest.mark.django_db


def _analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_order")


def test_small_tables_are_counted_exactly():
    OrderFactory.create_batch(3)
    _analyze()
    assert EstimatedCountPaginator(Order.objects.all(), 50).count == 3


def test_a_big_unfiltered_table_is_estimated_without_counting(monkeypatch):
    monkeypatch.setattr(admin_paginator, "ESTIMATE_FROM", 5)
    OrderFactory.create_batch(12)
    _analyze()

    with CaptureQueriesContext(connection) as queries:
        count = EstimatedCountPaginator(Order.objects.order_by("-created_at"), 50).count

    assert count == 12  # ANALYZE saw every row of so small a table
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


def test_a_filtered_list_is_counted_exactly(monkeypatch):
    monkeypatch.setattr(admin_paginator, "ESTIMATE_FROM", 5)
    OrderFactory.create_batch(10)
    OrderFactory.create_batch(2, status="paid")
    _analyze()

    assert EstimatedCountPaginator(Order.objects.filter(status="paid"), 50).count == 2


# Categories number in the hundreds: counted exactly.
@pytest.mark.parametrize(
    "model", [m for m in BIG_TABLES if m is not Category], ids=lambda m: m.__name__
)
def test_big_list_pages_use_it(model):
    assert admin.site._registry[model].paginator is EstimatedCountPaginator


def test_a_deep_page_reads_its_ids_first_and_holds_the_same_rows(monkeypatch):
    from django.core.paginator import Paginator

    monkeypatch.setattr(admin_paginator, "IDS_FIRST_FROM", 4)
    for _ in range(7):
        OrderFactory()
    ordered = Order.objects.select_related("user").order_by("-created_at", "-id")
    for number in (1, 2, 3, 4):
        with CaptureQueriesContext(connection) as queries:
            page = EstimatedCountPaginator(ordered, 2).page(number)
            got = [order.pk for order in page.object_list]
            emails = [order.user.email for order in page.object_list]  # loaded with the rows
        expected = Paginator(ordered, 2).page(number)
        assert got == [order.pk for order in expected.object_list]
        assert emails == [order.user.email for order in expected.object_list]
        assert (page.has_next(), page.has_previous()) == (
            expected.has_next(),
            expected.has_previous(),
        )
        selects = [q["sql"] for q in queries if q["sql"].startswith('SELECT "orders_order"')]
        if number >= 3:  # OFFSET 4 and beyond: the ids, then those rows
            assert selects[0].startswith('SELECT "orders_order"."id" AS "pk" FROM "orders_order" ')
            assert "OFFSET" in selects[0] and "OFFSET" not in selects[1]
        else:
            assert len(selects) == 1
