"""Idempotency-Key on every POST of the API (sequential behaviour; races in test_concurrency)."""

import hashlib
import json
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from core.models import IdempotencyKey
from orders.models import Order
from tests.accounts.factories import UserFactory
from tests.catalog.factories import VariantFactory
from tests.conftest import token_client
from tests.orders.factories import ADDRESS

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders/"


def place_body(variant, quantity=1):
    return {"lines": [{"sku": variant.sku, "quantity": quantity}], "shipping_address": ADDRESS}


def test_same_key_same_body_replays_the_first_response(user_client):
    variant = VariantFactory(stock=5)
    first = user_client.post(URL, place_body(variant), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = user_client.post(URL, place_body(variant), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Order.objects.count() == 1
    variant.refresh_from_db()
    assert variant.stock == 4


def test_same_key_other_body_is_422(user_client):
    variant = VariantFactory(stock=5)
    user_client.post(URL, place_body(variant), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    response = user_client.post(
        URL, place_body(variant, 2), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_a_key_over_255_characters_is_400(user_client):
    variant = VariantFactory(stock=5)
    response = user_client.post(
        URL, place_body(variant), format="json", HTTP_IDEMPOTENCY_KEY="k" * 256
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    ok = user_client.post(URL, place_body(variant), format="json", HTTP_IDEMPOTENCY_KEY="k" * 255)
    assert ok.status_code == 201


@pytest.mark.django_db(transaction=True)
def test_a_key_whose_first_request_is_running_is_409(user, user_client):
    """The first request holds the key row locked until it commits: others get 409."""
    variant = VariantFactory(stock=5)
    body = json.dumps(place_body(variant)).encode()
    identity = {"caller": f"user:{user.pk}", "method": "POST", "path": URL, "key": "k-1"}
    IdempotencyKey.objects.create(**identity, fingerprint=hashlib.sha256(body).hexdigest())
    locked, release = threading.Event(), threading.Event()

    def first_request_running():
        with transaction.atomic():
            IdempotencyKey.objects.select_for_update().get(**identity)
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=first_request_running)
    holder.start()
    try:
        assert locked.wait(10)
        same = user_client.post(
            URL, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
        )
        other = user_client.post(
            URL, place_body(variant, 2), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
        )
    finally:
        release.set()
        holder.join()
    assert same.status_code == 409
    assert same.json()["code"] == "idempotency_in_progress"
    assert other.status_code == 422
    assert not Order.objects.exists()


def test_validation_failures_are_not_stored_so_the_key_can_be_retried(user_client):
    variant = VariantFactory(stock=0)
    short = user_client.post(URL, place_body(variant), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert short.status_code == 409
    bad = user_client.post(URL, {"lines": []}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert bad.status_code == 400
    assert not IdempotencyKey.objects.exists()
    from catalog.services import stock_adjust

    stock_adjust(variant=variant, delta=3, reason="delivery")
    retry = user_client.post(URL, place_body(variant), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert retry.status_code == 201
    assert not retry.has_header("Idempotent-Replayed")


def test_keys_are_per_caller(user_client):
    variant = VariantFactory(stock=5)
    other = token_client(UserFactory())
    a = user_client.post(URL, place_body(variant), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    b = other.post(URL, place_body(variant), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert a.status_code == b.status_code == 201
    assert a.json()["number"] != b.json()["number"]
    assert not b.has_header("Idempotent-Replayed")


def test_keys_are_per_endpoint(user_client, user):
    variant = VariantFactory(stock=5)
    placed = user_client.post(URL, place_body(variant), format="json", HTTP_IDEMPOTENCY_KEY="k")
    number = placed.json()["number"]
    cancel = user_client.post(f"{URL}{number}/cancel/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert cancel.status_code == 200
    assert cancel.json()["status"] == "cancelled"


def test_session_callers_are_keyed_by_user(client, user):
    # Django's test client: session auth (CSRF checks are off in the test client).
    variant = VariantFactory(stock=5)
    client.force_login(user)
    body = place_body(variant)
    first = client.post(URL, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="s")
    second = client.post(URL, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="s")
    assert (first.status_code, second.status_code) == (201, 201)
    assert second["Idempotent-Replayed"] == "true"
    assert IdempotencyKey.objects.get().caller == f"user:{user.pk}"


def test_other_apps_posts_are_covered_too(superuser_client):
    """The middleware covers every POST of /api/v1/, not only orders."""
    variant = VariantFactory(stock=1)
    url = f"/api/v1/variants/{variant.sku}/stock-adjustments/"
    body = {"delta": 5, "reason": "delivery"}
    first = superuser_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="adj-1")
    second = superuser_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="adj-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    variant.refresh_from_db()
    assert variant.stock == 6


def test_auth_posts_are_exempt(api_client):
    body = {"email": "nobody@example.com", "password": "wrong-password-123"}
    api_client.post("/api/v1/auth/login/", body, format="json", HTTP_IDEMPOTENCY_KEY="x")
    assert not IdempotencyKey.objects.exists()


def test_purge_deletes_keys_older_than_a_day(user_client):
    variant = VariantFactory(stock=5)
    user_client.post(URL, place_body(variant), format="json", HTTP_IDEMPOTENCY_KEY="old")
    user_client.post(URL, place_body(variant), format="json", HTTP_IDEMPOTENCY_KEY="new")
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    call_command("purge_idempotency_keys")
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_an_expired_key_is_not_replayed(user_client):
    variant = VariantFactory(stock=5)
    user_client.post(URL, place_body(variant), format="json", HTTP_IDEMPOTENCY_KEY="k")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    again = user_client.post(URL, place_body(variant), format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert again.status_code == 201
    assert not again.has_header("Idempotent-Replayed")
    assert Order.objects.count() == 2


def test_schema_documents_the_header_on_posts():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    post = schema["paths"]["/api/v1/orders/"]["post"]
    names = [p["name"] for p in post["parameters"] if p["in"] == "header"]
    assert "Idempotency-Key" in names
    assert "422" in post["responses"]
    webhook = schema["paths"]["/api/v1/payments/webhook/"]["post"]
    assert "Idempotency-Key" not in [p["name"] for p in webhook.get("parameters", [])]


def test_a_reservation_abandoned_by_a_dead_process_is_taken_over(user, user_client):
    variant = VariantFactory(stock=5)
    body = json.dumps(place_body(variant)).encode()
    IdempotencyKey.objects.create(
        caller=f"user:{user.pk}",
        method="POST",
        path=URL,
        key="k-1",
        fingerprint=hashlib.sha256(body).hexdigest(),
    )
    # No process holds its lock (the one that inserted it died): taken over at once.
    response = user_client.post(
        URL, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert response.status_code == 201
    assert Order.objects.count() == 1
    assert IdempotencyKey.objects.get(key="k-1").status_code == 201


def test_anonymous_callers_are_keyed_by_address_and_bad_tokens_fall_back(rf):
    from core.idempotency import _caller

    request = rf.post(URL, REMOTE_ADDR="203.0.113.7")
    assert _caller(request) == "anon:203.0.113.7"
    request = rf.post(URL, REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION="Token not-a-token")
    assert _caller(request) == "anon:203.0.113.7"


def test_a_401_is_not_stored(api_client):
    response = api_client.post(URL, {}, format="json", HTTP_IDEMPOTENCY_KEY="anon-1")
    assert response.status_code == 401
    assert not IdempotencyKey.objects.exists()
