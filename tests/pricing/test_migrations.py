"""Existing installs: orders placed before pricing keep their totals, with tax 0 and discount 0."""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [
    ("orders", "0004_fulfilment_shipments_returns_refunds"),
    ("catalog", "0012_stockmovement_return_restock"),
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


def test_orders_and_products_from_before_pricing_keep_their_meaning():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        MigrationExecutor(connection).migrate([("pricing", None)])
        old = _migrate(BEFORE)
        user = old.get_model("accounts", "User").objects.create(email="old@example.com")
        category = old.get_model("catalog", "Category").objects.create(name="C", slug="c")
        product = old.get_model("catalog", "Product").objects.create(
            name="P", slug="p", category=category, is_published=True
        )
        variant = old.get_model("catalog", "Variant").objects.create(
            product=product, sku="OLD-1", price=Decimal("10.00")
        )
        order = old.get_model("orders", "Order").objects.create(
            number="SR-OLD0000001",
            user=user,
            currency="EUR",
            subtotal=Decimal("20.00"),
            shipping_total=Decimal("4.90"),
            total=Decimal("24.90"),
            shipping_city="Berlin",
            shipping_postal_code="10115",
            shipping_country="DE",
        )
        old.get_model("orders", "OrderLine").objects.create(
            order=order,
            variant=variant,
            sku="OLD-1",
            product_name="P",
            unit_price=Decimal("10.00"),
            quantity=2,
            line_total=Decimal("20.00"),
        )
    finally:
        new = _migrate(latest)

    order = new.get_model("orders", "Order").objects.get(number="SR-OLD0000001")
    assert (order.subtotal, order.discount_total, order.shipping_total) == (
        Decimal("20.00"),
        Decimal("0.00"),
        Decimal("4.90"),
    )
    assert (order.tax_total, order.total, order.voucher_code) == (
        Decimal("0.00"),
        Decimal("24.90"),
        "",
    )
    line = new.get_model("orders", "OrderLine").objects.get(order=order)
    assert (line.tax, line.tax_rate, line.promotion_discount, line.voucher_discount) == (0, 0, 0, 0)
    assert line.line_total == Decimal("20.00")
    assert new.get_model("catalog", "Product").objects.get(slug="p").tax_class_id == "standard"
    assert new.get_model("catalog", "Variant").objects.get(sku="OLD-1").weight_grams == 0
    method = new.get_model("pricing", "ShippingMethod").objects.get(code="standard")
    assert (method.rule, method.price, method.free_from, method.countries) == (
        "free_from",
        Decimal("4.90"),
        Decimal("50.00"),
        [],
    )
