"""Reads for the back-office dashboard (the admin index).

Every figure comes from a bounded number of queries, whatever the size of the
shop: one grouped query (TruncDate) for the 30-day series, from which today's
and the last 7 days' figures are also taken, one count served by
`order_status_created_idx`, one for the latest orders, and two for low stock
(`variant_stock_idx`). Each section is cached for DASHBOARD_CACHE_SECONDS:
staff see figures at most that old, and a busy index page costs no query.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from catalog.models import Variant
from orders.models import Order, OrderStatus

DASHBOARD_CACHE_SECONDS = 60
CHART_DAYS = 30
LATEST_ORDERS = 10
LOW_STOCK_SHOWN = 10
# Counting low-stock variants stops here: the exact number past it does not
# change what staff do, and the count stays cheap on a large catalog.
LOW_STOCK_COUNT_CAP = 1000
# Money received and kept: a cancelled or refunded order is not revenue.
REVENUE_STATUSES = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED)
_CACHE_PREFIX = "admin-dashboard"

CHART_WIDTH = 720
CHART_HEIGHT = 220
CHART_PAD_LEFT = 40
CHART_PAD_RIGHT = 60
CHART_PAD_TOP = 12
CHART_PAD_BOTTOM = 26


def chart_geometry(series: Sequence[Any]) -> dict[str, Any]:
    """Coordinates for the server-side SVG chart of `series` (DayFigures, oldest first):
    a bar per day for the orders (left axis) and a line for revenue (right axis)."""
    plot_w = CHART_WIDTH - CHART_PAD_LEFT - CHART_PAD_RIGHT
    plot_h = CHART_HEIGHT - CHART_PAD_TOP - CHART_PAD_BOTTOM
    bottom = CHART_PAD_TOP + plot_h
    slot = plot_w / max(len(series), 1)
    max_orders = max((day.orders for day in series), default=0) or 1
    max_revenue = max((day.revenue for day in series), default=Decimal(0)) or Decimal(1)
    bars, points, labels = [], [], []
    for index, day in enumerate(series):
        x = CHART_PAD_LEFT + index * slot
        height = plot_h * day.orders / max_orders
        bars.append(
            {
                "x": round(x + slot * 0.15, 1),
                "y": round(bottom - height, 1),
                "width": round(slot * 0.7, 1),
                "height": round(height, 1),
                "day": day.day,
                "orders": day.orders,
                "revenue": day.revenue,
            }
        )
        y = bottom - float(Decimal(plot_h) * day.revenue / max_revenue)
        points.append(f"{x + slot / 2:.1f},{y:.1f}")
        if index % 5 == 0 or index == len(series) - 1:
            labels.append({"x": round(x + slot / 2, 1), "text": day.day.strftime("%b %d")})
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": CHART_PAD_LEFT,
        "right": CHART_WIDTH - CHART_PAD_RIGHT,
        "top": CHART_PAD_TOP,
        "bottom": bottom,
        "label_y": bottom + 16,
        "bars": bars,
        "revenue_points": " ".join(points),
        "labels": labels,
        "max_orders": max_orders if any(day.orders for day in series) else 0,
        "max_revenue": max_revenue if any(day.revenue for day in series) else Decimal(0),
    }


@dataclass(frozen=True)
class DayFigures:
    day: date
    orders: int
    revenue: Decimal


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def orders_per_day(*, days: int = CHART_DAYS, today: date | None = None) -> list[DayFigures]:
    """Orders placed and revenue per day for the `days` days ending today, oldest first.

    One query; days without orders are filled in with zeros. Days are those of
    the current time zone (UTC by default).
    """
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    rows = (
        Order.objects.filter(created_at__gte=_day_start(first))
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            orders=Count("id"),
            revenue=Sum("total", filter=Q(status__in=REVENUE_STATUSES)),
        )
        .order_by("day")
    )
    found = {row["day"]: row for row in rows}
    series = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        row = found.get(day)
        series.append(
            DayFigures(
                day=day,
                orders=row["orders"] if row else 0,
                revenue=(row["revenue"] or Decimal("0.00")) if row else Decimal("0.00"),
            )
        )
    return series


def orders_summary() -> dict[str, Any]:
    """The order figures of the dashboard (three queries)."""
    series = orders_per_day()
    week = series[-7:]
    latest = (
        Order.objects.select_related("user")
        .order_by("-created_at", "-id")
        .only("pk", "number", "status", "total", "currency", "created_at", "user__email")[
            :LATEST_ORDERS
        ]
    )
    return {
        "currency": settings.STORE_CURRENCY,
        "series": series,
        "orders_today": series[-1].orders,
        "orders_7d": sum(day.orders for day in week),
        "revenue_7d": sum((day.revenue for day in week), Decimal("0.00")),
        "awaiting_shipment": Order.objects.filter(status=OrderStatus.PAID).count(),
        "latest": [
            {
                "pk": order.pk,
                "number": order.number,
                "customer": order.user.email,
                "status": order.get_status_display(),
                "total": order.total,
                "currency": order.currency,
                "created_at": order.created_at,
            }
            for order in latest
        ],
    }


def low_stock_summary() -> dict[str, Any]:
    """Variants at or below LOW_STOCK_THRESHOLD, lowest first (two queries)."""
    threshold = settings.LOW_STOCK_THRESHOLD
    low = Variant.objects.filter(stock__lte=threshold)
    shown = low.select_related("product").order_by("stock", "id")[:LOW_STOCK_SHOWN]
    return {
        "threshold": threshold,
        "count": low.order_by()[:LOW_STOCK_COUNT_CAP].count(),
        "count_cap": LOW_STOCK_COUNT_CAP,
        "variants": [
            {"pk": v.pk, "sku": v.sku, "product": v.product.name, "stock": v.stock} for v in shown
        ],
    }


def _cached(section: str, compute: Any) -> Any:
    key = f"{_CACHE_PREFIX}:{section}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, DASHBOARD_CACHE_SECONDS)
    return value


def dashboard_for(*, user: Any) -> dict[str, Any]:
    """The dashboard sections `user` may see: orders (and their chart) with
    `orders.view_order`, low stock with `catalog.view_variant`. Cached per
    section, not per user. The admin index calls it (settings.ADMIN_DASHBOARD)."""
    dashboard: dict[str, Any] = {}
    if user.has_perm("orders.view_order"):
        dashboard["orders"] = _cached("orders", orders_summary)
        dashboard["chart"] = chart_geometry(dashboard["orders"]["series"])
    if user.has_perm("catalog.view_variant"):
        dashboard["low_stock"] = _cached("low-stock", low_stock_summary)
    return dashboard
