"""Resource limits (OWASP API4, unrestricted resource consumption).

Bodies over 1 MiB are a 413 JSON answer (declared length or chunked), an order
has at most 100 lines, a page at most 100 items, and the throttles answer 429
with Retry-After, on a live gunicorn with production settings.
"""

import json
from collections.abc import Iterator

import pytest

from tests.accounts.factories import UserFactory
from tests.catalog.factories import CategoryFactory, VariantFactory
from tests.fuzz.live import LiveServer, call, live_server
from tests.orders.factories import ADDRESS

MIB = 1024 * 1024


def _big_order_body(size: int) -> bytes:
    body = json.dumps({"lines": [], "note": "x" * size}).encode()
    assert len(body) > size
    return body


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/api/v1/orders/", "/api/v1/auth/login/", "/api/v1/nowhere/"])
def test_a_body_over_one_mib_is_413_json(server: LiveServer, path):
    reply = call(
        server,
        path,
        method="POST",
        data=_big_order_body(MIB),
        headers={"Content-Type": "application/json"},
    )
    assert reply.status == 413
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json()["code"] == "request_too_large"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_over_one_mib_is_413_json(server: LiveServer):
    """No Content-Length to check up front: the middleware reads at most 1 MiB + 1 byte."""
    user = UserFactory()
    from tests.fuzz.seed import token_for

    token = token_for(user)
    body = _big_order_body(MIB)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    reply = call(
        server,
        "/api/v1/me/addresses/",
        method="POST",
        token=token,
        data=chunks(),  # urllib sends an iterable chunked
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    assert reply.status == 413
    assert reply.json()["code"] == "request_too_large"
    assert not user.addresses.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_within_the_limit_is_read(server: LiveServer):
    """Django alone reads a body without Content-Length as empty."""
    from tests.fuzz.seed import token_for

    user = UserFactory()
    body = json.dumps(ADDRESS).encode()
    reply = call(
        server,
        "/api/v1/me/addresses/",
        method="POST",
        token=token_for(user),
        data=iter([body[:20], body[20:]]),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    assert reply.status == 201, reply.body
    assert user.addresses.get().city == ADDRESS["city"]


@pytest.mark.django_db
def test_an_order_of_more_than_100_lines_is_400_and_takes_nothing(user_client):
    variants = VariantFactory.create_batch(101, stock=5)
    lines = [{"sku": v.sku, "quantity": 1} for v in variants]
    response = user_client.post(
        "/api/v1/orders/", {"lines": lines, "shipping_address": ADDRESS}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "lines" in response.json()["errors"]
    assert {v.stock for v in VariantFactory._meta.model.objects.all()} == {5}


@pytest.mark.django_db
def test_a_quantity_over_1000_is_400(user_client):
    variant = VariantFactory(stock=5000)
    response = user_client.post(
        "/api/v1/orders/",
        {"lines": [{"sku": variant.sku, "quantity": 1001}], "shipping_address": ADDRESS},
        format="json",
    )
    assert response.status_code == 400
    assert "lines.0.quantity" in response.json()["errors"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/categories/", "/api/v1/orders/"])
def test_page_size_is_capped_at_100_everywhere(superuser_client, url):
    CategoryFactory.create_batch(101)
    response = superuser_client.get(url, {"page_size": 10_000})
    assert response.status_code == 200
    assert len(response.json()["results"]) <= 100
    if url == "/api/v1/categories/":
        assert len(response.json()["results"]) == 100


@pytest.fixture(scope="module")
def throttled_server(django_db_setup, django_db_blocker, live_static_root, tmp_path_factory):
    """Production throttles, turned low so that a test reaches them quickly."""
    log_path = tmp_path_factory.mktemp("throttled") / "server.log"
    with (
        django_db_blocker.unblock(),
        live_server(
            static_root=live_static_root,
            log_path=log_path,
            workers=1,
            throttled=True,
            THROTTLE_ANON="5/min",
            THROTTLE_USER="8/min",
        ) as live,
    ):
        yield live


@pytest.mark.slow
def test_anonymous_callers_are_throttled_with_retry_after(throttled_server: LiveServer):
    statuses = [call(throttled_server, "/api/v1/categories/").status for _ in range(5)]
    assert statuses == [200] * 5
    reply = call(throttled_server, "/api/v1/categories/")
    assert reply.status == 429
    assert reply.json()["code"] == "throttled"
    assert 1 <= int(reply.headers["Retry-After"]) <= 60


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_customers_are_throttled_with_retry_after(throttled_server: LiveServer):
    from tests.fuzz.seed import token_for

    token = token_for(UserFactory())
    statuses = [call(throttled_server, "/api/v1/me/", token=token).status for _ in range(8)]
    assert statuses == [200] * 8
    reply = call(throttled_server, "/api/v1/me/", token=token)
    assert reply.status == 429
    assert reply.json()["code"] == "throttled"
    assert 1 <= int(reply.headers["Retry-After"]) <= 60


@pytest.mark.django_db
def test_repeated_failed_logins_for_one_email_are_429_with_retry_after(api_client):
    user = UserFactory()
    for _ in range(5):
        response = api_client.post(
            "/api/v1/auth/login/", {"email": user.email, "password": "wrong"}, format="json"
        )
        assert response.status_code == 400
    response = api_client.post(
        "/api/v1/auth/login/", {"email": user.email, "password": "wrong"}, format="json"
    )
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1
