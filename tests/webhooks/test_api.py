import pytest
from django.contrib.auth.models import Permission

from tests.conftest import token_client
from tests.webhooks.factories import EndpointFactory
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint, Event

URL = "/api/v1/webhooks/"


@pytest.fixture
def webhook_staff_client(staff_user):
    staff_user.user_permissions.add(*Permission.objects.filter(content_type__app_label="webhooks"))
    return token_client(staff_user)


@pytest.mark.django_db
def test_create_returns_the_generated_secret_once(webhook_staff_client):
    response = webhook_staff_client.post(
        URL,
        {"url": "https://erp.example.com/hooks", "event_types": ["stock.changed", "order.paid"]},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    endpoint = Endpoint.objects.get()
    assert body["secret"] == endpoint.secret
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 30
    assert body["event_types"] == ["order.paid", "stock.changed"]
    assert body["is_active"] is True
    read = webhook_staff_client.get(f"{URL}{endpoint.pk}/").json()
    assert "secret" not in read
    assert read == {k: v for k, v in body.items() if k != "secret"}


@pytest.mark.django_db
def test_create_with_own_secret_and_patch_rotates_it_without_showing_it(webhook_staff_client):
    created = webhook_staff_client.post(
        URL,
        {"url": "https://a.example.com/", "event_types": ["*"], "secret": "s" * 20},
        format="json",
    ).json()
    assert created["secret"] == "s" * 20

    response = webhook_staff_client.patch(
        f"{URL}{created['id']}/", {"secret": "t" * 20, "description": "ERP"}, format="json"
    )

    assert response.status_code == 200
    assert "secret" not in response.json()
    assert response.json()["description"] == "ERP"
    assert Endpoint.objects.get().secret == "t" * 20


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "ftp://a.example.com/", "event_types": ["*"]}, "url"),
        ({"url": "not a url", "event_types": ["*"]}, "url"),
        ({"url": "https://a.example.com/", "event_types": []}, "event_types"),
        ({"url": "https://a.example.com/", "event_types": ["Order Paid"]}, "event_types.0"),
        ({"url": "https://a.example.com/", "event_types": "order.paid"}, "event_types"),
        ({"url": "https://a.example.com/", "event_types": ["*"], "secret": "short"}, "secret"),
        ({"event_types": ["*"]}, "url"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(webhook_staff_client, payload, field):
    response = webhook_staff_client.post(URL, payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]
    assert Endpoint.objects.count() == 0


@pytest.mark.django_db
def test_customers_and_anonymous_callers_are_refused(user_client, api_client):
    endpoint = EndpointFactory()
    for path in (URL, f"{URL}{endpoint.pk}/", f"{URL}deliveries/"):
        assert user_client.get(path).json()["code"] == "permission_denied"
        assert api_client.get(path).status_code == 401
    assert user_client.post(URL, {}, format="json").status_code == 403


@pytest.mark.django_db
def test_staff_need_the_model_permission(staff_client, staff_user):
    assert staff_client.get(URL).json()["code"] == "permission_denied"
    staff_user.user_permissions.add(Permission.objects.get(codename="view_endpoint"))
    assert staff_client.get(URL).status_code == 200
    response = staff_client.post(
        URL, {"url": "https://a.example.com/", "event_types": ["*"]}, format="json"
    )
    assert response.status_code == 403


@pytest.mark.django_db
def test_list_and_delete(webhook_staff_client, django_assert_max_num_queries):
    EndpointFactory.create_batch(3)
    with django_assert_max_num_queries(6):
        response = webhook_staff_client.get(URL)
    assert response.json()["count"] == 3
    first = response.json()["results"][0]["id"]

    assert webhook_staff_client.delete(f"{URL}{first}/").status_code == 204
    assert Endpoint.objects.count() == 2
    assert webhook_staff_client.get(f"{URL}{first}/").json()["code"] == "not_found"
    assert webhook_staff_client.put(f"{URL}{first + 1}/", {}).status_code == 405


def _deliveries(count: int, endpoint: Endpoint, status=DeliveryStatus.SUCCEEDED):
    for n in range(count):
        event = Event.objects.create(type="order.paid", data={"n": n})
        delivery = Delivery.objects.create(
            event=event, endpoint=endpoint, status=status, attempt_count=2, last_status_code=200
        )
        DeliveryAttempt.objects.create(delivery=delivery, number=1, status_code=500, duration_ms=9)
        DeliveryAttempt.objects.create(delivery=delivery, number=2, status_code=200, duration_ms=7)


@pytest.mark.django_db
def test_deliveries_list_with_attempts_in_constant_queries(
    webhook_staff_client, django_assert_max_num_queries
):
    one, two = EndpointFactory.create_batch(2)
    _deliveries(15, one)
    _deliveries(2, two, status=DeliveryStatus.FAILED)

    with django_assert_max_num_queries(7):
        response = webhook_staff_client.get(f"{URL}deliveries/")

    body = response.json()
    assert body["count"] == 17
    newest = body["results"][0]
    delivery = Delivery.objects.get(pk=newest["id"])
    assert newest["event"] == {
        "id": str(delivery.event_id),
        "type": "order.paid",
        "created_at": delivery.event.created_at.isoformat().replace("+00:00", "Z"),
    }
    assert newest["endpoint"] == two.pk
    assert [a["status_code"] for a in newest["attempts"]] == [500, 200]

    filtered = webhook_staff_client.get(f"{URL}deliveries/?endpoint={one.pk}&status=succeeded")
    assert filtered.json()["count"] == 15
    assert webhook_staff_client.get(f"{URL}deliveries/?status=failed").json()["count"] == 2
    assert webhook_staff_client.get(f"{URL}deliveries/?event_type=x.y").json()["count"] == 0
    detail = webhook_staff_client.get(f"{URL}deliveries/{newest['id']}/")
    assert detail.json() == newest


@pytest.mark.django_db
def test_deliveries_bad_filter_is_a_400(webhook_staff_client):
    response = webhook_staff_client.get(f"{URL}deliveries/?status=lost")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "status" in response.json()["errors"]


@pytest.mark.django_db
def test_a_customer_with_the_permissions_is_still_refused(user, user_client):
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="webhooks"))
    assert user_client.get(URL).json()["code"] == "permission_denied"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://user:pw@127.0.0.1:6379/", "url_credentials"),
        ("https://token@hooks.example.com/in", "url_credentials"),
        ("https://user:pw@hooks.example.com/in", "url_credentials"),
        ("http://169.254.169.254/latest/meta-data/", "url_blocked_address"),
        ("http://[::1]:8080/", "url_blocked_address"),
        ("http://[::ffff:127.0.0.1]/", "url_blocked_address"),
        ("http://127.0.0.1:6379/", "url_blocked_address"),
        ("http://10.1.2.3/hook", "url_blocked_address"),
        ("http://localhost:8000/hook", "url_blocked_address"),
        ("http://api.localhost/hook", "url_blocked_address"),
    ],
)
def test_a_url_deliveries_would_refuse_is_a_400_with_a_stable_code(
    webhook_staff_client, settings, url, code
):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    endpoint = EndpointFactory(url="https://hooks.example.com/in")

    created = webhook_staff_client.post(URL, {"url": url, "event_types": ["*"]}, format="json")
    changed = webhook_staff_client.patch(f"{URL}{endpoint.pk}/", {"url": url}, format="json")

    for response in (created, changed):
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == code
        assert list(body["errors"]) == ["url"]
    assert list(Endpoint.objects.values_list("url", flat=True)) == ["https://hooks.example.com/in"]


@pytest.mark.django_db
def test_internal_addresses_register_only_with_the_setting_and_metadata_never(
    webhook_staff_client, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    internal = webhook_staff_client.post(
        URL, {"url": "http://10.1.2.3:8080/hook", "event_types": ["*"]}, format="json"
    )
    metadata = webhook_staff_client.post(
        URL, {"url": "http://169.254.169.254/", "event_types": ["*"]}, format="json"
    )
    credentials = webhook_staff_client.post(
        URL, {"url": "http://a:b@10.1.2.3/", "event_types": ["*"]}, format="json"
    )
    assert internal.status_code == 201
    assert (metadata.status_code, metadata.json()["code"]) == (400, "url_blocked_address")
    assert (credentials.status_code, credentials.json()["code"]) == (400, "url_credentials")
