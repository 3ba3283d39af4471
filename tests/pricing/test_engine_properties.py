"""Properties of the one pricing function, for random carts, rates, vouchers and promotions."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from pricing import engine

CENT = Decimal("0.01")
HALF_CENT = Decimal("0.005")

money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("2000"), places=2)
rates = st.one_of(
    st.none(), st.sampled_from([Decimal(r) for r in ("0", "5.5", "7", "19", "20", "25")])
)


@st.composite
def lines(draw):
    count = draw(st.integers(min_value=1, max_value=6))
    return [
        engine.Line(
            sku=f"SKU-{index}",
            unit_price=draw(money),
            quantity=draw(st.integers(min_value=1, max_value=50)),
            product_id=draw(st.integers(min_value=1, max_value=4)),
            category_ids=frozenset(
                draw(st.sets(st.integers(min_value=1, max_value=4), max_size=2))
            ),
            tax_rate=draw(rates),
            weight_grams=draw(st.integers(min_value=0, max_value=5000)),
        )
        for index in range(count)
    ]


def discounts(kinds):
    return st.builds(
        engine.Discount,
        kind=st.sampled_from(kinds),
        value=st.decimals(min_value=Decimal("0"), max_value=Decimal("100"), places=2),
        product_ids=st.frozensets(st.integers(min_value=1, max_value=4), max_size=2),
        category_ids=st.frozensets(st.integers(min_value=1, max_value=4), max_size=2),
        name=st.sampled_from(["a", "b"]),
    )


vouchers = st.one_of(
    st.none(),
    st.builds(
        engine.Voucher,
        code=st.just("CODE"),
        discount=discounts(["percentage", "fixed", "free_shipping"]),
        min_subtotal=st.one_of(st.none(), money),
    ),
)

methods = st.lists(
    st.one_of(
        st.builds(
            engine.ShippingMethod,
            code=st.just("flat"),
            name=st.just("Flat"),
            rule=st.just("flat"),
            price=money,
        ),
        st.builds(
            engine.ShippingMethod,
            code=st.just("free"),
            name=st.just("Free from"),
            rule=st.just("free_from"),
            price=money,
            free_from=money,
        ),
        st.builds(
            engine.ShippingMethod,
            code=st.just("weight"),
            name=st.just("Weight"),
            rule=st.just("weight"),
            bands=st.just(((1000, Decimal("4.00")), (20000, Decimal("9.00")))),
        ),
    ),
    max_size=3,
    unique_by=lambda m: m.code,
)


@settings(max_examples=300, deadline=None)
@given(
    cart=lines(),
    promotions=st.lists(discounts(["percentage", "fixed"]), max_size=3),
    voucher=vouchers,
    shipping_methods=methods,
    shipping_rate=rates,
    include=st.booleans(),
)
def test_totals_add_up_and_no_amount_is_negative(
    cart, promotions, voucher, shipping_methods, shipping_rate, include
):
    priced = engine.price(
        lines=cart,
        promotions=promotions,
        voucher=voucher,
        shipping_methods=shipping_methods,
        shipping_tax_rate=shipping_rate,
        prices_include_tax=include,
    )
    goods = priced.subtotal - priced.discount_total
    expected = goods + priced.shipping_total + (Decimal(0) if include else priced.tax_total)
    assert priced.total == expected
    assert priced.subtotal == sum(p.line.unit_price * p.line.quantity for p in priced.lines)
    assert priced.discount_total == sum(p.discount for p in priced.lines)
    assert priced.tax_total == sum(p.tax for p in priced.lines) + priced.shipping_tax
    for amount in (
        priced.subtotal,
        priced.discount_total,
        priced.shipping_total,
        priced.tax_total,
        priced.total,
    ):
        assert amount >= 0
        assert amount == amount.quantize(CENT)
    for p in priced.lines:
        assert p.promotion_discount >= 0 and p.voucher_discount >= 0 and p.tax >= 0
        assert p.discount <= p.amount
        rate = p.line.tax_rate or Decimal(0)
        base = p.amount - p.discount
        exact = base * rate / (100 + rate) if include else base * rate / 100
        assert abs(p.tax - exact) <= HALF_CENT
        assert p.line_total == (base if include else base + p.tax)
    missing = any(line.tax_rate is None for line in cart) or (
        priced.shipping_method is not None and shipping_rate is None
    )
    assert priced.tax_rates_missing == missing


@settings(max_examples=200, deadline=None)
@given(cart=lines(), promotions=st.lists(discounts(["percentage", "fixed"]), max_size=3))
def test_each_line_gets_the_best_single_promotion(cart, promotions):
    priced = engine.price(lines=cart, promotions=promotions)
    for p in priced.lines:
        offers = [
            engine._promotion_amount(promotion, p.line, p.amount)
            for promotion in promotions
            if promotion.applies_to(p.line)
        ]
        assert p.promotion_discount == max(offers, default=Decimal("0.00"))


@settings(max_examples=200, deadline=None)
@given(cart=lines(), value=money)
def test_a_fixed_voucher_takes_exactly_its_value_or_everything_left(cart, value):
    voucher = engine.Voucher(code="FIX", discount=engine.Discount(kind="fixed", value=value))
    priced = engine.price(lines=cart, voucher=voucher)
    assert priced.discount_total == min(value, priced.subtotal)


def test_the_cheapest_method_is_chosen_unless_one_is_named():
    cart = [engine.Line("A", Decimal("10.00"), 1, 1, frozenset(), Decimal("19"))]
    cheap = engine.ShippingMethod(code="cheap", name="Cheap", rule="flat", price=Decimal("3.00"))
    fast = engine.ShippingMethod(code="fast", name="Fast", rule="flat", price=Decimal("9.00"))
    assert engine.price(lines=cart, shipping_methods=[fast, cheap]).shipping_method == cheap
    named = engine.price(lines=cart, shipping_methods=[fast, cheap], shipping_code="fast")
    assert (named.shipping_method, named.shipping_total) == (fast, Decimal("9.00"))
    unknown = engine.price(lines=cart, shipping_methods=[cheap], shipping_code="nope")
    assert unknown.shipping_unknown and unknown.shipping_method is None


def test_weight_bands_price_by_total_weight_and_refuse_heavier_orders():
    method = engine.ShippingMethod(
        code="w", name="W", rule="weight", bands=((1000, Decimal("4.00")), (5000, Decimal("8.00")))
    )
    light = [engine.Line("A", Decimal("10.00"), 2, 1, frozenset(), None, weight_grams=500)]
    heavy = [engine.Line("A", Decimal("10.00"), 3, 1, frozenset(), None, weight_grams=2000)]
    assert engine.price(lines=light, shipping_methods=[method]).shipping_total == Decimal("4.00")
    assert engine.price(lines=heavy, shipping_methods=[method]).shipping_method is None
