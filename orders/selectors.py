"""Reads of orders, scoped to the caller, with their relations already loaded."""

from typing import Any

from django.db.models import Prefetch, QuerySet

from orders.models import Order, OrderEvent, OrderLine


def orders_visible_to(*, user: Any) -> QuerySet[Order]:
    """Staff with `orders.view_order` see every order; anyone else only their own."""
    if user.has_perm("orders.view_order"):
        return Order.objects.all()
    return Order.objects.for_user(user)


def order_list(*, user: Any) -> QuerySet[Order]:
    """Newest first, lines prefetched into `line_list` in one query (bounded whatever
    the page holds)."""
    return (
        orders_visible_to(user=user)
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("id"), to_attr="line_list")
        )
        .order_by("-created_at", "-id")
    )


def order_events(*, order: Order) -> QuerySet[OrderEvent]:
    """Oldest first, with the acting user (for the staff email)."""
    return order.events.select_related("actor").order_by("created_at", "id")
