"""The fulfilment migration keeps existing orders and fills the counters their status implies."""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("orders", "0003_orderline_sku_prefix_index")]
AFTER = [("orders", "0004_fulfilment_shipments_returns_refunds")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_existing_orders_get_paid_shipped_and_refunded_counters():
    old = _migrate(BEFORE)
    user = old.get_model("accounts", "User").objects.create(email="m@example.com")
    category = old.get_model("catalog", "Category").objects.create(name="C", slug="mig-c")
    product = old.get_model("catalog", "Product").objects.create(
        name="P", slug="mig-p", category=category
    )
    variant = old.get_model("catalog", "Variant").objects.create(
        product=product, sku="MIG-1", price=Decimal("5.00")
    )
    Order = old.get_model("orders", "Order")
    numbers: dict[tuple[str, str], str] = {}
    for status, tracking in (
        ("pending_payment", ""),
        ("paid", ""),
        ("delivered", "T1"),
        ("refunded", "T2"),
        ("refunded", ""),
    ):
        order = Order.objects.create(
            number=f"SR-MIG{len(numbers)}",
            user=user,
            status=status,
            currency="EUR",
            subtotal=Decimal("10.00"),
            shipping_total=Decimal("4.90"),
            total=Decimal("14.90"),
            shipping_city="London",
            shipping_postal_code="N1",
            shipping_country="GB",
            tracking_number=tracking,
        )
        old.get_model("orders", "OrderLine").objects.create(
            order=order,
            variant=variant,
            sku="MIG-1",
            product_name="P",
            unit_price=Decimal("5.00"),
            quantity=2,
            line_total=Decimal("10.00"),
        )
        numbers[(status, tracking)] = order.number

    new = _migrate(AFTER)
    Order = new.get_model("orders", "Order")

    def counters(key):
        order = Order.objects.get(number=numbers[key])
        line = order.lines.get()
        return (
            order.paid_total,
            order.refunded_total,
            order.delivered_at is not None,
            line.quantity_shipped,
            line.quantity_refunded,
        )

    zero, total = Decimal("0.00"), Decimal("14.90")
    assert counters(("pending_payment", "")) == (zero, zero, False, 0, 0)
    assert counters(("paid", "")) == (total, zero, False, 0, 0)
    assert counters(("delivered", "T1")) == (total, zero, True, 2, 0)
    assert counters(("refunded", "T2")) == (total, total, False, 2, 2)
    assert counters(("refunded", "")) == (total, total, False, 0, 2)


@pytest.fixture(autouse=True)
def _back_to_the_latest_schema():
    """Leave the database as every other test expects it: all migrations applied."""
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    yield
    _migrate(latest)
