from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from pricing.models import Promotion, ShippingMethod, TaxRate, Voucher


class TaxRateFactory(DjangoModelFactory):
    class Meta:
        model = TaxRate
        django_get_or_create = ("country", "tax_class_id")

    country = "DE"
    tax_class_id = "standard"
    rate = Decimal("19.00")


class ShippingMethodFactory(DjangoModelFactory):
    class Meta:
        model = ShippingMethod

    code = factory.Sequence(lambda n: f"method-{n}")
    name = factory.Sequence(lambda n: f"Method {n}")
    countries = factory.LazyFunction(list)
    rule = "flat"
    price = Decimal("4.90")


class VoucherFactory(DjangoModelFactory):
    class Meta:
        model = Voucher

    code = factory.Sequence(lambda n: f"CODE{n}")
    kind = "percentage"
    value = Decimal("10.00")


class PromotionFactory(DjangoModelFactory):
    class Meta:
        model = Promotion

    name = factory.Sequence(lambda n: f"Promotion {n}")
    kind = "percentage"
    value = Decimal("10.00")


GERMAN_ADDRESS = {
    "full_name": "Erika Mustermann",
    "line1": "Heidestraße 17",
    "city": "Köln",
    "postal_code": "51147",
    "country": "DE",
}
