"""Contract, "Orders": placement, reads scoped to the caller, and the transitions."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from catalog.models import Variant
from tests.catalog.factories import VariantFactory
from tests.conftest import token_client
from tests.orders.factories import ADDRESS, order_place

ORDER_FIELDS = {
    "number",
    "status",
    "allowed_transitions",
    "currency",
    "lines",
    "subtotal",
    "shipping_total",
    "total",
    "shipping_address",
    "tracking_number",
    "refund_due",
    "created_at",
    "updated_at",
}


@pytest.fixture
def clerk(staff_user):
    """A staff user with the orders permissions (the "Order clerk" role)."""
    staff_user.user_permissions.add(*Permission.objects.filter(content_type__app_label="orders"))
    return staff_user


@pytest.mark.django_db
def test_placing_answers_201_pending_payment_with_copied_prices(user_client):
    variant = VariantFactory(stock=3, price=Decimal("19.90"))
    body = {
        "lines": [{"sku": variant.sku, "quantity": 1}, {"sku": variant.sku, "quantity": 1}],
        "shipping_address": ADDRESS,
    }
    response = user_client.post("/api/v1/orders/", body)
    assert response.status_code == 201
    order = response.json()
    assert set(order) >= ORDER_FIELDS
    assert order["status"] == "pending_payment"
    assert [(line["quantity"], line["line_total"]) for line in order["lines"]] == [(2, "39.80")]
    Variant.objects.filter(pk=variant.pk).update(price=Decimal("1.00"))
    again = user_client.get(f"/api/v1/orders/{order['number']}/").json()
    assert again["lines"][0]["unit_price"] == "19.90"


@pytest.mark.django_db
def test_a_short_line_is_409_with_shortages_and_nothing_is_taken(user_client):
    plenty, short = VariantFactory(stock=5), VariantFactory(stock=1)
    lines = [{"sku": plenty.sku, "quantity": 2}, {"sku": short.sku, "quantity": 3}]
    response = user_client.post("/api/v1/orders/", {"lines": lines, "shipping_address": ADDRESS})
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_stock"
    assert response.json()["shortages"] == [{"sku": short.sku, "requested": 3, "available": 1}]
    assert Variant.objects.get(pk=plenty.pk).stock == 5


@pytest.mark.django_db
def test_someone_elses_order_is_404_for_reads_and_actions(user_client):
    order = order_place()
    assert user_client.get(f"/api/v1/orders/{order.number}/").json()["code"] == "not_found"
    assert user_client.get(f"/api/v1/orders/{order.number}/events/").status_code == 404
    assert user_client.post(f"/api/v1/orders/{order.number}/cancel/").status_code == 404


@pytest.mark.django_db
def test_allowed_transitions_are_what_the_caller_may_do_now(user, user_client, clerk):
    order = order_place(user=user)
    path = f"/api/v1/orders/{order.number}/"
    assert user_client.get(path).json()["allowed_transitions"] == ["cancel"]
    clerk_client = token_client(clerk)
    assert clerk_client.get(path).json()["allowed_transitions"] == ["cancel", "mark-paid"]
    paid = clerk_client.post(f"{path}mark-paid/").json()
    assert set(paid["allowed_transitions"]) == {
        "cancel",
        "ship",
        "refund",
        "create-shipment",
        "create-refund",
    }
    forbidden = user_client.post(f"{path}ship/", {"tracking_number": "T1"})
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "permission_denied"


@pytest.mark.django_db
def test_cancelling_a_paid_order_flags_refund_due_and_returns_stock(user, user_client, clerk):
    variant = VariantFactory(stock=4)
    order = order_place(user=user, variant=variant, quantity=3)
    token_client(clerk).post(f"/api/v1/orders/{order.number}/mark-paid/")
    response = user_client.post(f"/api/v1/orders/{order.number}/cancel/")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["refund_due"]) == ("cancelled", True)
    assert Variant.objects.get(pk=variant.pk).stock == 4
    again = user_client.post(f"/api/v1/orders/{order.number}/cancel/")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"


@pytest.mark.django_db
def test_events_are_oldest_first_with_the_actor_and_the_staff_email_for_staff(
    user, user_client, clerk
):
    order = order_place(user=user)
    clerk_client = token_client(clerk)
    clerk_client.post(f"/api/v1/orders/{order.number}/mark-paid/")
    path = f"/api/v1/orders/{order.number}/events/"
    mine = user_client.get(path).json()["results"]
    assert [(e["type"], e["actor"]) for e in mine] == [("placed", "customer"), ("paid", "staff")]
    assert {"type", "from_status", "to_status", "actor", "note", "created_at"} <= set(mine[0])
    assert mine[1]["actor_email"] is None
    assert clerk_client.get(path).json()["results"][1]["actor_email"] == clerk.email


@pytest.mark.django_db
def test_orders_list_is_own_newest_first_and_filters_by_status(user, user_client, clerk):
    first, second = order_place(user=user), order_place(user=user)
    order_place()  # someone else's
    numbers = [o["number"] for o in user_client.get("/api/v1/orders/").json()["results"]]
    assert numbers == [second.number, first.number]
    assert token_client(clerk).get("/api/v1/orders/").json()["count"] == 3
    paid = user_client.get("/api/v1/orders/?status=paid").json()
    assert paid["count"] == 0
