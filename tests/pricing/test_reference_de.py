"""Reference orders written by hand from the German VAT table (19 % standard, 7 % reduced).

The cart (tests/pricing/conftest.py): two books (reduced rate) at 12.99 and
headphones (standard) at 59.90, a 10 % voucher, DHL at a flat 4.90 (shipping
taxed at the standard rate).
Every expected cent below was computed by hand, tax rounded half up per line.
"""

from decimal import Decimal

import pytest

from orders.models import Order
from tests.catalog.factories import ProductFactory, VariantFactory
from tests.pricing.factories import GERMAN_ADDRESS, ShippingMethodFactory, TaxRateFactory

pytestmark = pytest.mark.django_db

QUOTE = "/api/v1/orders/quote/"
ORDERS = "/api/v1/orders/"


def _amounts(data):
    lines = [(x["discount"], x["tax_rate"], x["tax"], x["line_total"]) for x in data["lines"]]
    totals = tuple(
        data[k] for k in ("subtotal", "discount_total", "shipping_total", "tax_total", "total")
    )
    return lines, totals


def test_gross_prices_german_order_to_the_cent(german_cart, user_client):
    # Book line 25.98: voucher 2.598 -> 2.60, pays 23.38, VAT 23.38 x 7/107 = 1.5295 -> 1.53.
    # Headphones 59.90: voucher 5.99, pays 53.91, VAT 53.91 x 19/119 = 8.6074 -> 8.61.
    # Shipping 4.90: VAT 4.90 x 19/119 = 0.7824 -> 0.78. Tax 1.53 + 8.61 + 0.78 = 10.92.
    # Total 85.88 - 8.59 + 4.90 = 82.19 (tax included).
    expected = (
        [
            ("2.60", "7.00", "1.53", "23.38"),
            ("5.99", "19.00", "8.61", "53.91"),
        ],
        ("85.88", "8.59", "4.90", "10.92", "82.19"),
    )
    quote = user_client.post(QUOTE, german_cart, format="json")
    assert quote.status_code == 200, quote.content
    assert _amounts(quote.json()) == expected
    assert quote.json()["voucher"] == {"code": "willkommen10", "valid": True, "reason": None}
    assert quote.json()["tax_rates_missing"] is False

    placed = user_client.post(ORDERS, {**german_cart, "expected_total": "82.19"}, format="json")
    assert placed.status_code == 201, placed.content
    assert _amounts(placed.json()) == expected
    assert placed.json()["shipping_method"] == {"code": "dhl", "name": "DHL Paket"}
    assert placed.json()["voucher_code"] == "WILLKOMMEN10"
    assert placed.json()["prices_include_tax"] is True


def test_net_prices_german_order_adds_the_tax(german_cart, user_client, settings):
    # Tax on the discounted net amounts: 23.38 x 7 % = 1.6366 -> 1.64,
    # 53.91 x 19 % = 10.2429 -> 10.24, shipping 4.90 x 19 % = 0.931 -> 0.93; 12.81 in all.
    # Total 85.88 - 8.59 + 4.90 + 12.81 = 95.00.
    settings.PRICES_INCLUDE_TAX = False
    placed = user_client.post(ORDERS, german_cart, format="json")
    assert placed.status_code == 201, placed.content
    assert _amounts(placed.json()) == (
        [
            ("2.60", "7.00", "1.64", "25.02"),
            ("5.99", "19.00", "10.24", "64.15"),
        ],
        ("85.88", "8.59", "4.90", "12.81", "95.00"),
    )
    assert Order.objects.get().prices_include_tax is False


def test_tax_is_rounded_half_up_not_to_even(user_client, settings):
    # 1.50 net at 7 %: 0.105 exactly; half up gives 0.11 (banker's rounding would give 0.10).
    settings.PRICES_INCLUDE_TAX = False
    TaxRateFactory(country="DE", tax_class_id="reduced", rate=Decimal("7.00"))
    TaxRateFactory(country="DE", tax_class_id="standard", rate=Decimal("19.00"))
    variant = VariantFactory(
        product=ProductFactory(tax_class_id="reduced"), price=Decimal("1.50"), stock=1
    )
    ShippingMethodFactory(code="pickup", countries=["DE"], price=Decimal("0.00"))
    body = {
        "lines": [{"sku": variant.sku, "quantity": 1}],
        "shipping_address": GERMAN_ADDRESS,
        "shipping_method": "pickup",
    }
    data = user_client.post(QUOTE, body, format="json").json()
    assert (data["lines"][0]["tax"], data["tax_total"], data["total"]) == ("0.11", "0.11", "1.61")


def test_a_destination_without_rates_is_taxed_at_zero_and_flagged(user_client):
    variant = VariantFactory(price=Decimal("10.00"), stock=1)
    body = {
        "lines": [{"sku": variant.sku, "quantity": 1}],
        "shipping_address": {**GERMAN_ADDRESS, "country": "FR"},
    }
    data = user_client.post(QUOTE, body, format="json").json()
    assert (data["tax_total"], data["tax_rates_missing"]) == ("0.00", True)
    assert data["lines"][0]["tax_rate"] == "0.00"
