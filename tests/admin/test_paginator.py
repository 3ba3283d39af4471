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
