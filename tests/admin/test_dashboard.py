"""The admin index is a dashboard: right figures, bounded queries, cached, role-aware."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from catalog.models import Variant
from orders import dashboard
from orders.dashboard import chart_geometry
from orders.models import Order, OrderStatus
from tests.catalog.factories import VariantFactory
from tests.orders.factories import OrderFactory

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")


def _order(*, days_ago: int = 0, status: str = OrderStatus.PENDING_PAYMENT, total: str = "10.00"):
    order = OrderFactory(status=status, total=Decimal(total))
    created = timezone.now() - timedelta(days=days_ago)
    Order.objects.filter(pk=order.pk).update(created_at=created)
    order.created_at = created
    return order


def _index_queries(client) -> int:
    from django.db import connection

    with CaptureQueriesContext(connection) as queries:
        response = client.get(INDEX)
    assert response.status_code == 200
    return len(queries)


def test_index_is_the_branded_dashboard(admin_client_super):
    response = admin_client_super.get(INDEX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>Dashboard | Stockroom back office</title>" in html
    assert "Stockroom back office" in html
    assert 'id="dashboard"' in html
    # The chart is drawn on the server: no script, no external resource.
    assert "<svg" in html and 'id="orders-chart"' in html
    assert "cdn" not in html.lower()
    assert '<script src="http' not in html


def test_figures(admin_client_super, settings):
    settings.LOW_STOCK_THRESHOLD = 3
    _order(days_ago=0, status=OrderStatus.PAID, total="20.00")
    _order(days_ago=0, status=OrderStatus.PENDING_PAYMENT, total="99.00")  # not revenue yet
    _order(days_ago=3, status=OrderStatus.SHIPPED, total="30.00")
    _order(days_ago=6, status=OrderStatus.DELIVERED, total="5.50")
    _order(days_ago=6, status=OrderStatus.CANCELLED, total="77.00")  # counted, no revenue
    _order(days_ago=7, status=OrderStatus.PAID, total="1000.00")  # outside the 7 days
    _order(days_ago=40, status=OrderStatus.PAID, total="1000.00")  # outside the chart
    low = VariantFactory(stock=2)
    VariantFactory(stock=3)
    VariantFactory(stock=4)  # above the threshold
    empty = VariantFactory()

    response = admin_client_super.get(INDEX)

    figures = response.context["dashboard"]["orders"]
    assert figures["orders_today"] == 2
    assert figures["orders_7d"] == 5
    assert figures["revenue_7d"] == Decimal("55.50")
    assert figures["awaiting_shipment"] == 3  # every paid order, whatever its age
    assert len(figures["series"]) == 30
    assert figures["series"][-1].day == timezone.localdate()
    assert figures["series"][-1].orders == 2
    assert figures["series"][-1].revenue == Decimal("20.00")
    assert figures["series"][-8].orders == 1  # seven days ago
    assert sum(day.orders for day in figures["series"]) == 6
    stock = response.context["dashboard"]["low_stock"]
    assert stock["count"] == 3
    assert [v["sku"] for v in stock["variants"]][:2] == [empty.sku, low.sku]
    html = response.content.decode()
    assert "55.50 EUR" in html
    assert low.sku in html


def test_latest_ten_orders_link_to_their_pages(admin_client_super):
    orders = [_order(days_ago=20 - i) for i in range(12)]

    response = admin_client_super.get(INDEX)

    latest = response.context["dashboard"]["orders"]["latest"]
    assert [row["number"] for row in latest] == [o.number for o in reversed(orders)][:10]
    html = response.content.decode()
    newest = orders[-1]
    assert f'href="{reverse("admin:orders_order_change", args=[newest.pk])}"' in html
    assert orders[0].number not in html


def test_queries_are_bounded_whatever_the_data(admin_client_super):
    for days_ago in range(3):
        _order(days_ago=days_ago, status=OrderStatus.PAID)
    VariantFactory(stock=1)
    few = _index_queries(admin_client_super)

    dashboard_cache_clear()
    for days_ago in range(30):
        _order(days_ago=days_ago, status=OrderStatus.PAID)
        _order(days_ago=days_ago, status=OrderStatus.SHIPPED)
    for _ in range(15):
        VariantFactory(stock=1)
    many = _index_queries(admin_client_super)

    assert many == few


def test_figures_are_cached_briefly(admin_client_super):
    _order(status=OrderStatus.PAID)
    first = _index_queries(admin_client_super)
    _order(status=OrderStatus.PAID)

    cached = _index_queries(admin_client_super)
    response = admin_client_super.get(INDEX)

    # orders: series, paid count, latest; low stock: list and count.
    assert first - cached == 5
    assert response.context["dashboard"]["orders"]["orders_today"] == 1
    dashboard_cache_clear()
    response = admin_client_super.get(INDEX)
    assert response.context["dashboard"]["orders"]["orders_today"] == 2


def dashboard_cache_clear() -> None:
    from django.core.cache import cache

    cache.delete_many(["admin-dashboard:orders", "admin-dashboard:low-stock"])


def test_low_stock_count_is_capped(settings, monkeypatch):
    monkeypatch.setattr(dashboard, "LOW_STOCK_COUNT_CAP", 4)
    settings.LOW_STOCK_THRESHOLD = 0
    product = VariantFactory().product
    Variant.objects.bulk_create(
        Variant(product=product, sku=f"CAP-{i}", price=Decimal("1.00")) for i in range(6)
    )
    summary = dashboard.low_stock_summary()
    assert summary["count"] == 4
    assert len(summary["variants"]) == 7  # the count is capped, the list is not cut by it


@pytest.mark.parametrize(
    ("role", "sees_orders", "sees_stock"),
    [
        ("Catalog manager", False, True),
        ("Order manager", True, True),
        ("Support", True, False),
        ("Analyst", True, True),
    ],
)
def test_each_role_sees_its_sections(role_client, role, sees_orders, sees_stock):
    _order(status=OrderStatus.PAID)
    VariantFactory(stock=1)

    response = role_client(role).get(INDEX)

    assert response.status_code == 200
    assert ("orders" in response.context["dashboard"]) is sees_orders
    assert ("low_stock" in response.context["dashboard"]) is sees_stock
    html = response.content.decode()
    assert ('id="orders-chart"' in html) is sees_orders
    assert ('id="low-stock"' in html) is sees_stock


def test_chart_scales_bars_to_orders_and_the_line_to_revenue():
    today = timezone.localdate()
    series = [
        dashboard.DayFigures(day=today - timedelta(days=2), orders=0, revenue=Decimal("0.00")),
        dashboard.DayFigures(day=today - timedelta(days=1), orders=2, revenue=Decimal("50.00")),
        dashboard.DayFigures(day=today, orders=4, revenue=Decimal("100.00")),
    ]

    chart = chart_geometry(series)

    heights = [bar["height"] for bar in chart["bars"]]
    assert heights[0] == 0 and heights[2] == chart["bottom"] - chart["top"]
    assert heights[1] == pytest.approx(heights[2] / 2, abs=0.1)
    ys = [float(point.split(",")[1]) for point in chart["revenue_points"].split()]
    assert ys == [
        chart["bottom"],
        pytest.approx((chart["bottom"] + chart["top"]) / 2, abs=0.1),
        chart["top"],
    ]
    assert (chart["max_orders"], chart["max_revenue"]) == (4, Decimal("100.00"))


def test_chart_of_a_quiet_month_draws_no_bars():
    series = dashboard.orders_per_day()
    chart = chart_geometry(series)
    assert len(chart["bars"]) == 30
    assert {bar["height"] for bar in chart["bars"]} == {0}
    assert (chart["max_orders"], chart["max_revenue"]) == (0, 0)


SEEN_BY: list[Any] = []


def quiet_dashboard(*, user):
    """A dashboard with nothing to show, for the setting below."""
    SEEN_BY.append(user)
    return {}


def test_the_index_shows_the_dashboard_the_setting_names(admin_client_super, settings):
    OrderFactory()
    settings.ADMIN_DASHBOARD = "tests.admin.test_dashboard.quiet_dashboard"
    SEEN_BY.clear()

    response = admin_client_super.get(INDEX)

    assert response.status_code == 200
    assert [user.pk for user in SEEN_BY] == [response.wsgi_request.user.pk]
    assert 'id="orders-chart"' not in response.content.decode()
