"""Bulk stock: many variants' stock set or adjusted at once, all or nothing.

What an ERP sends every few minutes: for each SKU a `delta`, or `set_to`, the
count it has. Built on catalog.services' stock functions: the rows are locked
in primary-key order, every change is one ledger row, one UPDATE for all.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from catalog.models import StockMovement, StockMovementKind, Variant
from catalog.services import _stock_apply
from core.errors import FieldInvalid

BULK_ITEMS_MAX = 1000


@dataclass(frozen=True)
class BulkItem:
    """One line of a bulk request: exactly one of `delta` and `set_to` is given."""

    sku: str
    delta: int | None = None
    set_to: int | None = None


@dataclass(frozen=True)
class BulkResult:
    sku: str
    stock: int
    movement: StockMovement | None


@transaction.atomic
def stock_bulk_apply(
    *, items: Sequence[BulkItem], reason: str, user: Any = None
) -> list[BulkResult]:
    """Apply every item, or none: returns one result per item, in the request's order.

    Locks every named variant, then their products (each in primary-key
    order), before reading the stock, so a `set_to` is exact: its movement
    (kind `count`) is the difference from the stock at that moment, none
    when it is already there. Deltas write
    kind `adjustment`. Raises FieldInvalid keyed `items.N.sku` for an
    unknown or repeated SKU, InsufficientStock (every short SKU) when a delta
    would take stock below zero; nothing is written then.
    """
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.sku in seen:
            raise FieldInvalid(field=f"items.{index}.sku", message="This SKU is already listed.")
        seen[item.sku] = index
    variants = list(
        Variant.objects.select_for_update(of=("self",))
        .filter(sku__in=list(seen))
        .select_related("product")
        .only("pk", "sku", "stock", "product__slug")
        .order_by("pk")
    )
    by_sku = {v.sku: v for v in variants}
    for index, item in enumerate(items):
        if item.sku not in by_sku:
            raise FieldInvalid(field=f"items.{index}.sku", message="Unknown SKU.")

    deltas: dict[int, int] = {}
    counts: dict[int, int] = {}
    for item in items:
        variant = by_sku[item.sku]
        if item.set_to is not None:
            counts[variant.pk] = item.set_to - variant.stock
        else:
            assert item.delta is not None
            deltas[variant.pk] = item.delta
    # One pass for both (a count cannot be short: only deltas are refused, before
    # any write): one UPDATE of the variants, and their products locked once, in
    # primary-key order, then touched once by the trigger.
    movements = _stock_apply(
        deltas={**deltas, **counts},
        kind=StockMovementKind.ADJUSTMENT,
        kinds=dict.fromkeys(counts, StockMovementKind.COUNT),
        reason=reason,
        user=user,
        locked=variants,
    )
    by_variant = {m.variant_id: m for m in movements}
    results = []
    for item in items:
        variant = by_sku[item.sku]
        movement = by_variant.get(variant.pk)
        stock = movement.variant.stock if movement is not None else variant.stock
        results.append(BulkResult(sku=item.sku, stock=stock, movement=movement))
    return results
