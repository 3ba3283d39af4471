"""Vouchers through the API: every reason code, counting, and release on cancel."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Order
from pricing.models import Voucher, VoucherRedemption
from tests.accounts.factories import UserFactory
from tests.catalog.factories import CategoryFactory, ProductFactory, VariantFactory
from tests.conftest import token_client
from tests.pricing.factories import GERMAN_ADDRESS, PromotionFactory, VoucherFactory

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"
QUOTE = "/api/v1/orders/quote/"


def _body(variant, code, quantity=1):
    return {
        "lines": [{"sku": variant.sku, "quantity": quantity}],
        "shipping_address": GERMAN_ADDRESS,
        "voucher_code": code,
    }


@pytest.fixture
def variant():
    return VariantFactory(price=Decimal("20.00"), stock=100)


def _refused(client, body, reason):
    stock_before = {v.pk: v.stock for v in VariantFactory._meta.model.objects.all()}
    response = client.post(ORDERS, body, format="json")
    assert response.status_code == 400, response.content
    data = response.json()
    assert (data["code"], data["reason"]) == ("voucher_invalid", reason)
    assert "voucher_code" in data["errors"]
    assert {v.pk: v.stock for v in VariantFactory._meta.model.objects.all()} == stock_before
    quote = client.post(QUOTE, body, format="json").json()
    assert quote["voucher"] == {"code": body["voucher_code"], "valid": False, "reason": reason}
    assert quote["discount_total"] == "0.00"


def test_unknown_and_inactive_codes_are_unknown(user_client, variant):
    VoucherFactory(code="OFF", active=False)
    _refused(user_client, _body(variant, "NOPE"), "unknown")
    _refused(user_client, _body(variant, "off"), "unknown")


def test_a_voucher_outside_its_window_is_not_started_or_expired(user_client, variant):
    now = timezone.now()
    VoucherFactory(code="SOON", starts_at=now + timedelta(days=1))
    VoucherFactory(code="GONE", ends_at=now - timedelta(seconds=1))
    _refused(user_client, _body(variant, "SOON"), "not_started")
    _refused(user_client, _body(variant, "GONE"), "expired")


def test_minimum_subtotal_and_targets(user_client, variant):
    VoucherFactory(code="BIG", min_subtotal=Decimal("100.00"))
    VoucherFactory(code="ELSEWHERE").categories.add(CategoryFactory())
    _refused(user_client, _body(variant, "BIG"), "minimum_not_met")
    _refused(user_client, _body(variant, "ELSEWHERE"), "not_applicable")
    assert (
        user_client.post(ORDERS, _body(variant, "BIG", quantity=5), format="json").status_code
        == 201
    )


def test_a_category_voucher_covers_its_sub_categories(user_client):
    parent = CategoryFactory()
    child = CategoryFactory(parent=parent)
    inside = VariantFactory(product=ProductFactory(category=child), price=Decimal("10.00"), stock=5)
    outside = VariantFactory(price=Decimal("10.00"), stock=5)
    VoucherFactory(code="PARENT", value=Decimal("50.00")).categories.add(parent)
    body = {
        "lines": [{"sku": inside.sku, "quantity": 1}, {"sku": outside.sku, "quantity": 1}],
        "shipping_address": GERMAN_ADDRESS,
        "voucher_code": "parent",
    }
    data = user_client.post(ORDERS, body, format="json").json()
    assert [line["discount"] for line in data["lines"]] == ["5.00", "0.00"]


def test_exhausted_and_per_customer_limits(variant):
    VoucherFactory(code="ONCE", usage_limit_per_customer=1)
    VoucherFactory(code="TWO", usage_limit=2)
    alice, bob, carol = (token_client(UserFactory()) for _ in range(3))
    assert alice.post(ORDERS, _body(variant, "once"), format="json").status_code == 201
    _refused(alice, _body(variant, "ONCE"), "customer_limit")
    assert bob.post(ORDERS, _body(variant, "ONCE"), format="json").status_code == 201
    assert alice.post(ORDERS, _body(variant, "TWO"), format="json").status_code == 201
    assert bob.post(ORDERS, _body(variant, "TWO"), format="json").status_code == 201
    _refused(carol, _body(variant, "TWO"), "exhausted")
    assert Voucher.objects.get(code="TWO").times_used == 2


def test_cancelling_an_unpaid_order_frees_its_redemption(user_client, variant, staff_user):
    VoucherFactory(code="LAST", usage_limit=1)
    number = user_client.post(ORDERS, _body(variant, "LAST"), format="json").json()["number"]
    assert VoucherRedemption.objects.count() == 1
    assert user_client.post(f"{ORDERS}{number}/cancel/", {}, format="json").status_code == 200
    assert Voucher.objects.get(code="LAST").times_used == 0
    assert not VoucherRedemption.objects.exists()
    again = user_client.post(ORDERS, _body(variant, "LAST"), format="json")
    assert again.status_code == 201, again.content
    assert again.json()["voucher_code"] == "LAST"


def test_cancelling_a_paid_order_keeps_the_redemption(user_client, variant):
    from orders.services import order_transition

    VoucherFactory(code="KEEP", usage_limit=5)
    number = user_client.post(ORDERS, _body(variant, "KEEP"), format="json").json()["number"]
    order = Order.objects.get(number=number)
    order_transition(order=order, action="mark-paid", user=None)
    order_transition(order=order, action="cancel", user=None)
    assert Voucher.objects.get(code="KEEP").times_used == 1


def test_free_shipping_voucher_and_promotion_before_voucher(user_client, variant):
    PromotionFactory(kind="fixed", value=Decimal("2.00"))  # 2.00 off per unit
    PromotionFactory(kind="percentage", value=Decimal("5.00"))  # 1.00 off: not the best
    VoucherFactory(code="HALF", value=Decimal("50.00"))
    data = user_client.post(QUOTE, _body(variant, "HALF", quantity=2), format="json").json()
    # 40.00, promotion 4.00, then half of the 36.00 left: 18.00; 22.00 in all.
    assert (data["discount_total"], data["lines"][0]["line_total"]) == ("22.00", "18.00")
    VoucherFactory(code="SHIPFREE", kind="free_shipping")
    data = user_client.post(QUOTE, _body(variant, "SHIPFREE"), format="json").json()
    assert (data["shipping_total"], data["discount_total"]) == ("0.00", "2.00")
    assert data["total"] == "18.00"


def test_a_voucher_costs_a_placement_three_statements(variant):
    """Its lookup, the guarded UPDATE that counts the use, the redemption row."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from orders.services import order_place

    VoucherFactory(code="COUNTED", usage_limit=10)
    user = UserFactory()
    lines = [{"sku": variant.sku, "quantity": 1}]
    with CaptureQueriesContext(connection) as plain:
        order_place(user=user, lines=lines, shipping_address=GERMAN_ADDRESS)
    with CaptureQueriesContext(connection) as with_voucher:
        order_place(user=user, lines=lines, shipping_address=GERMAN_ADDRESS, voucher_code="counted")
    extra = [q["sql"] for q in with_voucher.captured_queries[len(plain.captured_queries) :]]
    assert len(with_voucher.captured_queries) - len(plain.captured_queries) == 3, extra
