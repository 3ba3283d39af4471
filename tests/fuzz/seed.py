"""A small world for the live-server tests: two customers, a staff member, their objects."""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from knox.models import AuthToken

from tests.accounts.factories import AddressFactory, StaffFactory, UserFactory
from tests.catalog.factories import CategoryFactory, ProductFactory, VariantFactory
from tests.orders.factories import order_place
from tests.webhooks.factories import EndpointFactory


@dataclass
class Caller:
    user: Any
    token: str
    # One object of each kind this caller owns, by the path parameter that names it.
    owns: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    alice: Caller
    bob: Caller
    staff: Caller
    # Public objects (catalog) by path parameter, for the staff-operation checks.
    public: dict[str, str]


def token_for(user: Any) -> str:
    _, key = AuthToken.objects.create(user=user)
    return key


def world_build() -> World:
    """Committed rows (the caller's test must use transaction=True): the server sees them."""
    category = CategoryFactory(slug="fuzz-category")
    product = ProductFactory(slug="fuzz-product", category=category)
    variant = VariantFactory(product=product, sku="FUZZ-1", price=Decimal("12.50"), stock=10_000)
    VariantFactory(product=product, sku="FUZZ-2", price=Decimal("3.00"), stock=10_000)

    callers = {}
    for name in ("alice", "bob"):
        user = UserFactory(email=f"{name}@example.com", first_name=name.title())
        address = AddressFactory(user=user, full_name=f"{name.title()} Private")
        order = order_place(user=user, variant=variant, quantity=1)
        callers[name] = Caller(
            user=user,
            token=token_for(user),
            owns={"id": str(address.pk), "number": order.number},
        )
    staff = StaffFactory(email="staff@example.com", is_superuser=True)
    endpoint = EndpointFactory()
    return World(
        alice=callers["alice"],
        bob=callers["bob"],
        staff=Caller(user=staff, token=token_for(staff), owns={"id": str(endpoint.pk)}),
        public={"slug": product.slug, "sku": variant.sku, "category": category.slug},
    )
