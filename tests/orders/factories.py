from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from orders import services
from orders.models import Order, order_number_generate
from tests.accounts.factories import UserFactory
from tests.catalog.factories import VariantFactory

ADDRESS = {
    "full_name": "Ada Lovelace",
    "line1": "12 Analytical Street",
    "line2": "Flat 3",
    "city": "London",
    "postal_code": "N1 9GU",
    "country": "GB",
    "phone": "+44 20 7946 0000",
}


def order_place(*, user=None, quantity=1, variant=None, price=Decimal("10.00"), stock=10):
    """A real order placed through the service (stock taken, ledger written)."""
    variant = variant or VariantFactory(price=price, stock=stock)
    return services.order_place(
        user=user or UserFactory(),
        lines=[{"sku": variant.sku, "quantity": quantity}],
        shipping_address=ADDRESS,
    )


class OrderFactory(DjangoModelFactory):
    """A bare order row (no lines, no stock): for list, filter and admin tests."""

    class Meta:
        model = Order

    number = factory.LazyFunction(order_number_generate)
    user = factory.SubFactory(UserFactory)
    currency = "EUR"
    subtotal = Decimal("10.00")
    shipping_total = Decimal("4.90")
    total = Decimal("14.90")
    shipping_full_name = "Ada Lovelace"
    shipping_line1 = "12 Analytical Street"
    shipping_city = "London"
    shipping_postal_code = "N1 9GU"
    shipping_country = "GB"
