"""Hostile use of integrations' API keys: other integrations, wrong places, shared limits."""

import pytest
from rest_framework.throttling import SimpleRateThrottle

from integrations import services
from tests.conftest import token_client
from tests.integrations.factories import MakeIntegration, integration_maker, key_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_integration(db) -> MakeIntegration:
    return integration_maker()


def test_a_key_cannot_see_or_revoke_another_integrations_keys(make_integration: MakeIntegration):
    _, attacker = make_integration("Catalog manager")
    victim, victim_key = make_integration("Order manager")
    victim_key_id = victim.keys.get().pk
    client = key_client(attacker)

    listed = client.get(f"/api/v1/integrations/{victim.pk}/keys/")
    revoked = client.delete(f"/api/v1/integrations/{victim.pk}/keys/{victim_key_id}/")
    created = client.post(f"/api/v1/integrations/{victim.pk}/keys/", {}, format="json")
    renamed = client.patch(f"/api/v1/integrations/{victim.pk}/", {"role": "Analyst"}, format="json")

    assert [r.status_code for r in (listed, revoked, created, renamed)] == [403] * 4
    assert victim_key not in listed.content.decode()
    assert key_client(victim_key).get("/api/v1/orders/").status_code == 200
    assert victim.keys.count() == 1


def test_a_key_cannot_give_itself_another_role(make_integration: MakeIntegration):
    integration, key = make_integration("Support")

    response = key_client(key).patch(
        f"/api/v1/integrations/{integration.pk}/", {"role": "Catalog manager"}, format="json"
    )

    assert response.status_code == 403
    integration.refresh_from_db()
    assert integration.role.name == "Support"
    assert not integration.user.has_perm("catalog.add_stockmovement")


def test_a_key_sent_as_a_login_token_or_in_the_body_is_refused(
    make_integration: MakeIntegration, api_client
):
    _, key = make_integration("Catalog manager")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/v1/variants/").status_code == 401

    api_client.credentials()
    response = api_client.post(
        "/api/v1/stock/bulk-adjustments/",
        {"api_key": key, "items": [{"sku": "X", "delta": 1}], "reason": "r"},
        format="json",
    )
    assert response.status_code == 401


def test_a_key_in_the_query_string_is_refused_even_with_another_valid_credential(
    make_integration: MakeIntegration, staff_user
):
    _, key = make_integration("Catalog manager")

    response = token_client(staff_user).get(f"/api/v1/variants/?api_key={key}")

    # The staff member's own token decides; the key gives nothing (no view_variant here).
    assert response.status_code == 403


def test_a_keys_throttle_is_its_own_and_apart_from_users(
    make_integration: MakeIntegration, superuser, monkeypatch
):
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "user": "3/min", "integration": "2/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    integration, key = make_integration("Catalog manager")
    second = services.api_key_create(integration=integration).key
    person = token_client(superuser)

    statuses = [key_client(key).get("/api/v1/variants/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    throttled = key_client(key).get("/api/v1/variants/")
    assert throttled.json()["code"] == "throttled"
    assert "Retry-After" in throttled
    # Another key of the same integration, and people, keep their own windows.
    assert key_client(second).get("/api/v1/variants/").status_code == 200
    assert [person.get("/api/v1/variants/").status_code for _ in range(3)] == [200] * 3


@pytest.mark.parametrize("role", ["Customer", "customer", "", "superuser", "Catalog manager "])
def test_an_integration_gets_a_staff_role_or_none(superuser, make_integration, role):
    client = token_client(superuser)

    response = client.post("/api/v1/integrations/", {"name": "Shop", "role": role}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "role" in response.json()["errors"]


def test_a_customer_can_neither_make_nor_see_integrations_or_keys(
    make_integration: MakeIntegration, customer
):
    integration, key = make_integration("Catalog manager")
    client = token_client(customer)

    answers = [
        client.get("/api/v1/integrations/"),
        client.post("/api/v1/integrations/", {"name": "Mine", "role": "Analyst"}, format="json"),
        client.get(f"/api/v1/integrations/{integration.pk}/keys/"),
        client.post(f"/api/v1/integrations/{integration.pk}/keys/", {}, format="json"),
    ]

    assert [a.status_code for a in answers] == [403] * 4
    assert all(key not in a.content.decode() for a in answers)
    assert integration.keys.count() == 1


def test_a_customers_login_token_is_no_api_key(customer, api_client):
    from knox.models import AuthToken

    _, token = AuthToken.objects.create(user=customer)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = api_client.get("/api/v1/me/")

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_a_refused_key_is_never_echoed_in_the_answer_or_the_logs(
    make_integration: MakeIntegration, caplog
):
    import logging

    caplog.set_level(logging.DEBUG)
    integration, key = make_integration("Catalog manager")
    prefix, secret = key.rsplit("_", 1)
    wrong = f"{prefix}_{secret[::-1]}"
    services.api_key_revoke(key=integration.keys.get())

    answers = [key_client(k).get("/api/v1/variants/") for k in (key, wrong, key + "x")]

    assert [a.status_code for a in answers] == [401] * 3
    for answer in answers:
        body = answer.content.decode()
        assert secret not in body and secret[::-1] not in body
    assert secret not in caplog.text and secret[::-1] not in caplog.text
