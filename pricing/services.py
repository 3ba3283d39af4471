"""Pricing with the database: load the rules in force, call pricing.engine, count vouchers.

`order_price` is what the quote, the order placement and the admin call;
`voucher_redeem` and `voucher_release` are the only writers of a voucher's
`times_used` (guarded UPDATEs, and the CHECK `times_used <= usage_limit`).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from catalog.models import Variant
from pricing import engine
from pricing.exceptions import VoucherInvalid
from pricing.models import STANDARD, Promotion, ShippingMethod, TaxRate, Voucher, VoucherRedemption

# A category and its ancestors, for every category asked about, in one statement.
_ANCESTORS_SQL = """
WITH RECURSIVE up(start, id) AS (
    SELECT id, id FROM catalog_category WHERE id = ANY(%s)
    UNION
    SELECT up.start, c.parent_id FROM catalog_category c JOIN up ON c.id = up.id
    WHERE c.parent_id IS NOT NULL
)
SELECT start, id FROM up
"""


@dataclass
class OrderPrice:
    """An order priced: the engine's result, the voucher row used and the voucher's state."""

    priced: engine.Priced
    voucher: Voucher | None
    voucher_state: dict[str, Any] | None  # {code, valid, reason} when a code was given
    shortages: list[dict[str, Any]]


def _with_targets(queryset: QuerySet[Any]) -> QuerySet[Any]:
    return queryset.annotate(
        product_ids=ArrayAgg(
            "products", distinct=True, filter=Q(products__isnull=False), default=[]
        ),
        category_ids=ArrayAgg(
            "categories", distinct=True, filter=Q(categories__isnull=False), default=[]
        ),
    )


def _discount(row: Any) -> engine.Discount:
    return engine.Discount(
        kind=row.kind,
        value=row.value,
        product_ids=frozenset(row.product_ids),
        category_ids=frozenset(row.category_ids),
        name=getattr(row, "name", ""),
    )


def _in_force(now: datetime) -> Q:
    return (
        Q(active=True)
        & (Q(starts_at__isnull=True) | Q(starts_at__lte=now))
        & (Q(ends_at__isnull=True) | Q(ends_at__gt=now))
    )


def voucher_find(*, code: str) -> Voucher | None:
    """The voucher with this code, whatever its case (served by `voucher_code_ci`)."""
    return (
        _with_targets(Voucher.objects.alias(code_lower=Lower("code")))
        .filter(code_lower=code.strip().lower())
        .first()
    )


def voucher_reason(*, voucher: Voucher | None, user: Any, now: datetime) -> str | None:
    """Why `voucher` cannot be used by `user` now (a VOUCHER_REASONS code), or None.

    The minimum subtotal and what it applies to are judged by the engine.
    """
    if voucher is None or not voucher.active:
        return "unknown"
    if voucher.starts_at is not None and now < voucher.starts_at:
        return "not_started"
    if voucher.ends_at is not None and now >= voucher.ends_at:
        return "expired"
    if voucher.usage_limit is not None and voucher.times_used >= voucher.usage_limit:
        return "exhausted"
    if voucher.usage_limit_per_customer is not None and user is not None and user.is_authenticated:
        used = VoucherRedemption.objects.filter(voucher=voucher, user=user).count()
        if used >= voucher.usage_limit_per_customer:
            return "customer_limit"
    return None


def shipping_methods_for(*, country: str) -> QuerySet[ShippingMethod]:
    """Active methods that serve `country` (those with no countries serve every one)."""
    return ShippingMethod.objects.filter(active=True).filter(
        Q(countries__contains=[country]) | Q(countries=[])
    )


def _shipping_method(row: ShippingMethod) -> engine.ShippingMethod:
    bands = tuple(
        sorted((int(band["up_to_grams"]), Decimal(str(band["price"]))) for band in row.bands)
    )
    return engine.ShippingMethod(
        code=row.code,
        name=row.name,
        rule=row.rule,
        price=row.price,
        free_from=row.free_from,
        bands=bands,
    )


def _ancestors(category_ids: Iterable[int]) -> dict[int, frozenset[int]]:
    found: dict[int, set[int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(_ANCESTORS_SQL, [sorted(set(category_ids))])
        for start, ancestor in cursor.fetchall():
            found.setdefault(start, set()).add(ancestor)
    return {start: frozenset(ids) for start, ids in found.items()}


def order_price(
    *,
    user: Any,
    variants: Mapping[str, Variant],
    quantities: Mapping[str, int],
    country: str,
    shipping_method: str | None = None,
    voucher_code: str | None = None,
    now: datetime | None = None,
) -> OrderPrice:
    """Price the cart `quantities` ({sku: quantity}, every SKU in `variants`) for `country`.

    `variants` need their product (tax class, category) loaded. Reads the
    rules in force at `now`; changes nothing. An invalid voucher is priced
    without it and reported in `voucher_state`; the caller decides whether
    that is an error (placement) or news (quote).
    """
    now = now or timezone.now()
    rates: dict[str, Decimal] = {
        str(code): rate
        for code, rate in TaxRate.objects.filter(country=country).values_list("tax_class", "rate")
    }
    methods = [_shipping_method(row) for row in shipping_methods_for(country=country)]
    promotions = [_discount(row) for row in _with_targets(Promotion.objects.filter(_in_force(now)))]

    voucher = None
    voucher_state = None
    rule = None
    if voucher_code:
        voucher = voucher_find(code=voucher_code)
        reason = voucher_reason(voucher=voucher, user=user, now=now)
        voucher_state = {"code": voucher_code, "valid": reason is None, "reason": reason}
        if voucher is not None and reason is None:
            rule = engine.Voucher(
                code=voucher.code, discount=_discount(voucher), min_subtotal=voucher.min_subtotal
            )

    rules_by_category = any(p.category_ids for p in promotions) or bool(
        rule and rule.discount.category_ids
    )
    ancestors = (
        _ancestors(v.product.category_id for v in variants.values()) if rules_by_category else {}
    )
    lines = [
        engine.Line(
            sku=sku,
            unit_price=variants[sku].price,
            quantity=quantity,
            product_id=variants[sku].product_id,
            category_ids=ancestors.get(variants[sku].product.category_id, frozenset()),
            tax_rate=rates.get(str(variants[sku].product.tax_class_id)),
            weight_grams=variants[sku].weight_grams,
        )
        for sku, quantity in quantities.items()
    ]
    priced = engine.price(
        lines=lines,
        promotions=promotions,
        voucher=rule,
        shipping_methods=methods,
        shipping_code=shipping_method,
        shipping_tax_rate=rates.get(STANDARD),
        prices_include_tax=settings.PRICES_INCLUDE_TAX,
    )
    if voucher_state is not None and priced.voucher_reason is not None:
        voucher_state.update(valid=False, reason=priced.voucher_reason)
    shortages = [
        {"sku": sku, "requested": quantity, "available": max(variants[sku].stock, 0)}
        for sku, quantity in quantities.items()
        if variants[sku].stock < quantity
    ]
    return OrderPrice(
        priced=priced,
        voucher=voucher if voucher_state and voucher_state["valid"] else None,
        voucher_state=voucher_state,
        shortages=shortages,
    )


def _money(amount: Decimal) -> str:
    return str(amount.quantize(engine.CENT))


def quote_data(*, price: OrderPrice) -> dict[str, Any]:
    """The quote as the API answers it (also the `quote` of a 409 `price_changed`)."""
    priced = price.priced
    method = priced.shipping_method
    return {
        "currency": settings.STORE_CURRENCY,
        "lines": [
            {
                "sku": p.line.sku,
                "quantity": p.line.quantity,
                "unit_price": _money(p.line.unit_price),
                "discount": _money(p.discount),
                "tax_rate": _money(p.tax_rate),
                "tax": _money(p.tax),
                "line_total": _money(p.line_total),
            }
            for p in priced.lines
        ],
        "subtotal": _money(priced.subtotal),
        "discount_total": _money(priced.discount_total),
        "shipping_method": {"code": method.code, "name": method.name} if method else None,
        "shipping_total": _money(priced.shipping_total),
        "tax_total": _money(priced.tax_total),
        "total": _money(priced.total),
        "prices_include_tax": priced.prices_include_tax,
        "voucher_code": priced.voucher_code,
        "shipping_methods": [
            {"code": m.code, "name": m.name, "price": _money(charge)}
            for m, charge in priced.shipping_options
        ],
        "voucher": price.voucher_state,
        "shortages": price.shortages,
        "tax_rates_missing": priced.tax_rates_missing,
    }


def voucher_redeem(*, voucher: Voucher, order: Any, user: Any) -> VoucherRedemption:
    """Count one use of `voucher` by `order`. Call it inside the order's transaction.

    A guarded UPDATE (`times_used < usage_limit`) takes the voucher's row
    lock, so concurrent orders queue on it; the per-customer count is read
    under that lock. Raises VoucherInvalid (`exhausted`, `customer_limit`):
    the caller's transaction must then roll back (it takes nothing).
    """
    updated = (
        Voucher.objects.filter(pk=voucher.pk)
        .filter(Q(usage_limit__isnull=True) | Q(times_used__lt=F("usage_limit")))
        .update(times_used=F("times_used") + 1)
    )
    if not updated:
        raise VoucherInvalid("exhausted")
    if voucher.usage_limit_per_customer is not None:
        used = VoucherRedemption.objects.filter(voucher=voucher, user=user).count()
        if used >= voucher.usage_limit_per_customer:
            raise VoucherInvalid("customer_limit")
    return VoucherRedemption.objects.create(voucher=voucher, order=order, user=user)


def voucher_release(*, order: Any) -> bool:
    """Free the voucher use of `order` (an unpaid order being cancelled), if it had one.

    Call it inside the transaction that cancels the order. Returns whether a
    use was freed.
    """
    redemption = VoucherRedemption.objects.filter(order=order).first()
    if redemption is None:
        return False
    redemption.delete()
    Voucher.objects.filter(pk=redemption.voucher_id, times_used__gt=0).update(
        times_used=F("times_used") - 1
    )
    return True


@transaction.atomic
def tax_rates_import(*, rates: Mapping[tuple[str, str], Decimal]) -> tuple[int, int, int]:
    """Create or update the rates {(country, class code): rate} in one transaction.

    Returns (created, updated, unchanged). Orders keep the rates they were
    priced with, so an import changes no order.
    """
    existing = {
        (rate.country, str(rate.tax_class_id)): rate
        for rate in TaxRate.objects.select_for_update().filter(
            country__in={country for country, _ in rates}
        )
    }
    created: list[TaxRate] = []
    changed: list[TaxRate] = []
    for (country, code), value in rates.items():
        row = existing.get((country, code))
        if row is None:
            created.append(TaxRate(country=country, tax_class_id=code, rate=value))
        elif row.rate != value:
            row.rate = value
            changed.append(row)
    TaxRate.objects.bulk_create(created)
    TaxRate.objects.bulk_update(changed, ["rate"])
    return len(created), len(changed), len(rates) - len(created) - len(changed)
