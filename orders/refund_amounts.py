"""What a refund gives back: the parts of what the customer paid, as the order was priced.

Amounts are gross (what was paid: discounts off, tax in), each with the tax
inside it, from the amounts the order keeps (pricing.engine made them), so
later price or rate changes never change a refund. Read by orders.fulfilment
under the order's lock.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from django.db.models import Count, Q, Sum

from orders.exceptions import OverRefund
from orders.models import Order, OrderLine, Refund, RefundLine, RefundStatus
from pricing.engine import ZERO, tax_part, units_share


@dataclass(frozen=True)
class RefundPrice:
    amount: Decimal  # gross: what the customer gets back
    tax: Decimal  # the tax inside `amount`
    include_shipping: bool
    parts: dict[int, tuple[Decimal, Decimal]]  # {order line pk: (amount, tax)} of its units


def refund_price(
    *,
    order: Order,
    lines: Sequence[OrderLine],
    quantities: Mapping[int, int],
    amount: Decimal | None,
    everything: bool = False,
    include_shipping: bool = False,
) -> RefundPrice:
    """What a refund of `amount`, or of the units `quantities` ({line pk: units}) gives back.

    `amount` given: that amount, with its share of the order's tax (the last
    of what was paid carries all the tax left); `everything`: `amount` is all
    that remains, with the tax left and the shipping unless refunded before;
    else the units' parts plus, with `include_shipping`, what the shipping
    was paid (OverRefund if a pending or succeeded refund has it already).
    The caller holds the order's lock and has not yet moved the counters;
    it checks the amount against what remains.
    """
    parts = refund_parts(lines=lines, quantities=quantities)
    shipping_refunded, tax_left = False, order.tax_total
    if everything or amount is not None or include_shipping:
        shipping_refunded, tax_left = refunded_so_far(order=order)
    remaining = order.paid_total - order.refunded_total
    if amount is not None:
        share = (
            tax_part(amount, total=order.total, tax_total=order.tax_total)
            if amount < remaining and not everything
            else amount
        )
        tax = max(ZERO, min(share, tax_left))
        return RefundPrice(amount, tax, not shipping_refunded if everything else False, parts)
    amount = sum((part[0] for part in parts.values()), ZERO)
    tax = sum((part[1] for part in parts.values()), ZERO)
    if include_shipping:
        if shipping_refunded:
            raise OverRefund("The shipping was already refunded.", available=str(remaining))
        shipping, shipping_tax = order_shipping_paid(order=order, lines=lines)
        amount, tax = amount + shipping, tax + shipping_tax
    return RefundPrice(amount, min(tax, amount), include_shipping, parts)


def refund_parts(
    *, lines: Sequence[OrderLine], quantities: Mapping[int, int]
) -> dict[int, tuple[Decimal, Decimal]]:
    """{line pk: (amount, tax)} the refunded units were paid, before the counters move.

    A unit's part of its line's total (discounts off, tax in) and of its tax,
    rounded so that a line refunded in parts adds up to what it was paid.
    """
    parts: dict[int, tuple[Decimal, Decimal]] = {}
    for line in lines:
        units = quantities.get(line.pk, 0)
        if units:
            share = partial(
                units_share, units=units, of=line.quantity, before=line.quantity_refunded
            )
            amount = share(line.line_total)
            parts[line.pk] = (amount, min(amount, share(line.tax)))
    return parts


def refunded_so_far(*, order: Order) -> tuple[bool, Decimal]:
    """(whether pending or succeeded refunds include the shipping, the order's tax not in them)."""
    counted = order.refunds.exclude(status=RefundStatus.FAILED).aggregate(
        shipping=Count("pk", filter=Q(include_shipping=True)), tax=Sum("tax", default=ZERO)
    )
    return counted["shipping"] > 0, order.tax_total - counted["tax"]


def order_shipping_paid(*, order: Order, lines: Sequence[OrderLine]) -> tuple[Decimal, Decimal]:
    """(what the customer paid for shipping, tax included; the tax inside it).

    The shipping's tax is the order's tax less its lines' (as pricing.engine
    made it); with net prices the shipping total is net and the tax is added.
    """
    tax = order.tax_total - sum((line.tax for line in lines), ZERO)
    gross = order.shipping_total if order.prices_include_tax else order.shipping_total + tax
    return gross, tax


def refund_data(
    refund: Refund, refund_lines: Sequence[RefundLine], lines: Sequence[OrderLine]
) -> dict[str, Any]:
    skus = {line.pk: line.sku for line in lines}
    return {
        "id": refund.pk,
        "status": refund.status,
        "amount": str(refund.amount),
        "tax": str(refund.tax),
        "include_shipping": refund.include_shipping,
        "lines": [
            {
                "sku": skus[rl.order_line_id],
                "quantity": rl.quantity,
                "amount": str(rl.amount),
                "tax": str(rl.tax),
            }
            for rl in refund_lines
        ],
    }
