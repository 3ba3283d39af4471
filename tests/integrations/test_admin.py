"""Integrations in the back office: the key is shown once, on the page the POST answers."""

import pytest
from django.test import Client

from integrations.models import Integration
from tests.integrations.factories import key_client
from webhooks.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(superuser, make_integration) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


def test_staff_create_an_integration_and_a_key_shown_once(admin):
    response = admin.post(
        "/admin/integrations/integration/add/",
        {
            "name": "Warehouse",
            "role_name": "Support",
            "keys-TOTAL_FORMS": "0",
            "keys-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    integration = Integration.objects.get(name="Warehouse")
    assert integration.role.name == "Support"
    assert integration.user.is_staff and not integration.user.has_usable_password()

    page = admin.post(f"/admin/integrations/integration/{integration.pk}/new-key/", {})

    assert page.status_code == 200
    key = page.context["key"]
    assert key.startswith("sr_") and key in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    assert not any(key in morsel.value for morsel in page.cookies.values())
    assert key_client(key).get("/api/v1/customers/").status_code == 200
    for url in (
        f"/admin/integrations/integration/{integration.pk}/change/",
        "/admin/integrations/apikey/",
        f"/admin/integrations/apikey/{integration.keys.get().pk}/change/",
        f"/admin/integrations/integration/{integration.pk}/new-key/",
    ):
        assert key.rsplit("_", 1)[1] not in admin.get(url).content.decode()


def test_the_revoke_action_refuses_the_key_at_once(admin, make_integration):
    integration, key = make_integration("Catalog manager")
    api_key = integration.keys.get()

    response = admin.post(
        "/admin/integrations/apikey/",
        {"action": "revoke", "_selected_action": [str(api_key.pk)]},
    )

    assert response.status_code == 302
    assert key_client(key).get("/api/v1/variants/").status_code == 401
    assert Event.objects.filter(type="integration.key_revoked").count() == 1


def test_staff_replay_an_endpoints_events_from_the_admin(admin):
    from datetime import timedelta

    from django.utils import timezone

    from tests.webhooks.factories import EndpointFactory
    from webhooks.models import Delivery
    from webhooks.services import event_record

    endpoint = EndpointFactory()
    event = event_record(type="test.any", data={})
    since = (timezone.now() - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")

    response = admin.post(f"/admin/webhooks/endpoint/{endpoint.pk}/replay/", {"since": since})

    assert response.status_code == 302
    assert Delivery.objects.filter(endpoint=endpoint, event=event, status="pending").exists()
