"""The order list's date hierarchy: Django's links, from bounded queries (no DISTINCT)."""

from datetime import UTC, datetime

import pytest
from django.contrib import admin
from django.contrib.admin.templatetags.admin_list import date_hierarchy
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.admin_dates import bounded_date_hierarchy, periods_with_rows
from orders.models import Order, OrderStatus
from tests.orders.factories import OrderFactory

pytestmark = pytest.mark.django_db

ORDERS = reverse("admin:orders_order_changelist")
MOMENTS = [
    "2019-06-01T12:00:00",
    "2021-01-01T00:00:00",
    "2021-03-03T08:00:00",
    "2021-03-17T23:59:59",
    "2021-03-17T10:00:00",
    "2021-12-31T23:59:59",
]
LEVELS = [
    {},
    {"created_at__year": "2021"},
    {"created_at__year": "2021", "created_at__month": "3"},
    {"created_at__year": "2021", "created_at__month": "3", "created_at__day": "17"},
    {"created_at__year": "2021", "status__exact": OrderStatus.PAID},
    {"created_at__year": "2020"},
]


@pytest.fixture
def orders(db) -> None:
    for index, moment in enumerate(MOMENTS):
        order = OrderFactory(status=OrderStatus.PAID if index % 2 else OrderStatus.CANCELLED)
        Order.objects.filter(pk=order.pk).update(
            created_at=datetime.fromisoformat(moment).replace(tzinfo=UTC)
        )


def _distinct_over_orders(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"] for q in queries if "DISTINCT" in q["sql"].upper() and "orders_order" in q["sql"]
    ]


@pytest.mark.parametrize("params", LEVELS, ids=lambda p: "&".join(p.values()) or "all")
def test_order_list_hierarchy_reads_no_distinct_and_matches_djangos(
    admin_client_super, orders, params
):
    with CaptureQueriesContext(connection) as page_queries:
        response = admin_client_super.get(ORDERS, params)
    cl = response.context["cl"]
    with CaptureQueriesContext(connection) as hierarchy_queries:
        bounded = bounded_date_hierarchy(cl)

    assert response.status_code == 200
    assert _distinct_over_orders(page_queries) == []
    assert len(hierarchy_queries) <= 3  # first/last, then one probe of every period
    assert bounded == date_hierarchy(cl)  # Django's own tag, with its DISTINCT, as the oracle
    for choice in bounded["choices"]:
        if "link" in choice:
            assert choice["link"].replace("&", "&amp;") in response.content.decode()


def test_a_search_shows_no_date_links_and_reads_no_dates(admin_client_super, orders):
    number = Order.objects.order_by("pk").values_list("number", flat=True)[0]
    response = admin_client_super.get(ORDERS, {"q": number, "created_at__year": "2019"})
    cl = response.context["cl"]
    assert response.status_code == 200
    assert [o.number for o in cl.result_list] == [number]  # the chosen year still filters
    with CaptureQueriesContext(connection) as hierarchy_queries:
        assert bounded_date_hierarchy(cl) == {}
    assert len(hierarchy_queries) == 0
    assert 'class="toplinks"' not in response.content.decode()


def test_years_and_days_listed_are_those_with_orders(admin_client_super, orders):
    top = admin_client_super.get(ORDERS).context["cl"]
    march = admin_client_super.get(
        ORDERS, {"created_at__year": "2021", "created_at__month": "3"}
    ).context["cl"]

    assert [c["title"] for c in bounded_date_hierarchy(top)["choices"]] == ["2019", "2021"]
    assert [c["title"] for c in bounded_date_hierarchy(march)["choices"]] == [
        "March 3",
        "March 17",
    ]


def test_hierarchy_queries_do_not_grow_with_orders(admin_client_super, orders):
    def count() -> int:
        cl = admin_client_super.get(ORDERS, {"created_at__year": "2021"}).context["cl"]
        with CaptureQueriesContext(connection) as queries:
            bounded_date_hierarchy(cl)
        return len(queries)

    few = count()
    for day in range(1, 29):
        order = OrderFactory()
        Order.objects.filter(pk=order.pk).update(created_at=datetime(2021, 5, day, tzinfo=UTC))

    assert count() == few


@pytest.mark.parametrize("kind", ["year", "month", "day"])
@pytest.mark.parametrize(
    "status", [None, OrderStatus.PAID, OrderStatus.SHIPPED], ids=["all", "paid", "none"]
)
def test_periods_with_rows_equal_djangos_datetimes(orders, kind, status):
    queryset = Order.objects.all() if status is None else Order.objects.filter(status=status)
    queryset = queryset.filter(created_at__year=2021) if kind == "day" else queryset

    with CaptureQueriesContext(connection) as queries:
        found = periods_with_rows(queryset.order_by("-created_at"), "created_at", kind)

    assert found == list(queryset.datetimes("created_at", kind))
    assert len(queries) <= 2
    for query in queries:  # every period probe stops at its first row
        assert query["sql"].count("SELECT") in (1, query["sql"].count("LIMIT 1"))


def test_one_period_is_probed_without_a_union(orders):
    one_day = Order.objects.filter(created_at__date="2021-03-03")
    assert periods_with_rows(one_day, "created_at", "day") == [datetime(2021, 3, 3, tzinfo=UTC)]


def test_no_change_list_with_a_date_hierarchy_reads_a_distinct(admin_client_super):
    hierarchies = [m for m, a in admin.site._registry.items() if a.date_hierarchy]
    assert hierarchies
    for model in hierarchies:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        with CaptureQueriesContext(connection) as queries:
            assert admin_client_super.get(url).status_code == 200
        table = model._meta.db_table
        assert not [q for q in queries if "DISTINCT" in q["sql"] and table in q["sql"]], model
