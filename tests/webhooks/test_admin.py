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
def test_admin_shows_the_generated_secret_once_on_a_page_never_in_a_cookie(admin_client_):
    response = admin_client_.post(
        "/admin/webhooks/endpoint/add/",
        {
            "url": "https://erp.example.com/in",
            "event_types_text": "order.paid, stock.changed",
            "new_secret": "",
            "description": "ERP",
            "is_active": "on",
        },
    )

    endpoint = Endpoint.objects.get()
    assert endpoint.event_types == ["order.paid", "stock.changed"]
    assert response.status_code == 200
    assert endpoint.secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert all(endpoint.secret not in morsel.value for morsel in response.cookies.values())
    assert all(endpoint.secret not in morsel.value for morsel in admin_client_.cookies.values())
    assert endpoint.secret not in str(dict(admin_client_.session))
    # The next pages (the flash messages included) never show it again.
    for path in (
        f"/admin/webhooks/endpoint/{endpoint.pk}/change/",
        "/admin/webhooks/endpoint/",
    ):
        page = admin_client_.get(path)
        assert page.status_code == 200
        assert endpoint.secret not in page.content.decode()


@pytest.mark.django_db
def test_admin_does_not_show_a_secret_staff_chose(admin_client_):
    response = admin_client_.post(
        "/admin/webhooks/endpoint/add/",
        {
            "url": "https://erp.example.com/in",
            "event_types_text": "*",
            "new_secret": "chosen-secret-of-twenty",
            "is_active": "on",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert Endpoint.objects.get().secret == "chosen-secret-of-twenty"
    assert "chosen-secret-of-twenty" not in response.content.decode()


@pytest.mark.django_db
def test_admin_rejects_bad_event_types(admin_client_):
    response = admin_client_.post(
        "/admin/webhooks/endpoint/add/",
        {"url": "https://a.example.com/", "event_types_text": "Order Paid", "is_active": "on"},
    )
    assert response.status_code == 200
    assert "Not an event type: Order Paid." in response.content.decode()
    assert Endpoint.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://user:pw@hooks.example.com/", "must not contain a user name or password"),
        ("http://169.254.169.254/", "cannot be sent to loopback, private, link-local"),
        ("http://127.0.0.1:6379/", "cannot be sent to loopback, private, link-local"),
    ],
)
def test_admin_refuses_urls_deliveries_would_refuse(admin_client_, settings, url, message):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    response = admin_client_.post(
        "/admin/webhooks/endpoint/add/",
        {"url": url, "event_types_text": "*", "is_active": "on"},
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Endpoint.objects.count() == 0
