"""Every write to the catalog. Stock changes only here, always with a ledger row."""

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import Case, F, IntegerField, Value, When
from django.utils import timezone

from catalog.exceptions import InsufficientStock
from catalog.models import StockMovement, StockMovementKind, Variant
from webhooks.services import events_record


def _stock_apply(
    *,
    deltas: Mapping[int, int],
    kind: str,
    reason: str = "",
    order_number: str = "",
    user: Any = None,
) -> list[StockMovement]:
    """Apply signed deltas to variants, all or nothing, and write the ledger.

    Locks the variant rows in primary-key order (so concurrent callers cannot
    deadlock), raises InsufficientStock listing every short variant when a
    delta would take stock below zero, then updates all rows in one
    statement. The CHECK constraint `stock >= 0` is the last line of defence.
    """
    deltas = {pk: delta for pk, delta in deltas.items() if delta}
    if not deltas:
        return []
    ids = sorted(deltas)
    variants = list(
        Variant.objects.select_for_update(of=("self",))
        .filter(pk__in=ids)
        .order_by("pk")
        .only("pk", "sku", "stock")
    )
    if len(variants) != len(ids):
        missing = set(ids) - {v.pk for v in variants}
        raise Variant.DoesNotExist(f"Unknown variant ids: {sorted(missing)}")

    shortages = [
        {"sku": v.sku, "requested": -deltas[v.pk], "available": v.stock}
        for v in variants
        if v.stock + deltas[v.pk] < 0
    ]
    if shortages:
        raise InsufficientStock(shortages=shortages)

    Variant.objects.filter(pk__in=ids).update(
        stock=Case(
            *[When(pk=pk, then=F("stock") + Value(deltas[pk])) for pk in ids],
            output_field=IntegerField(),
        ),
        updated_at=timezone.now(),
    )
    movements = StockMovement.objects.bulk_create(
        [
            StockMovement(
                variant_id=v.pk,
                kind=kind,
                delta=deltas[v.pk],
                reason=reason,
                order_number=order_number,
                created_by=user if user is not None and user.is_authenticated else None,
            )
            for v in variants
        ]
    )
    for variant, movement in zip(variants, movements, strict=True):
        variant.stock += deltas[variant.pk]
        movement.variant = variant
    events_record(
        events=[
            (
                "stock.changed",
                {
                    "sku": m.variant.sku,
                    "stock": m.variant.stock,
                    "delta": m.delta,
                    "kind": kind,
                    "order": order_number or None,
                },
            )
            for m in movements
        ]
    )
    return movements


@transaction.atomic
def stock_adjust(*, variant: Variant, delta: int, reason: str, user: Any = None) -> StockMovement:
    """Add (or remove, with a negative delta) stock by hand; returns the ledger row.

    Raises InsufficientStock when the result would be below zero.
    """
    if delta == 0:
        raise ValueError("A stock adjustment needs a non-zero delta.")
    (movement,) = _stock_apply(
        deltas={variant.pk: delta}, kind=StockMovementKind.ADJUSTMENT, reason=reason, user=user
    )
    variant.stock = movement.variant.stock
    return movement


@transaction.atomic
def stock_take(
    *,
    quantities: Mapping[int, int],
    order_number: str = "",
    kind: str = StockMovementKind.ORDER_PLACED,
    reason: str = "",
    user: Any = None,
) -> list[StockMovement]:
    """Take `quantities` ({variant_id: positive quantity}) all together, or nothing.

    Raises InsufficientStock with `shortages` for every short variant (and
    takes nothing); Variant.DoesNotExist for an unknown id. Returns the ledger
    rows, each with `.variant` holding the new stock.
    """
    if any(q <= 0 for q in quantities.values()):
        raise ValueError("Quantities to take must be positive.")
    return _stock_apply(
        deltas={pk: -q for pk, q in quantities.items()},
        kind=kind,
        reason=reason,
        order_number=order_number,
        user=user,
    )


@transaction.atomic
def stock_return(
    *,
    quantities: Mapping[int, int],
    kind: str,
    order_number: str = "",
    reason: str = "",
    user: Any = None,
) -> list[StockMovement]:
    """Put `quantities` ({variant_id: positive quantity}) back, with ledger rows of `kind`."""
    if any(q <= 0 for q in quantities.values()):
        raise ValueError("Quantities to return must be positive.")
    return _stock_apply(
        deltas=dict(quantities), kind=kind, reason=reason, order_number=order_number, user=user
    )
