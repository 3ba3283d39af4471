"""Contract, "Outgoing webhooks": staff endpoints; signed `{id, type, created_at, data}` bodies."""

import hashlib
import hmac
import json
import re

import pytest

from tests.contract.schema import component, operation
from tests.orders.factories import order_place
from webhooks.models import Event
from webhooks.services import event_payload, signature_header


@pytest.mark.parametrize(
    ("path", "method", "status"),
    [
        ("/api/v1/webhooks/", "post", "201"),
        ("/api/v1/webhooks/{id}/", "get", "200"),
        ("/api/v1/webhooks/{id}/", "patch", "200"),
    ],
)
def test_endpoint_schema_types_event_types_as_a_list_of_strings(path, method, status):
    response = operation(path, method)["responses"][status]["content"]["application/json"]
    event_types = component(response["schema"])["properties"]["event_types"]
    assert event_types["type"] == "array"
    assert event_types["items"]["type"] == "string"


@pytest.mark.django_db
def test_webhooks_are_staff_only(api_client, user_client):
    assert api_client.get("/api/v1/webhooks/").status_code == 401
    response = user_client.get("/api/v1/webhooks/")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.django_db
def test_staff_register_url_secret_and_event_types(superuser_client):
    body = {"url": "https://example.org/hook", "event_types": ["order.paid"], "secret": "s" * 20}
    response = superuser_client.post("/api/v1/webhooks/", body)
    assert response.status_code == 201
    assert response.json()["event_types"] == ["order.paid"]
    assert response.json()["secret"] == "s" * 20
    listed = superuser_client.get("/api/v1/webhooks/").json()["results"][0]
    assert "secret" not in listed


@pytest.mark.django_db
def test_an_order_event_body_is_id_type_created_at_data_and_signed_over_t_and_body():
    order = order_place()
    event = Event.objects.get(type="order.placed")
    body = event_payload(event)
    payload = json.loads(body)
    assert set(payload) == {"id", "type", "created_at", "data"}
    assert payload["id"] == str(event.pk)
    assert payload["type"] == "order.placed"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", payload["created_at"])
    assert payload["data"]["number"] == order.number
    assert payload["data"]["total"] == str(order.total)
    assert event_payload(event) == body  # the same bytes on every delivery
    header = signature_header(secret="whsec_x", body=body, timestamp=1700000000)
    mac = hmac.new(b"whsec_x", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={mac}"


@pytest.mark.django_db
def test_every_stock_change_and_order_transition_records_an_event(user, superuser_client):
    order = order_place(user=user)
    superuser_client.post(f"/api/v1/orders/{order.number}/cancel/")
    stock = Event.objects.filter(type="stock.changed", data__order=order.number)
    assert sorted(stock.values_list("data__kind", flat=True)) == ["order_cancelled", "order_placed"]
    types = set(Event.objects.filter(data__number=order.number).values_list("type", flat=True))
    assert types == {"order.placed", "order.cancelled"}
