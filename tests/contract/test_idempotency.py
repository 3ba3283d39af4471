"""Contract, "Idempotency": every POST but auth/ and the payments webhook honours the key."""

import pytest

from catalog.models import Variant
from orders.models import Order
from tests.catalog.factories import VariantFactory
from tests.contract.schema import component, openapi
from tests.orders.factories import ADDRESS


def test_a_409_schema_never_requires_fields_the_idempotency_409_lacks():
    """`idempotency_in_progress` is `{code, detail}`: a 409 schema may require nothing else."""
    wrong = []
    for path, operations in openapi()["paths"].items():
        post = operations.get("post")
        if post is None or "409" not in post["responses"]:
            continue
        if "Idempotency-Key" not in {p["name"] for p in post.get("parameters", [])}:
            continue
        schema = post["responses"]["409"]["content"]["application/json"]["schema"]
        schema = component(schema) if "$ref" in schema else schema
        if set(schema.get("required", [])) - {"code", "detail"}:
            wrong.append(path)
    assert wrong == []


def test_every_post_but_auth_and_the_payments_webhook_documents_the_header():
    for path, operations in openapi()["paths"].items():
        if "post" not in operations:
            continue
        names = {p["name"] for p in operations["post"].get("parameters", [])}
        # The quote changes nothing: the contract calls it "not idempotent".
        exempt = path.startswith(
            ("/api/v1/auth/", "/api/v1/payments/webhook/", "/api/v1/orders/quote/")
        )
        assert ("Idempotency-Key" in names) is not exempt, path


@pytest.mark.django_db
def test_a_retried_order_placement_replays_the_first_response_and_makes_one_order(user_client):
    variant = VariantFactory(stock=5)
    body = {"lines": [{"sku": variant.sku, "quantity": 2}], "shipping_address": ADDRESS}
    first = user_client.post("/api/v1/orders/", body, HTTP_IDEMPOTENCY_KEY="order-1")
    again = user_client.post("/api/v1/orders/", body, HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1
    assert Variant.objects.get(pk=variant.pk).stock == 3
    other = user_client.post(
        "/api/v1/orders/", {**body, "note": "x"}, HTTP_IDEMPOTENCY_KEY="order-1"
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/me/addresses/", ADDRESS),
        ("/api/v1/categories/", {"name": "Lamps"}),
        ("/api/v1/webhooks/", {"url": "https://example.org/h", "event_types": ["order.paid"]}),
    ],
)
def test_posts_of_every_app_are_replayed(superuser_client, path, body):
    first = superuser_client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    again = superuser_client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert first.status_code == 201
    assert (again.status_code, again.json()) == (201, first.json())
    assert again["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_a_key_over_255_characters_is_400(user_client):
    response = user_client.post("/api/v1/me/addresses/", ADDRESS, HTTP_IDEMPOTENCY_KEY="k" * 256)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    ok = user_client.post("/api/v1/me/addresses/", ADDRESS, HTTP_IDEMPOTENCY_KEY="k" * 255)
    assert ok.status_code == 201


@pytest.mark.django_db
def test_auth_posts_ignore_the_key(api_client, user, password):
    body = {"email": user.email, "password": password}
    first = api_client.post("/api/v1/auth/login/", body, HTTP_IDEMPOTENCY_KEY="same")
    again = api_client.post("/api/v1/auth/login/", body, HTTP_IDEMPOTENCY_KEY="same")
    assert first.json()["token"] != again.json()["token"]
    assert "Idempotent-Replayed" not in again
