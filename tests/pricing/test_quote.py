"""The quote: what placement would charge, to the cent, with nothing taken or counted."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.models import StockMovement
from orders.models import Order
from pricing.models import TaxClass, TaxRate, Voucher
from tests.accounts.factories import UserFactory
from tests.catalog.factories import ProductFactory, VariantFactory
from tests.conftest import token_client
from tests.pricing.factories import (
    GERMAN_ADDRESS,
    PromotionFactory,
    ShippingMethodFactory,
    TaxRateFactory,
    VoucherFactory,
)

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"
QUOTE = "/api/v1/orders/quote/"
PRICED = ("subtotal", "discount_total", "shipping_total", "tax_total", "total", "voucher_code")
LINE_PRICED = ("unit_price", "quantity", "discount", "tax_rate", "tax", "line_total")

money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2)
rate = st.sampled_from([Decimal(r) for r in ("0", "7", "19", "21", "25.5")])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prices=st.lists(money, min_size=1, max_size=4),
    quantities=st.lists(st.integers(min_value=1, max_value=9), min_size=4, max_size=4),
    standard=rate,
    reduced=rate,
    promotion=st.one_of(st.none(), st.tuples(st.sampled_from(["percentage", "fixed"]), money)),
    voucher=st.one_of(
        st.none(),
        st.tuples(st.sampled_from(["percentage", "fixed", "free_shipping"]), money),
    ),
    include=st.booleans(),
)
def test_quote_and_placement_agree_to_the_cent(
    django_settings, prices, quantities, standard, reduced, promotion, voucher, include
):
    django_settings.PRICES_INCLUDE_TAX = include
    for code, value in (("standard", standard), ("reduced", reduced)):
        TaxRate.objects.update_or_create(
            country="DE", tax_class=TaxClass.objects.get(code=code), defaults={"rate": value}
        )
    variants = [
        VariantFactory(
            product=ProductFactory(tax_class_id="reduced" if i % 2 else "standard"),
            price=price,
            stock=20,
        )
        for i, price in enumerate(prices)
    ]
    if promotion:
        kind, value = promotion
        PromotionFactory(kind=kind, value=min(value, Decimal(100))).products.add(
            variants[0].product
        )
    body = {
        "lines": [
            {"sku": v.sku, "quantity": q} for v, q in zip(variants, quantities, strict=False)
        ],
        "shipping_address": GERMAN_ADDRESS,
    }
    if voucher:
        kind, value = voucher
        code = f"V{Voucher.objects.count()}"
        VoucherFactory(code=code, kind=kind, value=min(value, Decimal(100)))
        body["voucher_code"] = code
    client = token_client(UserFactory())
    quote = client.post(QUOTE, body, format="json").json()
    if quote["voucher"] and not quote["voucher"]["valid"]:
        body.pop("voucher_code")
        quote = client.post(QUOTE, body, format="json").json()
    placed = client.post(ORDERS, {**body, "expected_total": quote["total"]}, format="json")
    assert placed.status_code == 201, placed.content
    order = placed.json()
    assert {k: order[k] for k in PRICED} == {k: quote[k] for k in PRICED}
    assert order["shipping_method"] == quote["shipping_method"]
    assert [{k: line[k] for k in LINE_PRICED} for line in order["lines"]] == [
        {k: line[k] for k in LINE_PRICED} for line in quote["lines"]
    ]


@pytest.fixture
def django_settings(settings):
    return settings


def test_quote_takes_nothing_and_lists_shortages(user_client, django_assert_max_num_queries):
    short = VariantFactory(price=Decimal("5.00"), stock=1)
    VoucherFactory(code="LIMITED", usage_limit=1)
    body = {
        "lines": [{"sku": short.sku, "quantity": 3}],
        "shipping_address": GERMAN_ADDRESS,
        "voucher_code": "LIMITED",
    }
    movements = StockMovement.objects.count()
    with django_assert_max_num_queries(8):
        response = user_client.post(QUOTE, body, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["shortages"] == [{"sku": short.sku, "requested": 3, "available": 1}]
    assert data["shipping_methods"] == [
        {"code": "standard", "name": "Standard shipping", "price": "4.90"}
    ]
    assert data["currency"] == "EUR"
    assert "number" not in data
    assert StockMovement.objects.count() == movements
    assert Voucher.objects.get().times_used == 0
    assert not Order.objects.exists()


def test_a_changed_price_refuses_the_order_with_the_new_quote(user_client):
    variant = VariantFactory(price=Decimal("10.00"), stock=5)
    body = {"lines": [{"sku": variant.sku, "quantity": 1}], "shipping_address": GERMAN_ADDRESS}
    assert user_client.post(QUOTE, body, format="json").json()["total"] == "14.90"
    TaxRateFactory(country="DE", tax_class_id="standard", rate=Decimal("19.00"))
    variant.price = Decimal("11.00")
    variant.save(update_fields=["price"])

    response = user_client.post(ORDERS, {**body, "expected_total": "14.90"}, format="json")

    assert response.status_code == 409
    data = response.json()
    assert data["code"] == "price_changed"
    assert (data["quote"]["total"], data["quote"]["tax_total"]) == ("15.90", "2.54")
    variant.refresh_from_db()
    assert variant.stock == 5
    assert not Order.objects.exists()


def test_shipping_method_errors(user_client):
    variant = VariantFactory(price=Decimal("10.00"), stock=5)
    ShippingMethodFactory(code="de-only", countries=["DE"])
    body = {
        "lines": [{"sku": variant.sku, "quantity": 1}],
        "shipping_address": {**GERMAN_ADDRESS, "country": "FR"},
        "shipping_method": "de-only",
    }
    for url in (QUOTE, ORDERS):
        response = user_client.post(url, body, format="json")
        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["shipping_method"]
    from pricing.models import ShippingMethod

    ShippingMethod.objects.filter(code="standard").update(active=False)
    body.pop("shipping_method")
    response = user_client.post(ORDERS, body, format="json")
    assert (response.status_code, list(response.json()["errors"])) == (400, ["shipping_method"])
    quote = user_client.post(QUOTE, body, format="json").json()
    assert (quote["shipping_method"], quote["shipping_methods"]) == (None, [])


def test_the_cheapest_serving_method_is_taken_when_none_is_named(user_client):
    variant = VariantFactory(price=Decimal("10.00"), stock=5)
    ShippingMethodFactory(code="pickup", name="Pick-up", countries=["DE"], price=Decimal("0.00"))
    body = {"lines": [{"sku": variant.sku, "quantity": 1}], "shipping_address": GERMAN_ADDRESS}
    data = user_client.post(ORDERS, body, format="json").json()
    assert (data["shipping_method"], data["total"]) == (
        {"code": "pickup", "name": "Pick-up"},
        "10.00",
    )


def test_the_placed_event_carries_the_price_breakdown(user_client):
    from webhooks.models import Event

    TaxRateFactory(country="DE", tax_class_id="standard", rate=Decimal("19.00"))
    variant = VariantFactory(price=Decimal("11.90"), stock=5)
    body = {"lines": [{"sku": variant.sku, "quantity": 1}], "shipping_address": GERMAN_ADDRESS}
    user_client.post(ORDERS, body, format="json")
    data = Event.objects.get(type="order.placed").data
    assert (data["subtotal"], data["tax_total"], data["shipping_method"]) == (
        "11.90",
        "2.68",
        "standard",
    )
    assert data["lines"][0]["tax"] == "1.90"
