"""API keys: what they may do, and that a revoked or expired one is refused at once."""

import logging
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations import services
from integrations.keys import key_digest
from integrations.models import ApiKey, Integration
from tests.catalog.factories import VariantFactory
from tests.conftest import token_client
from tests.integrations.factories import key_client
from webhooks.models import Event

pytestmark = pytest.mark.django_db

BULK = "/api/v1/stock/bulk-adjustments/"


def _bulk(sku: str) -> dict:
    return {"items": [{"sku": sku, "set_to": 7}], "reason": "count"}


def test_a_key_acts_with_its_roles_permissions(make_integration):
    variant = VariantFactory(stock=1)
    _, catalog_key = make_integration("Catalog manager")
    _, support_key = make_integration("Support")

    allowed = key_client(catalog_key).post(BULK, _bulk(variant.sku), format="json")
    refused = key_client(support_key).post(BULK, _bulk(variant.sku), format="json")

    assert allowed.status_code == 200
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert key_client(support_key).get("/api/v1/customers/").status_code == 200
    assert key_client(catalog_key).get("/api/v1/customers/").status_code == 403


def test_a_revoked_key_is_refused_on_the_very_next_request(make_integration, superuser):
    integration, key = make_integration("Catalog manager")
    client = key_client(key)
    assert client.get("/api/v1/variants/").status_code == 200
    api_key = integration.keys.get()

    response = token_client(superuser).delete(
        f"/api/v1/integrations/{integration.pk}/keys/{api_key.pk}/"
    )
    assert response.status_code == 204

    refused = client.get("/api/v1/variants/")
    assert refused.status_code == 401
    assert refused.json()["code"] == "authentication_failed"


def test_an_expired_key_is_refused(make_integration):
    integration, key = make_integration(
        "Catalog manager", expires_at=timezone.now() + timedelta(days=1)
    )
    client = key_client(key)
    assert client.get("/api/v1/variants/").status_code == 200

    ApiKey.objects.filter(integration=integration).update(
        created_at=timezone.now() - timedelta(days=3),
        expires_at=timezone.now() - timedelta(seconds=1),
    )

    refused = client.get("/api/v1/variants/")
    assert refused.status_code == 401
    assert refused.json()["code"] == "authentication_failed"


def test_a_deactivated_integrations_keys_are_refused(make_integration):
    integration, key = make_integration("Catalog manager")
    services.integration_update(integration=integration, is_active=False)

    assert key_client(key).get("/api/v1/variants/").status_code == 401


@pytest.mark.parametrize(
    "header",
    ["Bearer sr_abc", "Bearer sr_aaaaaaaaaa_" + "x" * 43, "Bearer", "Bearer a b"],
)
def test_a_malformed_or_unknown_key_is_refused(make_integration, api_client, header):
    make_integration("Catalog manager")
    api_client.credentials(HTTP_AUTHORIZATION=header)

    response = api_client.get("/api/v1/variants/")

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_a_key_with_the_right_prefix_and_a_wrong_secret_is_refused(make_integration):
    _, key = make_integration("Catalog manager")
    forged = key[:-1] + ("A" if key[-1] != "A" else "B")

    response = key_client(forged).get("/api/v1/variants/")
    assert response.status_code == 401
    assert response.json() == {
        "code": "authentication_failed",
        "detail": "Invalid, revoked or expired API key.",
    }


@pytest.mark.parametrize("param", ["key", "api_key", "access_token", "token"])
def test_a_key_in_a_query_string_is_never_accepted(make_integration, api_client, param):
    _, key = make_integration("Catalog manager")

    response = api_client.get(f"/api/v1/variants/?{param}={key}")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert key not in response.content.decode()


def test_only_a_keyed_hash_and_the_prefix_are_stored(make_integration):
    integration, key = make_integration("Catalog manager")
    api_key = integration.keys.get()

    assert key.startswith(f"sr_{api_key.prefix}_")
    assert api_key.digest == key_digest(key)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM integrations_apikey")
        stored = repr(cursor.fetchall())
    assert key not in stored
    assert key.rsplit("_", 1)[1] not in stored


def test_the_key_is_in_the_creation_answer_only(superuser, roles):
    client = token_client(superuser)
    integration = client.post(
        "/api/v1/integrations/", {"name": "ERP", "role": "Catalog manager"}, format="json"
    ).json()
    created = client.post(f"/api/v1/integrations/{integration['id']}/keys/", {}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "prefix", "key", "expires_at", "created_at"}
    key = body["key"]

    listed = client.get(f"/api/v1/integrations/{integration['id']}/keys/")
    assert listed.status_code == 200
    assert key not in listed.content.decode()
    assert listed.json()["results"][0]["prefix"] == body["prefix"]
    assert "key" not in listed.json()["results"][0]
    assert not created.cookies
    assert key_client(key).get("/api/v1/variants/").status_code == 200


def test_a_key_never_appears_in_logs_or_events(make_integration, caplog):
    caplog.set_level(logging.DEBUG)
    integration, key = make_integration("Catalog manager")
    key_client(key).get("/api/v1/variants/")
    services.api_key_revoke(key=integration.keys.get())
    key_client(key).get("/api/v1/variants/")

    secret = key.rsplit("_", 1)[1]
    assert secret not in caplog.text
    for event in Event.objects.filter(type__startswith="integration."):
        assert secret not in repr(event.data)


def test_key_creation_and_revocation_are_events(make_integration):
    integration, _ = make_integration("Catalog manager")
    api_key = integration.keys.get()
    services.api_key_revoke(key=api_key)
    services.api_key_revoke(key=api_key)  # already revoked: no second event

    events = list(
        Event.objects.filter(type__startswith="integration.")
        .order_by("created_at")
        .values("type", "data")
    )
    assert events == [
        {
            "type": "integration.key_created",
            "data": {
                "integration": integration.pk,
                "key": api_key.pk,
                "prefix": api_key.prefix,
                "expires_at": None,
            },
        },
        {
            "type": "integration.key_revoked",
            "data": {"integration": integration.pk, "key": api_key.pk, "prefix": api_key.prefix},
        },
    ]


def test_last_used_at_is_written_at_most_once_a_minute(make_integration):
    integration, key = make_integration("Catalog manager")
    client = key_client(key)

    client.get("/api/v1/variants/")
    first = integration.keys.get().last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/v1/variants/")
    assert not [q for q in queries if q["sql"].startswith('UPDATE "integrations_apikey"')]
    assert integration.keys.get().last_used_at == first

    ApiKey.objects.filter(pk=integration.keys.get().pk).update(
        last_used_at=timezone.now() - timedelta(seconds=61)
    )
    client.get("/api/v1/variants/")
    assert integration.keys.get().last_used_at > first


def test_a_service_account_cannot_log_in_to_the_admin_or_the_api(make_integration, api_client):
    integration, _ = make_integration("Catalog manager")
    user = integration.user
    assert user.is_staff and not user.has_usable_password()

    response = api_client.post(
        "/api/v1/auth/login/", {"email": user.email, "password": ""}, format="json"
    )
    assert response.status_code == 400

    client = Client()
    client.force_login(user)  # even with a session, the back office refuses it
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_an_integration_api_needs_the_integration_permission(staff_user, roles):
    staff_user.groups.set([roles["Catalog manager"]])
    response = token_client(staff_user).post(
        "/api/v1/integrations/", {"name": "ERP", "role": "Catalog manager"}, format="json"
    )
    assert response.status_code == 403
    assert not Integration.objects.exists()


def test_an_unknown_role_or_a_taken_name_is_a_400(superuser, roles):
    client = token_client(superuser)
    unknown = client.post("/api/v1/integrations/", {"name": "ERP", "role": "Root"}, format="json")
    assert unknown.status_code == 400
    assert "role" in unknown.json()["errors"]
    assert (
        client.post(
            "/api/v1/integrations/", {"name": "ERP", "role": "Support"}, format="json"
        ).status_code
        == 201
    )
    taken = client.post("/api/v1/integrations/", {"name": "ERP", "role": "Support"}, format="json")
    assert taken.status_code == 400
    assert taken.json()["errors"] == {"name": ["An integration with this name already exists."]}


def test_deleting_an_integration_revokes_its_keys_and_deactivates_its_account(
    make_integration, superuser
):
    integration, key = make_integration("Catalog manager")
    user = integration.user

    response = token_client(superuser).delete(f"/api/v1/integrations/{integration.pk}/")

    assert response.status_code == 204
    user.refresh_from_db()
    assert not user.is_active
    assert key_client(key).get("/api/v1/variants/").status_code == 401
    assert Event.objects.filter(type="integration.key_revoked").count() == 1
