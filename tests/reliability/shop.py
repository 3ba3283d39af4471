"""The data the fault tests seed, and the checks that nothing was lost."""

from dataclasses import dataclass

from django.db.models import Count, F, Q, Sum
from knox.models import AuthToken

from accounts.models import User
from catalog.models import Product, Variant
from orders.models import Order
from tests.accounts.factories import StaffFactory, UserFactory
from tests.catalog.factories import ProductFactory, VariantFactory
from tests.orders.factories import ADDRESS


@dataclass
class Shop:
    product: Product
    variants: list[Variant]  # all of `product`, each with plenty of stock
    customers: list[tuple[User, str]]  # (user, raw token)
    staff_token: str

    def order_body(self, *, quantity: int = 1, note: str = "") -> dict[str, object]:
        return {
            "lines": [{"sku": v.sku, "quantity": quantity} for v in self.variants[:2]],
            "shipping_address": ADDRESS,
            "note": note,
        }


def make_shop(*, customers: int = 4, stock: int = 100_000) -> Shop:
    product = ProductFactory(name="Fault tolerant hoodie")
    for _ in range(3):
        VariantFactory(product=product, stock=stock)
    variants = list(Variant.objects.filter(product=product).order_by("pk"))
    users = [UserFactory() for _ in range(customers)]
    staff = StaffFactory(is_superuser=True)
    return Shop(
        product=product,
        variants=variants,
        customers=[(user, AuthToken.objects.create(user=user)[1]) for user in users],
        staff_token=AuthToken.objects.create(user=staff)[1],
    )


def assert_stock_equals_ledger() -> None:
    drifted = list(
        Variant.objects.annotate(ledger=Sum("movements__delta"))
        .exclude(stock=F("ledger"))
        .values_list("sku", "stock", "ledger")
    )
    assert drifted == [], "stock differs from its ledger"


def assert_every_order_has_lines() -> None:
    empty = list(
        Order.objects.annotate(n=Count("lines")).filter(Q(n=0)).values_list("number", flat=True)
    )
    assert empty == [], "orders without lines"
