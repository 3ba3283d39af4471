"""The fixes schemathesis asked for, each pinned by a direct test (in-process, fast).

- JSON types are what the schema says (core/serializers.py);
- `page` and `page_size` are positive integers, a page past the end is a 404;
- OPTIONS never 500s (core/metadata.py);
- the schema documents the cross-cutting errors (core/openapi.py).
"""

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.catalog.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"
PRODUCTS = "/api/v1/products/"
CATEGORIES = "/api/v1/categories/"


@pytest.mark.parametrize("value", [0, 1.5, True, ["x"], {"a": "b"}])
def test_a_json_non_string_for_a_text_field_is_400(user_client, user, value):
    response = user_client.patch(ME, {"last_name": value}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["errors"]) == ["last_name"]
    user.refresh_from_db()
    assert user.last_name != str(value)


def test_a_json_string_for_a_text_field_is_still_accepted(user_client, user):
    response = user_client.patch(ME, {"last_name": "0"}, format="json")
    assert response.status_code == 200
    assert response.json()["last_name"] == "0"


@pytest.mark.parametrize("value", [0, 1, 2.0])
def test_a_number_for_a_boolean_field_is_400(superuser_client, value):
    product = ProductFactory(is_published=True)
    response = superuser_client.patch(
        f"{PRODUCTS}{product.slug}/", {"is_published": value}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"is_published": ["Must be a valid boolean."]}
    product.refresh_from_db()
    assert product.is_published is True


@pytest.mark.parametrize("value", [19, 7.5, True])
def test_a_json_number_for_a_decimal_string_is_400(superuser_client, value):
    response = superuser_client.post(
        "/api/v1/tax-rates/",
        {"country": "DE", "tax_class": "standard", "rate": value},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["rate"]
    accepted = superuser_client.post(
        "/api/v1/tax-rates/",
        {"country": "DE", "tax_class": "standard", "rate": "19"},
        format="json",
    )
    assert (accepted.status_code, accepted.json()["rate"]) == (201, "19.00")


def test_a_boolean_query_parameter_still_reads_text(api_client):
    ProductFactory(is_published=True)
    assert api_client.get(PRODUCTS, {"in_stock": "false"}).status_code == 200


def test_a_blank_relation_is_400_not_null(superuser_client):
    response = superuser_client.post(CATEGORIES, {"name": "Shoes", "parent": ""}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"parent": ["This field may not be blank."]}


def test_a_number_for_a_slug_relation_is_400_not_looked_up_as_text(superuser_client):
    CategoryFactory(slug="0")
    product = ProductFactory()
    response = superuser_client.patch(f"{PRODUCTS}{product.slug}/", {"category": 0}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"category": ["Invalid value."]}


def test_a_relation_with_a_nul_character_is_400_not_a_database_error(superuser_client):
    response = superuser_client.post(
        CATEGORIES, {"name": "Shoes", "parent": "a\x00b"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"parent": ["Null characters are not allowed."]}


@pytest.mark.parametrize(
    "params",
    [{"page_size": "x"}, {"page_size": "0"}, {"page_size": "-3"}, {"page": "0"}, {"page": "a"}],
)
def test_page_and_page_size_must_be_positive_integers(api_client, params):
    response = api_client.get(CATEGORIES, params)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["errors"]) == list(params)


@pytest.mark.parametrize("url", [CATEGORIES, PRODUCTS])
def test_an_empty_page_or_page_size_means_the_default_cached_or_not(api_client, url):
    # The catalog's response cache drops empty parameters from its key: the
    # paginator must read them the same way, or `?page=` answers 400 or 200
    # depending on what is cached.
    ProductFactory()
    CategoryFactory()
    for _ in range(2):
        assert api_client.get(url, {"page": "", "page_size": ""}).status_code == 200
        assert api_client.get(url).status_code == 200


def test_an_empty_nullable_flag_is_no_filter_and_documented(api_client, schema):
    ProductFactory()
    assert api_client.get(PRODUCTS, {"in_stock": ""}).status_code == 200
    parameters = {p["name"]: p for p in schema["paths"][PRODUCTS]["get"]["parameters"]}
    assert parameters["in_stock"]["allowEmptyValue"] is True
    assert "allowEmptyValue" not in parameters["min_price"]
    assert api_client.get(PRODUCTS, {"min_price": ""}).status_code == 400


def test_a_page_past_the_last_is_404(api_client):
    CategoryFactory()
    response = api_client.get(CATEGORIES, {"page": "2"})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_page_size_is_capped_at_100(api_client):
    CategoryFactory.create_batch(101)
    body = api_client.get(CATEGORIES, {"page_size": "1000"}).json()
    assert body["count"] == 101
    assert len(body["results"]) == 100


def test_options_describes_the_view_without_instantiating_serializers(superuser_client):
    # Views that choose a serializer per action answered OPTIONS with a 500.
    response = superuser_client.options(CATEGORIES)
    assert response.status_code == 200
    assert set(response.json()) == {"name", "description", "renders", "parses"}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_schema_documents_401_wherever_a_token_is_read(schema):
    missing = [
        f"{m} {p}"
        for m, p, op in _operations(schema)
        if op.get("security") != [{}] and "401" not in op["responses"]
    ]
    assert missing == []


def test_schema_documents_404_for_every_object_path_and_429_when_throttled(schema):
    for method, path, operation in _operations(schema):
        if "{" in path:
            assert "404" in operation["responses"], f"{method} {path}"
        if path != "/api/v1/payments/webhook/":  # the provider's webhook is never throttled
            assert "429" in operation["responses"], f"{method} {path}"
        if method in {"POST", "PUT", "PATCH"}:
            assert {"400", "413"} <= set(operation["responses"]), f"{method} {path}"


def test_schema_error_responses_use_the_error_body(schema):
    error = schema["paths"]["/api/v1/webhooks/"]["get"]["responses"]["403"]
    assert error["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {"code", "detail"}


def test_schema_says_empty_filters_are_ignored(schema):
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/orders/"]["get"]["parameters"]}
    assert parameters["created_before"]["allowEmptyValue"] is True
    assert parameters["page_size"]["schema"]["minimum"] == 1
    assert parameters["page_size"]["allowEmptyValue"] is True


def test_an_anonymous_post_with_a_key_in_use_is_401_not_409(api_client, user_client):
    """Found by schemathesis (ignored_auth): the key's state leaked before authentication."""
    from core.models import IdempotencyKey

    # As if an earlier request from this address had stored an answer under the key.
    IdempotencyKey.objects.create(
        caller="anon:127.0.0.1",
        method="POST",
        path=CATEGORIES,
        key="k1",
        fingerprint="another body",
        status_code=201,
        response_body=b"{}",
    )
    response = api_client.post(CATEGORIES, {"name": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"created_before": "4011-09-21T15:33:16-17:52"}, 200),  # PostgreSQL: offset > 15:59
        ({"created_after": "2026-01-01T00:00:00+23:59"}, 200),
        ({"created_before": "9999-12-31T23:59:59-05:00"}, 400),  # past year 9999 in UTC
    ],
)
def test_order_date_filters_take_any_iso_offset(user_client, params, status):
    response = user_client.get("/api/v1/orders/", params)
    assert response.status_code == status
    if status == 400:
        assert list(response.json()["errors"]) == list(params)


def test_an_empty_delivery_filter_is_no_filter_and_documented(superuser_client, schema):
    response = superuser_client.get("/api/v1/webhooks/deliveries/", {"endpoint": ""})
    assert response.status_code == 200
    path = schema["paths"]["/api/v1/webhooks/deliveries/"]["get"]
    parameters = {p["name"]: p for p in path["parameters"]}
    assert parameters["endpoint"]["allowEmptyValue"] is True
