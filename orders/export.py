"""Order lines as rows for export: one definition for the admin's CSV and `export_orders`.

Both write through core.csv_export, which neutralises spreadsheet formulas.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet

from orders.models import OrderLine

# Output column -> ORM path from OrderLine. Addresses are reduced to what
# accounting and shipping reports need; no names, street lines or phones. The
# amounts are as the order was priced: with prices_include_tax the tax is inside
# them, otherwise total and line_total add it.
COLUMNS: dict[str, str] = {
    "order_number": "order__number",
    "status": "order__status",
    "created_at": "order__created_at",
    "updated_at": "order__updated_at",
    "customer_email": "order__user__email",
    "currency": "order__currency",
    "subtotal": "order__subtotal",
    "discount_total": "order__discount_total",
    "voucher_code": "order__voucher_code",
    "shipping_method": "order__shipping_method_code",
    "shipping_total": "order__shipping_total",
    "tax_total": "order__tax_total",
    "total": "order__total",
    "prices_include_tax": "order__prices_include_tax",
    "refund_due": "order__refund_due",
    "tracking_number": "order__tracking_number",
    "shipping_city": "order__shipping_city",
    "shipping_postal_code": "order__shipping_postal_code",
    "shipping_country": "order__shipping_country",
    "sku": "sku",
    "product_name": "product_name",
    "variant_name": "variant_name",
    "unit_price": "unit_price",
    "quantity": "quantity",
    "promotion_discount": "promotion_discount",
    "voucher_discount": "voucher_discount",
    "tax_rate": "tax_rate",
    "tax": "tax",
    "line_total": "line_total",
}
CHUNK = 2000


def _cell(value: Any) -> Any:
    # Amounts stay Decimal: the CSV writer leaves numbers alone and neutralises only text.
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def lines_select(
    *, since: datetime | None, until: datetime | None, statuses: list[str]
) -> QuerySet[OrderLine]:
    lines = OrderLine.objects.all()
    if since:
        lines = lines.filter(order__created_at__gte=since)
    if until:
        lines = lines.filter(order__created_at__lt=until)
    if statuses:
        lines = lines.filter(order__status__in=statuses)
    return lines.order_by("order__created_at", "order_id", "id")


def rows(lines: QuerySet[OrderLine]) -> Iterator[dict[str, Any]]:
    """Stream rows from a server-side cursor: memory stays flat however many lines."""
    names = list(COLUMNS)
    for values in lines.values_list(*COLUMNS.values()).iterator(chunk_size=CHUNK):
        yield {name: _cell(value) for name, value in zip(names, values, strict=True)}
