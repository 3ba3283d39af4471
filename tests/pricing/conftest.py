from decimal import Decimal

import pytest

from tests.catalog.factories import ProductFactory, VariantFactory
from tests.pricing.factories import (
    GERMAN_ADDRESS,
    ShippingMethodFactory,
    TaxRateFactory,
    VoucherFactory,
)


@pytest.fixture
def german_cart(db):
    """An order body: German VAT, two books (7 %), headphones (19 %), a voucher, DHL."""
    TaxRateFactory(country="DE", tax_class_id="standard", rate=Decimal("19.00"))
    TaxRateFactory(country="DE", tax_class_id="reduced", rate=Decimal("7.00"))
    ShippingMethodFactory(code="dhl", name="DHL Paket", countries=["DE"], price=Decimal("4.90"))
    VoucherFactory(code="WILLKOMMEN10", kind="percentage", value=Decimal("10.00"))
    book = VariantFactory(
        product=ProductFactory(tax_class_id="reduced"), price=Decimal("12.99"), stock=10
    )
    headphones = VariantFactory(price=Decimal("59.90"), stock=10)
    return {
        "lines": [{"sku": book.sku, "quantity": 2}, {"sku": headphones.sku, "quantity": 1}],
        "shipping_address": GERMAN_ADDRESS,
        "shipping_method": "dhl",
        "voucher_code": "willkommen10",
    }
