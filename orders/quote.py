"""The quote: an order body priced as it would be placed, with nothing taken or counted."""

from collections.abc import Mapping, Sequence
from typing import Any

from catalog.models import Variant
from core.errors import FieldInvalid
from orders.services import order_input
from pricing.services import order_price, quote_data


def order_quote(
    *,
    user: Any,
    lines: Sequence[Mapping[str, Any]],
    shipping_address: Mapping[str, str] | None = None,
    address_id: int | None = None,
    shipping_method: str | None = None,
    voucher_code: str | None = None,
) -> dict[str, Any]:
    """Price the order body as order_place would, without locks or writes.

    Returns pricing.services.quote_data's dict: short lines are listed in
    `shortages` and an invalid voucher in `voucher`, not raised. Raises
    FieldInvalid as order_place does (unknown SKU, foreign address, a
    named shipping method that does not serve the order).
    """
    quantities, first_index, errors, address = order_input(
        user=user, lines=lines, shipping_address=shipping_address, address_id=address_id
    )
    variants = {
        v.sku: v
        for v in Variant.objects.filter(sku__in=list(quantities), product__is_published=True)
        .select_related("product")
        .only(
            "pk",
            "sku",
            "price",
            "stock",
            "weight_grams",
            "product__tax_class",
            "product__category",
        )
    }
    for sku, index in first_index.items():
        if sku not in variants:
            errors[f"lines.{index}.sku"] = [f"Unknown or unavailable SKU {sku!r}."]
    if errors:
        raise FieldInvalid(errors=errors)
    price = order_price(
        user=user,
        variants=variants,
        quantities=quantities,
        country=address["country"],
        shipping_method=shipping_method,
        voucher_code=voucher_code,
    )
    if price.priced.shipping_unknown:
        raise FieldInvalid(
            errors={"shipping_method": ["This shipping method does not serve this order."]}
        )
    return quote_data(price=price)
