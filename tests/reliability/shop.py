"""The data the fault tests seed, and the checks that nothing was lost."""

from dataclasses import dataclass

from django.db.models import Count, F, Max, Q, Sum
from knox.models import AuthToken

from accounts.models import User
from catalog.models import Product, StockMovement, StockMovementKind, Variant
from orders.models import Order, OrderLine, OrderStatus
from tests.accounts.factories import StaffFactory, UserFactory
from tests.catalog.factories import ProductFactory, VariantFactory
from tests.orders.factories import ADDRESS


@dataclass
class Shop:
    product: Product
    variants: list[Variant]  # all of `product`, each with plenty of stock
    customers: list[tuple[User, str]]  # (user, raw token)
    staff_token: str
    initial_stock: dict[int, int]  # variant pk -> stock when seeded
    last_seeded_movement: int  # ledger rows after this one are the test's

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
        initial_stock={v.pk: v.stock for v in variants},
        last_seeded_movement=StockMovement.objects.aggregate(last=Max("pk"))["last"] or 0,
    )


def assert_stock_conserved(shop: Shop) -> None:
    """Per variant: seeded stock + staff adjustments - units on live orders = stock.

    Stock equal to its ledger still passes an order committed without taking
    its stock (no movement either); this does not. Live: not cancelled.
    """
    later = StockMovement.objects.filter(pk__gt=shop.last_seeded_movement)
    kinds = set(later.values_list("kind", flat=True))
    expected_kinds = {
        StockMovementKind.ADJUSTMENT,
        StockMovementKind.ORDER_PLACED,
        StockMovementKind.ORDER_CANCELLED,
    }
    assert kinds <= expected_kinds, f"movements this check does not account for: {kinds}"
    adjusted = dict(
        later.filter(kind=StockMovementKind.ADJUSTMENT)
        .values("variant")
        .annotate(total=Sum("delta"))
        .values_list("variant", "total")
    )
    held = dict(
        OrderLine.objects.exclude(order__status=OrderStatus.CANCELLED)
        .values("variant")
        .annotate(total=Sum("quantity"))
        .values_list("variant", "total")
    )
    stock = dict(Variant.objects.filter(pk__in=shop.initial_stock).values_list("pk", "stock"))
    expected = {
        pk: initial + adjusted.get(pk, 0) - held.get(pk, 0)
        for pk, initial in shop.initial_stock.items()
    }
    assert stock == expected, "stock is not seeded stock + adjustments - units on live orders"


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
