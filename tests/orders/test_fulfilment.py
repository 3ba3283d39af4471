"""Shipments, returns, refunds and notes through the API, as the contract's Fulfilment says."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import StockMovement
from orders import fulfilment
from orders.models import Order, OrderLine, OrderStatus, Refund
from orders.services import order_place, order_transition
from tests.accounts.factories import StaffFactory, UserFactory
from tests.catalog.factories import VariantFactory
from tests.conftest import token_client
from tests.orders.factories import ADDRESS
from tests.orders.test_payments import SECRET, post
from webhooks.models import Event

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders/"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.PAYMENT_WEBHOOK_SECRET = SECRET


def _staff():
    staff = StaffFactory()
    staff.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="orders",
            codename__in=["view_order", "cancel_order", "transition_order"],
        )
    )
    return staff


def _paid_order(user=None, quantities=(3, 2, 1), price=Decimal("5.00")):
    """A paid order of one line per quantity (SKU order = line order), and its variants."""
    variants = [VariantFactory(price=price, stock=10) for _ in quantities]
    order = order_place(
        user=user or UserFactory(),
        lines=[{"sku": v.sku, "quantity": q} for v, q in zip(variants, quantities, strict=True)],
        shipping_address=ADDRESS,
    )
    order = order_transition(order=order, action="mark-paid", user=None)
    return order, variants


def _lines(order):
    return {
        line.sku: (line.quantity_shipped, line.quantity_returned, line.quantity_refunded)
        for line in OrderLine.objects.filter(order=order)
    }


# --- Shipments --------------------------------------------------------------------------------


def test_partial_shipments_then_the_rest_ship_the_order(django_capture_on_commit_callbacks):
    order, (a, b, c) = _paid_order()
    client = token_client(_staff())
    mail.outbox.clear()
    url = f"{URL}{order.number}/shipments/"
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(
            url,
            {"lines": [{"sku": a.sku, "quantity": 2}], "tracking_number": "T1", "carrier": "DHL"},
            format="json",
        )
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["lines"] == [{"sku": a.sku, "quantity": 2}]
    assert (body["tracking_number"], body["carrier"]) == ("T1", "DHL")
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_SHIPPED
    assert _lines(order)[a.sku] == (2, 0, 0)
    (message,) = mail.outbox
    assert "T1" in message.body and order.number in message.subject

    rest = client.post(url, {"tracking_number": "T2"}, format="json")
    assert rest.status_code == 201
    assert rest.json()["lines"] == [
        {"sku": a.sku, "quantity": 1},
        {"sku": b.sku, "quantity": 2},
        {"sku": c.sku, "quantity": 1},
    ]
    detail = client.get(f"{URL}{order.number}/").json()
    assert detail["status"] == "shipped"
    assert detail["tracking_number"] == "T2"
    assert [line["quantity_shipped"] for line in detail["lines"]] == [3, 2, 1]
    assert "create-shipment" not in detail["allowed_transitions"]
    listed = client.get(url).json()
    assert [s["tracking_number"] for s in listed["results"]] == ["T1", "T2"]
    assert Event.objects.filter(type="order.shipment_created").count() == 2
    assert Event.objects.filter(type="order.partially_shipped").count() == 1
    assert Event.objects.filter(type="order.shipped").count() == 1


def test_over_shipping_is_409_and_changes_nothing():
    order, (a, b, _c) = _paid_order()
    client = token_client(_staff())
    response = client.post(
        f"{URL}{order.number}/shipments/",
        {
            "lines": [{"sku": b.sku, "quantity": 1}, {"sku": a.sku, "quantity": 4}],
            "tracking_number": "T1",
        },
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "over_fulfilment"
    assert set(response.json()["errors"]) == {"lines.1.quantity"}
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.shipments.count() == 0
    assert _lines(order)[b.sku] == (0, 0, 0)


def test_shipping_an_unknown_sku_is_400():
    order, _ = _paid_order()
    response = token_client(_staff()).post(
        f"{URL}{order.number}/shipments/",
        {"lines": [{"sku": "NOPE", "quantity": 1}], "tracking_number": "T"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"lines.0.sku": ["No line with SKU 'NOPE' in this order."]}


def test_customers_cannot_ship_and_unpaid_orders_cannot_be_shipped(user):
    order, _ = _paid_order(user=user)
    response = token_client(user).post(
        f"{URL}{order.number}/shipments/", {"tracking_number": "T"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    unpaid = order_place(
        user=user,
        lines=[{"sku": VariantFactory(stock=3).sku, "quantity": 1}],
        shipping_address=ADDRESS,
    )
    response = token_client(_staff()).post(
        f"{URL}{unpaid.number}/shipments/", {"tracking_number": "T"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "invalid_transition")


def test_the_database_refuses_shipping_more_than_ordered():
    order, _ = _paid_order()
    line = order.lines.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderLine.objects.filter(pk=line.pk).update(quantity_shipped=line.quantity + 1)


# --- Returns ----------------------------------------------------------------------------------


def _shipped(user=None):
    order, variants = _paid_order(user=user)
    fulfilment.shipment_create(order=order, user=None, tracking_number="T")
    return order, variants


def test_customer_return_approved_received_and_restocked(user, django_capture_on_commit_callbacks):
    order, (a, b, _c) = _shipped(user=user)
    staff = token_client(_staff())
    order_transition(order=order, action="deliver", user=None)
    response = token_client(user).post(
        f"{URL}{order.number}/returns/",
        {"lines": [{"sku": a.sku, "quantity": 2}, {"sku": b.sku, "quantity": 1}], "reason": "big"},
        format="json",
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "requested"
    assert created["reason"] == "big"
    return_url = f"/api/v1/returns/{created['id']}/"
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        approved = staff.post(f"{return_url}approve/", {"reason": "ok"}, format="json")
    assert approved.json()["status"] == "approved"
    assert "approved" in mail.outbox[0].subject
    received = staff.post(
        f"{return_url}receive/",
        {"lines": [{"sku": a.sku, "quantity": 2, "restock": True}, {"sku": b.sku, "quantity": 0}]},
        format="json",
    )
    assert received.status_code == 200, received.content
    assert received.json()["status"] == "received"
    assert _lines(order)[a.sku] == (3, 2, 0)
    assert _lines(order)[b.sku] == (2, 0, 0)
    a.refresh_from_db()
    assert a.stock == 9  # 10 - 3 + 2
    assert list(
        StockMovement.objects.filter(kind="return_restock").values_list("variant__sku", "delta")
    ) == [(a.sku, 2)]
    # b's unit that never came back is free to be returned again.
    again = token_client(user).post(
        f"{URL}{order.number}/returns/",
        {"lines": [{"sku": b.sku, "quantity": 2}]},
        format="json",
    )
    assert again.status_code == 201
    assert token_client(user).get(f"{URL}{order.number}/returns/").json()["count"] == 2
    for kind in ("requested", "approved", "received"):
        assert Event.objects.filter(type=f"order.return_{kind}").exists()


def test_returns_count_open_returns_against_what_shipped():
    order, (a, _b, _c) = _shipped()
    staff = token_client(_staff())
    url = f"{URL}{order.number}/returns/"
    body = {"lines": [{"sku": a.sku, "quantity": 2}]}
    assert staff.post(url, body, format="json").status_code == 201
    response = staff.post(url, body, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "over_return"
    assert set(response.json()["errors"]) == {"lines.0.quantity"}


def test_rejected_return_frees_its_units_and_tells_the_customer(
    django_capture_on_commit_callbacks,
):
    order, (a, _b, _c) = _shipped()
    staff = token_client(_staff())
    url = f"{URL}{order.number}/returns/"
    body = {"lines": [{"sku": a.sku, "quantity": 3}]}
    created = staff.post(url, body, format="json").json()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        rejected = staff.post(
            f"/api/v1/returns/{created['id']}/reject/", {"reason": "worn"}, format="json"
        )
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["decision_reason"] == "worn"
    assert "worn" in mail.outbox[0].body
    assert staff.post(url, body, format="json").status_code == 201
    again = staff.post(f"/api/v1/returns/{created['id']}/approve/", {}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")


def test_return_window_closes_for_customers_but_not_for_staff(user, settings):
    settings.RETURN_WINDOW_DAYS = 30
    order, (a, _b, _c) = _shipped(user=user)
    order_transition(order=order, action="deliver", user=None)
    Order.objects.filter(pk=order.pk).update(delivered_at=timezone.now() - timedelta(days=31))
    url = f"{URL}{order.number}/returns/"
    body = {"lines": [{"sku": a.sku, "quantity": 1}]}
    closed = token_client(user).post(url, body, format="json")
    assert (closed.status_code, closed.json()["code"]) == (409, "return_window_closed")
    detail = token_client(user).get(f"{URL}{order.number}/").json()
    assert "request-return" not in detail["allowed_transitions"]
    assert token_client(_staff()).post(url, body, format="json").status_code == 201


def test_staff_list_returns_by_status_and_customers_cannot(user):
    order, (a, _b, _c) = _shipped(user=user)
    staff = token_client(_staff())
    staff.post(
        f"{URL}{order.number}/returns/", {"lines": [{"sku": a.sku, "quantity": 1}]}, format="json"
    )
    assert staff.get("/api/v1/returns/?status=requested").json()["count"] == 1
    assert staff.get("/api/v1/returns/?status=approved").json()["count"] == 0
    assert staff.get("/api/v1/returns/?status=bogus").status_code == 400
    assert token_client(user).get("/api/v1/returns/").status_code == 403


# --- Refunds ----------------------------------------------------------------------------------


def _refund_event(order, refund_id, *, type="refund.succeeded", amount=None, id="evt_r1"):
    return {
        "id": id,
        "type": type,
        "data": {
            "order_number": order.number,
            "refund_id": refund_id,
            "amount": amount,
            "currency": order.currency,
        },
    }


def test_refund_lines_then_webhook_succeeds_and_emails(
    api_client, django_capture_on_commit_callbacks
):
    order, (a, _b, _c) = _paid_order()
    staff = token_client(_staff())
    response = staff.post(
        f"{URL}{order.number}/refunds/",
        {"lines": [{"sku": a.sku, "quantity": 2}], "reason": "damaged"},
        format="json",
    )
    assert response.status_code == 201, response.content
    refund = response.json()
    assert (refund["status"], refund["amount"], refund["tax"], refund["lines"]) == (
        "pending",
        "10.00",
        "0.00",
        [{"sku": a.sku, "quantity": 2, "amount": "10.00", "tax": "0.00"}],
    )
    detail = staff.get(f"{URL}{order.number}/").json()
    assert (detail["paid_total"], detail["refunded_total"]) == ("34.90", "10.00")
    assert detail["status"] == "paid"
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        answer = post(api_client, _refund_event(order, refund["id"], amount="10.00"))
    assert answer.json()["outcome"] == "refund_succeeded"
    assert Refund.objects.get(pk=refund["id"]).status == "succeeded"
    (message,) = mail.outbox
    assert "10.00" in message.body
    assert Event.objects.filter(type="order.refund_succeeded").count() == 1


def test_failed_refund_stops_counting_and_the_order_leaves_refunded(api_client):
    order, _ = _paid_order()
    staff = token_client(_staff())
    full = staff.post(
        f"{URL}{order.number}/refunds/", {"amount": "34.90", "reason": "all"}, format="json"
    )
    assert full.status_code == 201
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    answer = post(
        api_client, _refund_event(order, full.json()["id"], type="refund.failed", amount="34.90")
    )
    assert answer.json()["outcome"] == "refund_failed"
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (OrderStatus.PAID, Decimal("0.00"))
    again = staff.post(f"{URL}{order.number}/refunds/", {"amount": "34.90"}, format="json")
    assert again.status_code == 201


def test_refund_mismatch_changes_nothing(api_client):
    order, _ = _paid_order()
    staff = token_client(_staff())
    refund = staff.post(f"{URL}{order.number}/refunds/", {"amount": "5.00"}, format="json").json()
    wrong = post(api_client, _refund_event(order, refund["id"], amount="6.00"))
    unknown = post(api_client, _refund_event(order, 999999, amount="5.00", id="evt_r2"))
    assert wrong.json()["outcome"] == unknown.json()["outcome"] == "refund_mismatch"
    assert Refund.objects.get(pk=refund["id"]).status == "pending"
    assert order.events.filter(type="refund_mismatch").count() == 2


def test_over_refund_is_409_and_the_database_refuses_it_too():
    order, (a, _b, _c) = _paid_order()
    staff = token_client(_staff())
    url = f"{URL}{order.number}/refunds/"
    assert staff.post(url, {"amount": "30.00"}, format="json").status_code == 201
    over = staff.post(url, {"amount": "5.00"}, format="json")
    assert (over.status_code, over.json()["code"]) == (409, "over_refund")
    lines_over = staff.post(url, {"lines": [{"sku": a.sku, "quantity": 4}]}, format="json")
    assert lines_over.json()["errors"] == {
        "lines.0.quantity": [f"Only 3 of {a.sku} may be refunded."]
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(refunded_total=Decimal("34.91"))


def test_refund_with_shipping_and_restock_of_unshipped_units():
    order, (a, _b, _c) = _paid_order()
    fulfilment.shipment_create(
        order=order, user=None, tracking_number="T", lines=[{"sku": a.sku, "quantity": 1}]
    )
    staff = token_client(_staff())
    response = staff.post(
        f"{URL}{order.number}/refunds/",
        {"lines": [{"sku": a.sku, "quantity": 3}], "include_shipping": True, "restock": True},
        format="json",
    )
    assert response.json()["amount"] == "19.90"
    a.refresh_from_db()
    assert a.stock == 9  # the two unshipped units are back; they will not ship
    line = order.lines.get(sku=a.sku)
    assert (line.quantity_shipped, line.quantity_cancelled, line.quantity_refunded) == (1, 2, 3)


def test_refund_input_needs_amount_or_lines():
    order, _ = _paid_order()
    staff = token_client(_staff())
    url = f"{URL}{order.number}/refunds/"
    for body in ({}, {"amount": "1.00", "include_shipping": True}, {"amount": "0.00"}):
        response = staff.post(url, body, format="json")
        assert (response.status_code, response.json()["code"]) == (400, "invalid"), body


def test_refund_action_refunds_what_remains():
    order, _ = _paid_order()
    staff = token_client(_staff())
    staff.post(f"{URL}{order.number}/refunds/", {"amount": "4.90"}, format="json")
    response = staff.post(f"{URL}{order.number}/refund/", {"reason": "all"}, format="json")
    assert response.json()["status"] == "refunded"
    assert [r.amount for r in order.refunds.all()] == [Decimal("4.90"), Decimal("30.00")]


# --- Notes ------------------------------------------------------------------------------------


def test_notes_are_shown_to_staff_only(user):
    order, _ = _paid_order(user=user)
    staff = token_client(_staff())
    response = staff.post(f"{URL}{order.number}/notes/", {"text": "Call first"}, format="json")
    assert response.status_code == 201
    assert (response.json()["type"], response.json()["note"]) == ("note_added", "Call first")
    staff_types = [e["type"] for e in staff.get(f"{URL}{order.number}/events/").json()["results"]]
    own_types = [
        e["type"] for e in token_client(user).get(f"{URL}{order.number}/events/").json()["results"]
    ]
    assert "note_added" in staff_types
    assert "note_added" not in own_types
    assert (
        token_client(user)
        .post(f"{URL}{order.number}/notes/", {"text": "hi"}, format="json")
        .status_code
        == 403
    )
    too_long = staff.post(f"{URL}{order.number}/notes/", {"text": "x" * 2001}, format="json")
    assert too_long.status_code == 400
    assert Event.objects.filter(type="order.note_added").count() == 1


# --- Statements -------------------------------------------------------------------------------


def _statements(captured) -> list[str]:
    """The SQL a service ran, without the savepoints of the test's own transaction."""
    return [q["sql"] for q in captured if "SAVEPOINT" not in q["sql"]]


def test_statements_per_shipment_and_per_refund():
    """A shipment and a refund of three lines each take a fixed number of statements.

    The shipment that ships the order completely adds the status change (an
    UPDATE of the order either way, plus its OrderEvent and outbox event).
    """
    order, _ = _paid_order()
    staff = _staff()
    staff.get_all_permissions()  # the permission cache, as a request has it after auth
    skus = [{"sku": line.sku, "quantity": 1} for line in order.lines.all()]
    with CaptureQueriesContext(connection) as partial:
        fulfilment.shipment_create(order=order, user=staff, tracking_number="T", lines=skus)
    with CaptureQueriesContext(connection) as rest:
        fulfilment.shipment_create(order=order, user=staff, tracking_number="T2")
    with CaptureQueriesContext(connection) as refund:
        fulfilment.refund_create(order=order, user=staff, lines=skus)
    # lock order, read lines, shipment, its lines, counters, event, outbox, order (+2 to ship),
    # the customer's email in the email outbox
    assert len(_statements(partial)) == 8 + 2 + 1, _statements(partial)
    assert len(_statements(rest)) == 8 + 2 + 1, _statements(rest)
    # lock order, read lines, refund, its lines, counters, event, outbox, order
    assert len(_statements(refund)) == 8, _statements(refund)


def test_fulfilment_emails_wait_in_the_email_outbox_until_the_broker_is_back(broker_unreachable):
    """Like every customer email: a row in the change's transaction, sent by the sweep."""
    from emails.models import EmailKind, EmailStatus, OutgoingEmail
    from emails.services import emails_sweep

    order, _ = _paid_order()
    mail.outbox.clear()
    shipment = fulfilment.shipment_create(order=order, user=_staff(), tracking_number="T9")
    (email,) = OutgoingEmail.objects.filter(kind=EmailKind.ORDER_SHIPMENT_CREATED)
    assert (email.order_id, email.record_id, email.status) == (
        order.pk,
        shipment.pk,
        EmailStatus.PENDING,
    )
    assert mail.outbox == []
    assert emails_sweep() >= 1
    assert any("T9" in message.body for message in mail.outbox)
