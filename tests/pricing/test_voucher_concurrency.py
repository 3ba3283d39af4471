"""Voucher limits under real concurrency: the guarded UPDATE and the CHECK hold."""

from collections import Counter
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection

from orders.models import Order
from pricing.models import Voucher, VoucherRedemption
from tests.accounts.factories import UserFactory
from tests.catalog.factories import VariantFactory
from tests.orders.test_concurrency import _client, _token, run_at_once
from tests.pricing.factories import GERMAN_ADDRESS, VoucherFactory

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS = "/api/v1/orders/"


def test_fifty_orders_for_a_voucher_limited_to_ten_discount_exactly_ten():
    variant = VariantFactory(price=Decimal("10.00"), stock=100)
    VoucherFactory(code="TEN", usage_limit=10, value=Decimal("10.00"))
    tokens = [_token(UserFactory()) for _ in range(10)]
    body = {
        "lines": [{"sku": variant.sku, "quantity": 1}],
        "shipping_address": GERMAN_ADDRESS,
        "voucher_code": "ten",
    }

    def buy(index: int) -> tuple[int, str]:
        response = _client(tokens[index % 10]).post(ORDERS, body, format="json")
        data = response.json()
        return response.status_code, data.get("reason") or data.get("discount_total", "")

    results = Counter(run_at_once(50, buy))
    assert results == {(201, "1.00"): 10, (400, "exhausted"): 40}
    assert Voucher.objects.get().times_used == 10
    assert VoucherRedemption.objects.count() == Order.objects.count() == 10
    variant.refresh_from_db()
    assert variant.stock == 90


def test_the_database_refuses_more_uses_than_the_limit():
    voucher = VoucherFactory(code="CHECKED", usage_limit=1)
    with pytest.raises(IntegrityError), connection.cursor() as cursor:
        cursor.execute("UPDATE pricing_voucher SET times_used = 2 WHERE id = %s", [voucher.pk])
