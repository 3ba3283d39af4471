"""An ERP pushing counts while customers buy: the ledger explains every unit."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.db.models import Sum
from knox.models import AuthToken
from rest_framework.test import APIClient

from catalog.models import StockMovement, StockMovementKind
from orders.models import Order, OrderLine
from tests.accounts.factories import UserFactory
from tests.catalog.factories import VariantFactory
from tests.integrations.factories import key_client
from tests.orders.factories import ADDRESS

pytestmark = pytest.mark.django_db(transaction=True)

# The last count is above the one before (and sales only lower stock): it always moves stock.
COUNTS = [40, 55, 30, 60, 35, 50]
BUYERS = 6
ORDERS_EACH = 6


def test_counts_pushed_while_customers_buy_leave_stock_equal_to_the_ledger(make_integration):
    variant = VariantFactory(stock=50)
    _, key = make_integration("Catalog manager")
    tokens = [AuthToken.objects.create(user=UserFactory())[1] for _ in range(BUYERS)]
    barrier = threading.Barrier(BUYERS + 1)
    order_body = {"lines": [{"sku": variant.sku, "quantity": 1}], "shipping_address": ADDRESS}

    def erp() -> list[int]:
        try:
            client = key_client(key)
            barrier.wait(timeout=30)
            statuses = []
            for count in COUNTS:
                body = {"items": [{"sku": variant.sku, "set_to": count}], "reason": "ERP count"}
                statuses.append(
                    client.post("/api/v1/stock/bulk-adjustments/", body, format="json").status_code
                )
            return statuses
        finally:
            connection.close()

    def buyer(index: int) -> list[int]:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {tokens[index]}")
            barrier.wait(timeout=30)
            return [
                client.post("/api/v1/orders/", order_body, format="json").status_code
                for _ in range(ORDERS_EACH)
            ]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=BUYERS + 1) as pool:
        erp_result = pool.submit(erp)
        buyer_results = list(pool.map(buyer, range(BUYERS)))
    assert erp_result.result() == [200] * len(COUNTS)
    assert {s for statuses in buyer_results for s in statuses} <= {201, 409}

    variant.refresh_from_db()
    movements = StockMovement.objects.filter(variant=variant)
    assert variant.stock == movements.aggregate(s=Sum("delta"))["s"]
    sold = OrderLine.objects.filter(variant=variant).aggregate(q=Sum("quantity"))["q"] or 0
    taken = -(
        movements.filter(kind=StockMovementKind.ORDER_PLACED).aggregate(s=Sum("delta"))["s"] or 0
    )
    assert sold == taken == Order.objects.count() > 0
    for order in Order.objects.all():
        assert movements.filter(order_number=order.number).aggregate(s=Sum("delta"))["s"] == -1
    # The ledger ids follow the variant's lock: what the last count said, minus what sold after.
    last_count = movements.filter(kind=StockMovementKind.COUNT).order_by("-pk").first()
    assert last_count is not None
    stock_at_last_count = movements.filter(pk__lte=last_count.pk).aggregate(s=Sum("delta"))["s"]
    assert stock_at_last_count == COUNTS[-1]
    later_sales = movements.filter(pk__gt=last_count.pk).aggregate(s=Sum("delta"))["s"] or 0
    assert variant.stock == COUNTS[-1] + later_sales
