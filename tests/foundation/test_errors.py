"""Every error under /api/ is JSON with a stable `code` and a `detail`, never HTML."""

import json

import pytest
from rest_framework.test import APIClient

from tests.conftest import token_client

TEST_URLS = pytest.mark.urls("tests.foundation.urls")
ONE_MIB = 1024 * 1024


@pytest.mark.django_db
@TEST_URLS
def test_no_token_is_401_not_authenticated(api_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(0):
        response = api_client.get("/api/v1/_test/probe/")
    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "detail": "Authentication credentials were not provided.",
    }
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
@TEST_URLS
def test_bad_token_is_401_authentication_failed(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api_client.get("/api/v1/_test/probe/")
    assert response.status_code == 401
    assert response.json() == {"code": "authentication_failed", "detail": "Invalid token."}


@pytest.mark.django_db
@TEST_URLS
def test_a_real_token_authenticates(user):
    response = token_client(user).get("/api/v1/_test/probe/")
    assert response.status_code == 200
    assert response.json() == {"email": user.email}


@pytest.mark.django_db
@TEST_URLS
def test_session_authentication_works_too(client, user):
    client.force_login(user)
    response = client.get("/api/v1/_test/probe/")
    assert response.status_code == 200


@pytest.mark.django_db
@TEST_URLS
def test_wrong_method_is_405_method_not_allowed(user_client):
    response = user_client.delete("/api/v1/_test/probe/")
    assert response.status_code == 405
    assert response.json() == {
        "code": "method_not_allowed",
        "detail": 'Method "DELETE" not allowed.',
    }


@pytest.mark.django_db
def test_unknown_api_url_is_json_404(api_client, settings):
    assert settings.DEBUG is False
    response = api_client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "detail": "Not found."}


@pytest.mark.django_db
def test_unknown_url_outside_the_api_stays_html(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
@TEST_URLS
def test_http404_raised_in_a_view_is_not_found(api_client):
    response = api_client.get("/api/v1/_test/missing/")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}


@pytest.mark.django_db
@TEST_URLS
def test_malformed_json_is_400_parse_error(api_client):
    response = api_client.post(
        "/api/v1/_test/echo/", data='{"name": "broken', content_type="application/json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "parse_error"
    assert body["detail"].startswith("JSON parse error")


@pytest.mark.django_db
@TEST_URLS
def test_unsupported_media_type_is_415(api_client):
    response = api_client.post("/api/v1/_test/echo/", data="name=x", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


@pytest.mark.django_db
@TEST_URLS
def test_validation_errors_are_flattened_with_dotted_paths(api_client):
    response = api_client.post(
        "/api/v1/_test/echo/",
        data={"name": "ok", "lines": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 0}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "Invalid input.",
        "errors": {"lines.1.quantity": ["Ensure this value is greater than or equal to 1."]},
    }


@pytest.mark.django_db
@TEST_URLS
def test_body_over_one_mib_is_413_request_too_large(api_client):
    body = json.dumps({"name": "x", "pad": "a" * ONE_MIB})
    response = api_client.post("/api/v1/_test/echo/", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {
        "code": "request_too_large",
        "detail": f"Request body exceeds {ONE_MIB} bytes.",
    }


@pytest.mark.django_db
@TEST_URLS
def test_body_of_exactly_one_mib_is_accepted(api_client):
    skeleton = json.dumps({"name": "x", "pad": ""})
    body = json.dumps({"name": "x", "pad": "a" * (ONE_MIB - len(skeleton))})
    assert len(body) == ONE_MIB
    response = api_client.post("/api/v1/_test/echo/", data=body, content_type="application/json")
    assert response.status_code == 200
    assert response.json() == {"name": "x"}


@pytest.mark.django_db
@TEST_URLS
def test_domain_error_becomes_its_code_status_and_extra_fields(api_client):
    response = api_client.post("/api/v1/_test/conflict/", data={}, format="json")
    assert response.status_code == 409
    assert response.json() == {"code": "out_of_widgets", "detail": "No widgets left.", "wanted": 3}


@pytest.mark.django_db
@TEST_URLS
def test_unhandled_exception_is_json_500_without_internals():
    client = APIClient(raise_request_exception=False)
    response = client.get("/api/v1/_test/boom/")
    assert response.status_code == 500
    assert response.json() == {"code": "server_error", "detail": "A server error occurred."}
    assert "unexpected bug" not in response.content.decode()


@pytest.mark.django_db
@TEST_URLS
def test_throttled_is_429_with_retry_after(api_client):
    assert api_client.get("/api/v1/_test/throttled/").status_code == 200
    response = api_client.get("/api/v1/_test/throttled/")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60


@pytest.mark.django_db
def test_browsable_api_is_off_without_debug(api_client, settings):
    assert settings.REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] == [
        "rest_framework.renderers.JSONRenderer"
    ]
