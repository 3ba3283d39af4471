"""POST payments/webhook/: signatures, outcomes, dedup, late payments; and expiry."""

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from catalog.models import StockMovement
from catalog.services import stock_adjust
from orders.exceptions import InvalidSignature
from orders.models import Order, OrderStatus, PaymentEvent
from orders.payments import payment_signature_verify
from orders.services import orders_cancel_expired
from tests.catalog.factories import VariantFactory
from tests.orders.factories import order_place
from tests.security.strategies import signature_headers

pytestmark = pytest.mark.django_db

URL = "/api/v1/payments/webhook/"
SECRET = "whsec_test"


def signed(body: bytes, *, secret=SECRET, t=None) -> str:
    t = int(time.time()) if t is None else t
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def event(order, *, type="payment.succeeded", amount=None, currency=None, id="evt_1"):
    return {
        "id": id,
        "type": type,
        "data": {
            "order_number": order.number,
            "amount": amount or str(order.total),
            "currency": currency or order.currency,
        },
    }


def post(client, payload, **sign):
    body = json.dumps(payload).encode()
    return client.post(
        URL, body, content_type="application/json", HTTP_PAYMENT_SIGNATURE=signed(body, **sign)
    )


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.PAYMENT_WEBHOOK_SECRET = SECRET


def test_payment_succeeded_marks_the_order_paid(api_client, django_assert_max_num_queries):
    order = order_place()
    with django_assert_max_num_queries(20):
        response = post(api_client, event(order))
    assert response.status_code == 200
    assert response.json() == {"received": True, "outcome": "paid"}
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert list(order.events.values_list("type", "actor_kind"))[-1] == ("paid", "system")


def test_the_same_event_twice_applies_once(api_client):
    order = order_place()
    assert post(api_client, event(order)).json()["outcome"] == "paid"
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PENDING_PAYMENT)
    again = post(api_client, event(order))
    assert again.status_code == 200
    assert again.json()["outcome"] == "duplicate"
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert PaymentEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("amount", "currency"), [("1.00", None), (None, "USD")], ids=["amount", "currency"]
)
def test_a_mismatched_payment_is_recorded_not_applied(api_client, amount, currency):
    order = order_place()
    response = post(api_client, event(order, amount=amount, currency=currency))
    assert response.status_code == 200
    assert response.json()["outcome"] == "payment_mismatch"
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.events.filter(type="payment_mismatch").count() == 1


def test_payment_failed_is_recorded_and_changes_nothing(api_client):
    order = order_place()
    response = post(api_client, event(order, type="payment.failed"))
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.events.filter(type="payment_failed").count() == 1


@pytest.mark.parametrize(
    "tamper",
    ["body_changed", "wrong_secret", "stale", "future", "missing", "malformed"],
)
def test_bad_signatures_are_rejected_and_change_nothing(api_client, tamper):
    order = order_place()
    body = json.dumps(event(order)).encode()
    headers = {"HTTP_PAYMENT_SIGNATURE": signed(body)}
    if tamper == "body_changed":
        body = body.replace(b"evt_1", b"evt_2")
    elif tamper == "wrong_secret":
        headers["HTTP_PAYMENT_SIGNATURE"] = signed(body, secret="whsec_other")
    elif tamper == "stale":
        headers["HTTP_PAYMENT_SIGNATURE"] = signed(body, t=int(time.time()) - 301)
    elif tamper == "future":
        headers["HTTP_PAYMENT_SIGNATURE"] = signed(body, t=int(time.time()) + 301)
    elif tamper == "missing":
        headers = {}
    else:
        headers["HTTP_PAYMENT_SIGNATURE"] = "v1=abc"
    response = api_client.post(URL, body, content_type="application/json", **headers)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert not PaymentEvent.objects.exists()


NOW = 1_700_000_000
BODY = b'{"id": "evt_h"}'
VALID = signed(BODY, t=NOW)


@hypothesis_settings(max_examples=400, deadline=None)
@given(header=st.one_of(signature_headers(VALID), st.text()))
def test_a_header_not_exactly_in_the_documented_format_raises_invalid_signature(header):
    """Never another exception (the view would answer 500), whatever the value."""
    with pytest.raises(InvalidSignature):
        payment_signature_verify(header=header, body=BODY, secret=SECRET, now=NOW)


def test_the_exact_documented_format_is_accepted():
    payment_signature_verify(header=VALID, body=BODY, secret=SECRET, now=NOW)


HOSTILE = {
    "arabic_digit": lambda v: v.replace("t=1", "t=\u0661"),  # int() takes it
    "superscript": lambda v: v.replace("t=1", "t=\u00b9"),  # isdigit(), but int() refuses it
    "huge_t": lambda v: v.replace("t=", "t=" + "1" * 5000),  # past int()'s digit limit
    "latin1_v1": lambda v: v[:-1] + "\u00e9",  # compare_digest() refuses non-ASCII str
    "non_latin1_v1": lambda v: v[:-1] + "\u0100",
    "upper_hex": lambda v: v.split(",")[0] + "," + v.split(",")[1].upper().replace("V1=", "v1="),
    "duplicate_v1": lambda v: f"{v},{v.split(',')[1]}",
    "leading_space": lambda v: f" {v}",
    "space_after_comma": lambda v: v.replace(",", ", "),
}


@pytest.mark.parametrize("tamper", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_signature_headers_are_400_and_use_up_nothing(api_client, tamper):
    order = order_place()
    body = json.dumps(event(order)).encode()
    response = api_client.post(
        URL, body, content_type="application/json", HTTP_PAYMENT_SIGNATURE=tamper(signed(body))
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    assert not PaymentEvent.objects.exists()
    # The event id is still free: the same event, correctly signed, applies.
    assert post(api_client, event(order)).json()["outcome"] == "paid"


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_generated_signature_headers_are_400_invalid_signature(api_client, data):
    body = json.dumps({"id": "evt_g", "type": "payment.failed", "data": {}}).encode()
    header = data.draw(signature_headers(signed(body)))
    response = api_client.post(
        URL, body, content_type="application/json", HTTP_PAYMENT_SIGNATURE=header
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid_signature")
    assert not PaymentEvent.objects.exists()


def test_a_signed_but_malformed_event_is_400_invalid(api_client):
    response = post(api_client, {"id": "evt_x", "type": "payment.refunded", "data": {}})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not PaymentEvent.objects.exists()


def test_webhook_needs_no_auth_and_ignores_csrf(api_client, settings):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    order = order_place()
    assert post(client, event(order)).status_code == 200


def test_late_payment_retakes_stock_when_available(api_client):
    variant = VariantFactory(stock=5)
    order = order_place(variant=variant, quantity=2)
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert orders_cancel_expired() == 1
    variant.refresh_from_db()
    assert variant.stock == 5
    response = post(api_client, event(order))
    assert response.json()["outcome"] == "reallocated"
    order.refresh_from_db()
    variant.refresh_from_db()
    assert (order.status, order.refund_due, variant.stock) == (OrderStatus.PAID, False, 3)
    assert StockMovement.objects.filter(
        order_number=order.number, kind="payment_reallocated", delta=-2
    ).exists()


def test_late_payment_without_stock_stays_cancelled_with_refund_due(api_client):
    variant = VariantFactory(stock=2)
    order = order_place(variant=variant, quantity=2)
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=1))
    orders_cancel_expired()
    stock_adjust(variant=variant, delta=-1, reason="broken")
    response = post(api_client, event(order))
    assert response.status_code == 200
    assert response.json()["outcome"] == "payment_unallocatable"
    order.refresh_from_db()
    variant.refresh_from_db()
    assert (order.status, order.refund_due, variant.stock) == (OrderStatus.CANCELLED, True, 1)
    assert order.events.filter(type="payment_unallocatable").count() == 1
    assert not StockMovement.objects.filter(kind="payment_reallocated").exists()


def test_expiry_cancels_only_old_pending_orders_and_returns_stock():
    variant = VariantFactory(stock=10)
    old = order_place(variant=variant, quantity=2)
    fresh = order_place(variant=variant, quantity=3)
    old_paid = order_place(variant=variant, quantity=1)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Order.objects.filter(pk__in=[old.pk, old_paid.pk]).update(created_at=an_hour_ago)
    Order.objects.filter(pk=old_paid.pk).update(status=OrderStatus.PAID)
    call_command("cancel_expired_orders")
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses == {
        old.pk: OrderStatus.CANCELLED,
        fresh.pk: OrderStatus.PENDING_PAYMENT,
        old_paid.pk: OrderStatus.PAID,
    }
    variant.refresh_from_db()
    assert variant.stock == 6
    assert list(old.events.values_list("type", "actor_kind"))[-1] == ("cancelled", "system")


def test_expiry_works_in_batches():
    orders = [order_place() for _ in range(5)]
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    assert orders_cancel_expired(batch_size=2) == 5
    assert not Order.objects.filter(status=OrderStatus.PENDING_PAYMENT).exists()


def test_the_beat_tasks_run_the_same_services():
    from core.tasks import purge_idempotency_keys
    from orders.tasks import cancel_expired_orders

    order = order_place()
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert cancel_expired_orders.delay().get() == 1
    assert purge_idempotency_keys.delay().get() == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
