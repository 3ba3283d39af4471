import pytest
from django.test import Client

from catalog import services as catalog_services
from tests.catalog.factories import VariantFactory
from tests.webhooks.factories import EndpointFactory
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event


@pytest.fixture
def admin_client_(superuser):
    client = Client()
    client.force_login(superuser)
    return client


@pytest.mark.django_db
def test_redeliver_action_sends_the_same_event_again(
    admin_client_, receiver, django_capture_on_commit_callbacks
):
    EndpointFactory(url=receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.stock_adjust(variant=VariantFactory(), delta=1, reason="x")
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            "/admin/webhooks/delivery/",
            {"action": "redeliver", "_selected_action": [delivery.pk]},
            follow=True,
        )

    assert "1 deliveries queued again." in response.content.decode()
    assert receiver.event_ids() == [str(delivery.event_id)] * 2
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.SUCCEEDED, 2)


@pytest.mark.django_db
def test_redeliver_skips_disabled_endpoints_and_deliveries_are_read_only(admin_client_):
    endpoint = EndpointFactory(is_active=False, disabled_reason="gone")

    event = Event.objects.create(type="order.paid", data={})
    delivery = Delivery.objects.create(event=event, endpoint=endpoint, status=DeliveryStatus.FAILED)

    response = admin_client_.post(
        "/admin/webhooks/delivery/",
        {"action": "redeliver", "_selected_action": [delivery.pk]},
        follow=True,
    )

    assert "1 skipped: their endpoint is disabled" in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert admin_client_.get("/admin/webhooks/delivery/add/").status_code == 403
    page = admin_client_.get(f"/admin/webhooks/delivery/{delivery.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()


@pytest.mark.django_db
def test_admin_creates_an_endpoint_and_shows_the_generated_secret_once(admin_client_):
    response = admin_client_.post(
        "/admin/webhooks/endpoint/add/",
        {
            "url": "https://erp.example.com/in",
            "event_types_text": "order.paid, stock.changed",
            "new_secret": "",
            "description": "ERP",
            "is_active": "on",
        },
        follow=True,
    )

    endpoint = Endpoint.objects.get()
    assert endpoint.event_types == ["order.paid", "stock.changed"]
    assert endpoint.secret in response.content.decode()
    page = admin_client_.get(f"/admin/webhooks/endpoint/{endpoint.pk}/change/")
    assert endpoint.secret not in page.content.decode()


@pytest.mark.django_db
def test_admin_rejects_bad_event_types(admin_client_):
    response = admin_client_.post(
        "/admin/webhooks/endpoint/add/",
        {"url": "https://a.example.com/", "event_types_text": "Order Paid", "is_active": "on"},
    )
    assert response.status_code == 200
    assert "Not an event type: Order Paid." in response.content.decode()
    assert Endpoint.objects.count() == 0
