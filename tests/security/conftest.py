"""A world of two customers (alice, bob), a staff member and their objects, plus the schema."""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.roles import roles_setup
from integrations.services import api_key_create, integration_create
from orders import fulfilment
from orders.services import order_transition
from tests.accounts.factories import AddressFactory, StaffFactory, UserFactory
from tests.catalog.factories import CategoryFactory, ProductFactory, VariantFactory
from tests.conftest import token_client
from tests.fuzz.conftest import live_static_root, server  # noqa: F401  (the live gunicorn fixtures)
from tests.orders.factories import order_place
from tests.pricing.factories import PromotionFactory, TaxRateFactory, VoucherFactory
from tests.webhooks.factories import EndpointFactory


@dataclass
class Person:
    user: Any
    client: APIClient
    # Values for path parameters naming this person's own objects.
    owns: dict[str, str] = field(default_factory=dict)
    # Strings that must never appear in a response to anybody else.
    secrets: list[str] = field(default_factory=list)


@dataclass
class World:
    alice: Person
    bob: Person
    staff: Person
    anonymous: APIClient
    values: dict[str, str]


@pytest.fixture(scope="session")
def openapi() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(openapi: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in openapi["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _person(name: str) -> Person:
    user = UserFactory(email=f"{name}@example.com", first_name=f"{name.title()}first")
    address = AddressFactory(user=user, full_name=f"{name.title()} Private", city=f"{name}ville")
    order = order_place(user=user, quantity=1)
    # A second order, shipped, with a return waiting for a decision.
    returned = order_place(user=user, quantity=1)
    order_transition(order=returned, action="mark-paid", user=None)
    fulfilment.shipment_create(order=returned, user=None, tracking_number="T")
    order_return = fulfilment.return_request(
        order=returned, user=None, lines=[{"sku": returned.lines.get().sku, "quantity": 1}]
    )
    return Person(
        user=user,
        client=token_client(user),
        owns={
            "id": str(address.pk),
            "number": order.number,
            "return": str(order_return.pk),
            "sku": order.lines.get().sku,
        },
        secrets=[user.email, address.full_name, address.city, order.number, returned.number],
    )


@pytest.fixture
def world(db) -> World:
    category = CategoryFactory(slug="sec-category")
    product = ProductFactory(slug="sec-product", category=category)
    variant = VariantFactory(product=product, sku="SEC-1", price=Decimal("9.00"), stock=50)
    alice, bob = _person("alice"), _person("bob")
    staff_user = StaffFactory(email="staff@example.com", is_superuser=True)
    endpoint = EndpointFactory()
    tax_rate = TaxRateFactory(country="GB", tax_class_id="standard")
    voucher, promotion = VoucherFactory(), PromotionFactory()
    roles_setup(warn=lambda message: None)
    integration = integration_create(name="Security ERP", role="Catalog manager")
    api_key = api_key_create(integration=integration).api_key
    staff = Person(user=staff_user, client=token_client(staff_user), owns=dict(alice.owns))
    values = {
        "alice_sku": alice.owns["sku"],
        "category": category.slug,
        "product": product.slug,
        "sku": variant.sku,
        "endpoint": str(endpoint.pk),
        "tax-rate": str(tax_rate.pk),
        "voucher": str(voucher.pk),
        "promotion": str(promotion.pk),
        "integration": str(integration.pk),
        "api_key": str(api_key.pk),
    }
    return World(alice=alice, bob=bob, staff=staff, anonymous=APIClient(), values=values)


def path_for(path: str, *, owner: Person, world: World) -> str:
    """Fill a schema path's parameters with objects `owner` may see (their own, or public ones)."""
    if path.startswith("/api/v1/categories/"):
        path = path.replace("{slug}", world.values["category"])
    if path.startswith("/api/v1/products/"):
        path = path.replace("{slug}", world.values["product"])
    if path.startswith("/api/v1/webhooks/"):
        path = path.replace("{id}", world.values["endpoint"])
    if path.startswith("/api/v1/returns/"):
        path = path.replace("{id}", owner.owns["return"])
    for prefix in ("tax-rate", "voucher", "promotion"):
        if path.startswith(f"/api/v1/{prefix}s/"):
            path = path.replace("{id}", world.values[prefix])
    if path.startswith("/api/v1/integrations/{integration_id}/keys/"):
        path = path.replace("{id}", world.values["api_key"])
    if path.startswith("/api/v1/integrations/"):
        path = path.replace("{integration_id}", world.values["integration"])
        path = path.replace("{id}", world.values["integration"])
    if path.startswith("/api/v1/customers/"):
        path = path.replace("{id}", str(owner.user.pk))
    path = path.replace("{sku}", world.values["sku"])
    # The seeded shipping method and tax class: public, or staff-only, never a customer's.
    path = path.replace("{code}", "standard")
    for name, value in owner.owns.items():
        path = path.replace("{" + name + "}", value)
    return path


def fill(body: Any, world: World) -> Any:
    """Substitute `{category}`-style placeholders in a template body."""
    if isinstance(body, dict):
        return {key: fill(value, world) for key, value in body.items()}
    if isinstance(body, list):
        return [fill(item, world) for item in body]
    if isinstance(body, str) and body.startswith("{") and body.endswith("}"):
        return world.values[body[1:-1]]
    return body


def send(client: APIClient, method: str, path: str, body: Any = None):
    if method in {"GET", "DELETE"} and not body:
        return getattr(client, method.lower())(path)
    return getattr(client, method.lower())(path, body or {}, format="json")
