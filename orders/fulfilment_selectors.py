"""Reads of fulfilment records, with the lines (and their SKUs) already loaded."""

from typing import Any

from django.db.models import Prefetch, QuerySet

from orders.models import (
    Order,
    OrderEvent,
    Refund,
    RefundLine,
    Return,
    ReturnLine,
    Shipment,
    ShipmentLine,
)
from orders.selectors import orders_visible_to


def shipments_of(*, order: Order) -> QuerySet[Shipment]:
    """Oldest first, lines and their SKUs in one more query."""
    return order.shipments.prefetch_related(
        Prefetch("lines", queryset=ShipmentLine.objects.select_related("order_line"))
    ).order_by("created_at", "id")


def returns_visible_to(*, user: Any) -> QuerySet[Return]:
    """Returns of the orders `user` may see, oldest first, with their lines."""
    return (
        Return.objects.filter(order__in=orders_visible_to(user=user))
        .select_related("order")
        .prefetch_related(
            Prefetch("lines", queryset=ReturnLine.objects.select_related("order_line"))
        )
        .order_by("created_at", "id")
    )


def refunds_of(*, order: Order) -> QuerySet[Refund]:
    """Oldest first, with their lines."""
    return (
        order.refunds.select_related("order")
        .prefetch_related(
            Prefetch("lines", queryset=RefundLine.objects.select_related("order_line"))
        )
        .order_by("created_at", "id")
    )


def order_events_for(*, order: Order, user: Any) -> QuerySet[OrderEvent]:
    """The order's history as `user` may see it: staff-only events hidden from customers."""
    from orders.fulfilment import STAFF_ONLY_EVENTS

    events = order.events.select_related("actor").order_by("created_at", "id")
    if user.has_perm("orders.view_order"):
        return events
    return events.exclude(type__in=STAFF_ONLY_EVENTS)
