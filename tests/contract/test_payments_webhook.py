"""Contract, "Payments webhook": signed provider events, applied once."""

import hashlib
import hmac
import json
import time

import pytest

from orders.models import OrderStatus
from tests.contract.schema import operation
from tests.orders.factories import order_place

WEBHOOK = "/api/v1/payments/webhook/"
SECRET = "whsec_contract"


def signed(client, payload, *, t=None):
    body = json.dumps(payload).encode()
    t = int(time.time()) if t is None else t
    mac = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return client.post(
        WEBHOOK, body, content_type="application/json", HTTP_PAYMENT_SIGNATURE=f"t={t},v1={mac}"
    )


def event(order, *, id="evt_1", type="payment.succeeded", amount=None):
    amount = str(order.total) if amount is None else amount
    data = {"order_number": order.number, "amount": amount, "currency": order.currency}
    return {"id": id, "type": type, "data": data}


def test_schema_declares_the_payment_signature_header_as_required():
    parameters = operation(WEBHOOK, "post").get("parameters", [])
    header = [p for p in parameters if p["in"] == "header" and p["name"] == "Payment-Signature"]
    assert len(header) == 1
    assert header[0]["required"] is True


def test_schema_documents_the_webhook_without_authentication_or_idempotency_key():
    post = operation(WEBHOOK, "post")
    assert post["security"] == [{}]
    assert "Idempotency-Key" not in {p["name"] for p in post.get("parameters", [])}


@pytest.fixture
def secret(settings):
    settings.PAYMENT_WEBHOOK_SECRET = SECRET


@pytest.mark.django_db
def test_a_bad_or_stale_signature_is_400_invalid_signature_and_changes_nothing(api_client, secret):
    order = order_place()
    stale = signed(api_client, event(order), t=int(time.time()) - 301)
    assert stale.status_code == 400
    assert stale.json()["code"] == "invalid_signature"
    missing = api_client.post(WEBHOOK, event(order), format="json")
    assert missing.json()["code"] == "invalid_signature"
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


@pytest.mark.django_db
def test_the_total_pays_the_order_once_and_another_amount_is_a_mismatch(api_client, secret):
    order = order_place()
    assert signed(api_client, event(order, amount="0.01")).status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.events.filter(type="payment_mismatch").exists()
    assert signed(api_client, event(order, id="evt_2")).status_code == 200
    assert signed(api_client, event(order, id="evt_2")).status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.events.filter(type="paid").count() == 1


@pytest.mark.django_db
def test_a_failed_payment_is_recorded_and_changes_no_status(api_client, secret):
    order = order_place()
    response = signed(api_client, event(order, type="payment.failed"))
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.events.filter(type="payment_failed").exists()


@pytest.mark.django_db
def test_a_signed_event_with_a_null_character_is_applied_not_a_500(api_client, secret):
    """Provider payloads carry customer text; jsonb cannot store \\u0000 (a DataError)."""
    order = order_place()
    payload = event(order)
    payload["data"]["description"] = "gift for \u0000 mum"
    response = signed(api_client, payload)
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
