"""Contract, "Conventions": one error format, one list shape, money and times, in every app."""

import re

import pytest

from tests.catalog.factories import VariantFactory
from tests.contract.schema import openapi
from tests.orders.factories import order_place

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
MONEY = re.compile(r"^\d+\.\d\d$")


def test_every_429_in_the_schema_declares_the_retry_after_header():
    missing = [
        f"{method.upper()} {path}"
        for path, operations in openapi()["paths"].items()
        for method, operation in operations.items()
        if "429" in operation.get("responses", {})
        and "Retry-After" not in operation["responses"]["429"].get("headers", {})
    ]
    assert missing == []


def test_the_error_body_is_one_schema_component():
    """A plain error body is `Error`; a richer one extends it, never redefines it."""
    schemas = openapi()["components"]["schemas"]
    error = schemas["Error"]
    bodies = {
        name: set(schema["properties"])
        for name, schema in schemas.items()
        if {"code", "detail"} <= set(schema.get("properties", {}))
    }
    assert [name for name, fields in bodies.items() if fields <= set(error["properties"])] == [
        "Error"
    ]
    for name in bodies:
        assert schemas[name]["properties"]["errors"] == error["properties"]["errors"], name


def test_every_error_response_in_the_schema_has_a_code_and_a_detail():
    schemas = openapi()["components"]["schemas"]
    wrong = []
    for path, operations in openapi()["paths"].items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                if not status.startswith("4") or status in ("414",):
                    continue
                content = response.get("content", {}).get("application/json")
                if content is None:
                    if status != "404" or "content" in response:
                        wrong.append(f"{method.upper()} {path} {status}: no JSON body")
                    continue
                schema = content["schema"]
                if "$ref" in schema:
                    schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
                if not {"code", "detail"} <= set(schema.get("properties", {})):
                    wrong.append(f"{method.upper()} {path} {status}")
    assert wrong == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/api/v1/me/"),
        ("put", "/api/v1/products/"),
        ("put", "/api/v1/orders/"),
        ("put", "/api/v1/webhooks/"),
        ("get", "/api/v1/payments/webhook/"),
        ("get", "/api/v1/auth/logout/"),
    ],
)
def test_a_wrong_method_is_a_405_json_error_in_every_app(superuser_client, method, path):
    response = getattr(superuser_client, method)(path, {}, format="json")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/me/addresses/999999/",
        "/api/v1/categories/nope/",
        "/api/v1/products/nope/",
        "/api/v1/variants/NOPE/",
        "/api/v1/orders/SR-NOPE/",
        "/api/v1/webhooks/999999/",
        "/api/v1/webhooks/deliveries/999999/",
        "/api/v1/no-such-resource/",
    ],
)
def test_an_unknown_object_is_a_404_not_found_in_every_app(superuser_client, path):
    response = superuser_client.get(path)
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/me/addresses/", {"country": "DE"}, "full_name"),
        ("/api/v1/categories/", {}, "name"),
        ("/api/v1/variants/", {"sku": "A-1"}, "price"),
        ("/api/v1/orders/", {"lines": [{"sku": "A", "quantity": 0}]}, "lines.0.quantity"),
        ("/api/v1/webhooks/", {"url": "https://example.org/"}, "event_types"),
        ("/api/v1/auth/register/", {"email": "x"}, "email"),
    ],
)
def test_validation_errors_have_the_same_shape_in_every_app(superuser_client, path, body, field):
    response = superuser_client.post(path, body, format="json")
    assert response.status_code == 400
    data = response.json()
    assert data["code"] == "invalid"
    assert isinstance(data["detail"], str)
    assert isinstance(data["errors"][field], list)
    assert all(isinstance(message, str) for message in data["errors"][field])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/v1/me/", "/api/v1/orders/", "/api/v1/me/export/", "/api/v1/webhooks/"]
)
def test_no_token_is_401_not_authenticated_and_a_bad_one_401_authentication_failed(
    api_client, path
):
    assert api_client.get(path).json()["code"] == "not_authenticated"
    response = api_client.get(path, HTTP_AUTHORIZATION="Token not-a-real-token")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/categories/", "/api/v1/products/", "/api/v1/orders/"])
def test_lists_are_pages_of_20_by_default_and_at_most_100(user_client, path):
    page = user_client.get(path).json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert user_client.get(f"{path}?page_size=abc").json()["code"] == "invalid"


@pytest.mark.django_db
def test_money_is_a_two_place_string_with_a_currency_and_times_are_utc(user, user_client):
    variant = VariantFactory(price="19.9", stock=3)
    order = order_place(user=user, variant=variant)
    product = user_client.get(f"/api/v1/products/{variant.product.slug}/").json()
    assert MONEY.match(product["price"]) and product["price"] == "19.90"
    assert product["currency"] == "EUR"
    assert ISO_UTC.match(product["created_at"])
    body = user_client.get(f"/api/v1/orders/{order.number}/").json()
    for field in ("subtotal", "shipping_total", "total"):
        assert MONEY.match(body[field]), field
    assert MONEY.match(body["lines"][0]["unit_price"])
    assert ISO_UTC.match(body["created_at"]) and ISO_UTC.match(body["updated_at"])


@pytest.mark.django_db
def test_a_post_without_the_trailing_slash_is_a_404_not_a_redirect_to_the_list(user_client):
    """A 301 makes clients repeat the POST as a GET: 200 with the order list, no order."""
    variant = VariantFactory(stock=1)
    body = {"lines": [{"sku": variant.sku, "quantity": 1}]}
    response = user_client.post("/api/v1/orders", body, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_a_get_without_the_trailing_slash_is_still_redirected(api_client):
    response = api_client.get("/api/v1/products")
    assert response.status_code == 301
    assert response["Location"] == "/api/v1/products/"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/me/addresses/", "/api/v1/orders/"])
def test_json_nested_too_deeply_is_a_400_parse_error_not_a_500(user_client, path):
    """Python's decoder raises RecursionError (not ValueError) past ~1000 levels."""
    body = "[" * 50_000 + "]" * 50_000
    response = user_client.post(path, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_every_operation_with_a_body_documents_415_and_the_parse_error():
    for path, operations in openapi()["paths"].items():
        for method, operation in operations.items():
            if "requestBody" not in operation:
                continue
            responses = operation["responses"]
            assert "415" in responses, f"{method} {path}"
            if "parse_error" not in responses["400"]["description"]:
                pytest.fail(f"{method.upper()} {path}: 400 does not mention parse_error")


@pytest.mark.django_db
def test_a_body_that_is_not_json_is_415_or_400_parse_error(user_client):
    form = user_client.post("/api/v1/me/addresses/", "a=b", content_type="text/plain")
    assert (form.status_code, form.json()["code"]) == (415, "unsupported_media_type")
    broken = user_client.post("/api/v1/me/addresses/", "{", content_type="application/json")
    assert (broken.status_code, broken.json()["code"]) == (400, "parse_error")
