"""Refunds recorded before refunds kept their tax get it from their order, as it was priced."""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("orders", "0007_idempotencykey_to_core")
AFTER = ("orders", "0008_refund_tax")


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


def test_existing_refunds_get_their_lines_amounts_and_their_tax():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    # Every other app as it is now (their tables are), orders before the migration.
    others = [node for node in latest if node[0] != "orders"]
    try:
        old = _migrate([*others, BEFORE])
        user = old.get_model("accounts", "User").objects.create(email="r@example.com")
        category = old.get_model("catalog", "Category").objects.create(name="C", slug="rt-c")
        product = old.get_model("catalog", "Product").objects.create(
            name="P", slug="rt-p", category=category
        )
        variant = old.get_model("catalog", "Variant").objects.create(
            product=product, sku="RT-1", price=Decimal("12.99")
        )
        # Two units at 12.99 less a 2.60 voucher: 23.38 paid, 1.53 of it VAT (7 %);
        # shipping 4.90 with 0.78 VAT.
        order = old.get_model("orders", "Order").objects.create(
            number="SR-REFUNDTAX1",
            user=user,
            currency="EUR",
            status="paid",
            subtotal=Decimal("25.98"),
            discount_total=Decimal("2.60"),
            shipping_total=Decimal("4.90"),
            tax_total=Decimal("2.31"),
            total=Decimal("28.28"),
            paid_total=Decimal("28.28"),
            refunded_total=Decimal("21.69"),
            shipping_city="Köln",
            shipping_postal_code="51147",
            shipping_country="DE",
        )
        line = old.get_model("orders", "OrderLine").objects.create(
            order=order,
            variant=variant,
            sku="RT-1",
            product_name="P",
            unit_price=Decimal("12.99"),
            quantity=2,
            voucher_discount=Decimal("2.60"),
            tax_rate=Decimal("7.00"),
            tax=Decimal("1.53"),
            line_total=Decimal("23.38"),
            quantity_refunded=1,
        )
        Refund = old.get_model("orders", "Refund")
        by_line = Refund.objects.create(order=order, amount=Decimal("11.69"))
        old.get_model("orders", "RefundLine").objects.create(
            refund=by_line, order_line=line, quantity=1
        )
        goodwill = Refund.objects.create(order=order, amount=Decimal("10.00"))
        new = _migrate([*others, AFTER])
        refund_line = new.get_model("orders", "RefundLine").objects.get()
        # Half the line: 11.69, and half its tax, 0.765 rounded half up.
        assert (refund_line.amount, refund_line.tax) == (Decimal("11.69"), Decimal("0.77"))
        refunds = new.get_model("orders", "Refund").objects
        # Each refund's share of the order's tax: 11.69 x 2.31 / 28.28 = 0.9548...,
        # 10.00 x 2.31 / 28.28 = 0.8168...
        assert refunds.get(pk=by_line.pk).tax == Decimal("0.95")
        assert refunds.get(pk=goodwill.pk).tax == Decimal("0.82")
    finally:
        _migrate(latest)
