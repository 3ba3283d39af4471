"""orders' part of the personal-data export and erasure (registered in apps.py)."""

from typing import Any

from orders.models import Order


def orders_export(user: Any) -> list[dict[str, Any]]:
    """Every order of `user`, with lines and the address snapshot, oldest first."""
    orders = Order.objects.filter(user=user).prefetch_related("lines").order_by("created_at", "id")
    return [
        {
            "number": order.number,
            "status": order.status,
            "currency": order.currency,
            "subtotal": str(order.subtotal),
            "shipping_total": str(order.shipping_total),
            "total": str(order.total),
            "shipping_address": order.shipping_address,
            "note": order.note,
            "tracking_number": order.tracking_number,
            "created_at": order.created_at.isoformat(),
            "lines": [
                {
                    "sku": line.sku,
                    "product_name": line.product_name,
                    "variant_name": line.variant_name,
                    "unit_price": str(line.unit_price),
                    "quantity": line.quantity,
                    "line_total": str(line.line_total),
                }
                for line in order.lines.all()
            ],
        }
        for order in orders
    ]


def orders_erase(user: Any) -> None:
    """Keep the orders (bookkeeping) but reduce each address to city, postal code, country.

    Runs inside the erasure transaction; one UPDATE whatever the number of orders.
    """
    Order.objects.filter(user=user).update(
        shipping_full_name="", shipping_line1="", shipping_line2="", shipping_phone="", note=""
    )
