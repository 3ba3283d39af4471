"""The one pricing function: a cart, its rules and a destination in, every amount out.

Pure (no database): pricing.services loads the rules and calls `price`, for
the quote, the order placement and the admin alike, so a quote and the order
placed from it agree to the cent.

Order of work, per line: the best promotion (at most one per line), then the
voucher on what is left, then the tax on the discounted amount, rounded half
up to the cent per line. With `prices_include_tax` the amounts are gross and
the tax is the part inside them; otherwise the tax is added. Shipping is
priced on the discounted goods and taxed at the destination's standard rate.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)


def cents(amount: Decimal) -> Decimal:
    """Round half up to the cent."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Line:
    sku: str
    unit_price: Decimal
    quantity: int
    product_id: int
    category_ids: frozenset[int]  # the product's category and all its ancestors
    tax_rate: Decimal | None  # percent; None: no rate for this destination and class
    weight_grams: int = 0


@dataclass(frozen=True)
class Discount:
    """A promotion or a voucher's discount rule; no products and no categories: every line."""

    kind: str  # percentage, fixed (per unit for promotions, per order for vouchers), free_shipping
    value: Decimal
    product_ids: frozenset[int] = frozenset()
    category_ids: frozenset[int] = frozenset()
    name: str = ""

    def applies_to(self, line: Line) -> bool:
        if not self.product_ids and not self.category_ids:
            return True
        return line.product_id in self.product_ids or bool(self.category_ids & line.category_ids)


@dataclass(frozen=True)
class Voucher:
    code: str
    discount: Discount
    min_subtotal: Decimal | None = None


@dataclass(frozen=True)
class ShippingMethod:
    code: str
    name: str
    rule: str  # flat, free_from, weight
    price: Decimal = ZERO
    free_from: Decimal | None = None
    bands: tuple[tuple[int, Decimal], ...] = ()  # (up_to_grams, price), sorted by weight

    def price_for(self, *, goods: Decimal, weight_grams: int) -> Decimal | None:
        """This method's price for these goods, or None when it does not take them."""
        if self.rule == "weight":
            for up_to, price in self.bands:
                if weight_grams <= up_to:
                    return price
            return None
        if self.rule == "free_from" and self.free_from is not None and goods >= self.free_from:
            return ZERO
        return self.price


@dataclass
class PricedLine:
    line: Line
    amount: Decimal  # unit_price x quantity
    promotion_discount: Decimal = ZERO
    promotion_name: str = ""
    voucher_discount: Decimal = ZERO
    tax_rate: Decimal = ZERO
    tax: Decimal = ZERO
    line_total: Decimal = ZERO

    @property
    def discount(self) -> Decimal:
        return self.promotion_discount + self.voucher_discount

    @property
    def discounted(self) -> Decimal:
        return self.amount - self.discount


@dataclass
class Priced:
    lines: list[PricedLine]
    prices_include_tax: bool
    subtotal: Decimal = ZERO
    discount_total: Decimal = ZERO
    shipping_method: ShippingMethod | None = None
    shipping_total: Decimal = ZERO
    shipping_tax: Decimal = ZERO
    tax_total: Decimal = ZERO
    total: Decimal = ZERO
    tax_rates_missing: bool = False
    voucher_code: str | None = None
    voucher_reason: str | None = None  # why the voucher given did not apply
    shipping_options: list[tuple[ShippingMethod, Decimal]] = field(default_factory=list)
    shipping_unknown: bool = False  # the method asked for does not serve this order


def _promotion_amount(discount: Discount, line: Line, amount: Decimal) -> Decimal:
    if discount.kind == "percentage":
        return min(amount, cents(amount * discount.value / HUNDRED))
    return min(amount, cents(min(discount.value, line.unit_price) * line.quantity))


def _share(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split `total` in cents over `weights` proportionally; leftover cents go first-come."""
    whole = sum(weights, ZERO)
    if whole <= 0:
        return [ZERO for _ in weights]
    shares = [(total * w / whole).quantize(CENT, rounding=ROUND_DOWN) for w in weights]
    left = total - sum(shares, ZERO)
    for index, weight in enumerate(weights):
        if left <= 0:
            break
        room = weight - shares[index]
        step = min(left, room)
        if step > 0:
            shares[index] += step
            left -= step
    return shares


def _tax(amount: Decimal, rate: Decimal, *, included: bool) -> Decimal:
    if included:
        return cents(amount * rate / (HUNDRED + rate))
    return cents(amount * rate / HUNDRED)


def price(
    *,
    lines: Sequence[Line],
    promotions: Sequence[Discount] = (),
    voucher: Voucher | None = None,
    shipping_methods: Sequence[ShippingMethod] = (),
    shipping_code: str | None = None,
    shipping_tax_rate: Decimal | None = None,
    prices_include_tax: bool = True,
) -> Priced:
    """Price `lines` for one destination.

    `promotions`: those in force (the best one per line is taken);
    `voucher`: one the caller found valid for this customer now (its
    minimum and whether it applies to any line are judged here:
    `voucher_reason` then says `minimum_not_met` or `not_applicable` and no
    voucher discount is given). `shipping_methods`: those serving the
    destination; `shipping_code` picks one (absent: the cheapest; one that
    does not serve the order sets `shipping_unknown`). `shipping_tax_rate`:
    the destination's standard rate (None: missing). Never raises for a
    valid cart; no amount is ever negative.
    """
    result = Priced(
        lines=[
            PricedLine(line=line, amount=cents(line.unit_price * line.quantity)) for line in lines
        ],
        prices_include_tax=prices_include_tax,
    )
    result.subtotal = sum((p.amount for p in result.lines), ZERO)

    for priced in result.lines:
        best = ZERO
        for promotion in promotions:
            if promotion.applies_to(priced.line):
                amount = _promotion_amount(promotion, priced.line, priced.amount)
                if amount > best:
                    best, priced.promotion_name = amount, promotion.name
        priced.promotion_discount = best

    free_shipping = False
    if voucher is not None:
        result.voucher_code = voucher.code
        rule = voucher.discount
        targets = [p for p in result.lines if rule.applies_to(p.line)]
        if voucher.min_subtotal is not None and result.subtotal < voucher.min_subtotal:
            result.voucher_reason = "minimum_not_met"
        elif rule.kind == "free_shipping":
            free_shipping = True
        elif not targets or all(p.discounted <= 0 for p in targets):
            result.voucher_reason = "not_applicable"
        elif rule.kind == "percentage":
            for p in targets:
                p.voucher_discount = min(p.discounted, cents(p.discounted * rule.value / HUNDRED))
        else:
            room = [p.discounted for p in targets]
            off = min(cents(rule.value), sum(room, ZERO))
            for p, share in zip(targets, _share(off, room), strict=True):
                p.voucher_discount = share
        if result.voucher_reason is not None:
            result.voucher_code = None

    for p in result.lines:
        rate = p.line.tax_rate
        if rate is None:
            result.tax_rates_missing = True
            rate = ZERO
        p.tax_rate = rate
        p.tax = _tax(p.discounted, rate, included=prices_include_tax)
        p.line_total = p.discounted if prices_include_tax else p.discounted + p.tax

    result.discount_total = sum((p.discount for p in result.lines), ZERO)
    goods = result.subtotal - result.discount_total
    weight = sum((line.weight_grams * line.quantity for line in lines), 0)
    for method in shipping_methods:
        charge = method.price_for(goods=goods, weight_grams=weight)
        if charge is not None:
            result.shipping_options.append((method, ZERO if free_shipping else charge))
    result.shipping_options.sort(key=lambda option: (option[1], option[0].code))
    chosen = result.shipping_options[0] if result.shipping_options else None
    if shipping_code is not None:
        chosen = next((o for o in result.shipping_options if o[0].code == shipping_code), None)
        result.shipping_unknown = chosen is None
    if chosen is not None:
        result.shipping_method, result.shipping_total = chosen
        if shipping_tax_rate is None:
            result.tax_rates_missing = True
        rate = shipping_tax_rate or ZERO
        result.shipping_tax = _tax(result.shipping_total, rate, included=prices_include_tax)

    result.tax_total = sum((p.tax for p in result.lines), ZERO) + result.shipping_tax
    result.total = goods + result.shipping_total
    if not prices_include_tax:
        result.total += result.tax_total
    return result


# --- Refunds: the parts of what was paid ---------------------------------------------------


def units_share(amount: Decimal, *, units: int, of: int, before: int = 0) -> Decimal:
    """The part of `amount` (paid for `of` units) that units `before + 1 .. before + units` carry.

    Cumulative rounding (half up): however a line is refunded, in one go or
    unit by unit, its parts add up to `amount` exactly.
    """
    if of <= 0 or units <= 0:
        return ZERO
    return cents(amount * (before + units) / of) - cents(amount * before / of)


def tax_part(amount: Decimal, *, total: Decimal, tax_total: Decimal) -> Decimal:
    """The tax inside `amount`, a part of an order of `total` that held `tax_total` of tax."""
    if total <= 0 or amount <= 0:
        return ZERO
    return min(amount, cents(amount * tax_total / total))
