"""Contract, "Service": the probes, the schema and the docs (and their errors: JSON objects)."""

import pytest

from tests.foundation.test_health import dead_redis_caches


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_probe_answers_another_method_with_a_json_405(client, path, method):
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "method_not_allowed"
    assert response.json()["detail"]
    assert response["Allow"] == "GET"


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_names_its_checks(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "cache": "ok"}


def test_schema_answers_another_method_with_a_json_error(client):
    response = client.post("/api/schema/")
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "code": "method_not_allowed",
        "detail": 'Method "POST" not allowed.',
    }


@pytest.mark.django_db
def test_schema_answers_a_bad_token_with_a_json_401(client):
    response = client.get("/api/schema/", HTTP_AUTHORIZATION="Token nope")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "authentication_failed"


def test_schema_is_still_served_as_openapi_yaml(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert response.content.startswith(b"openapi: 3")


def test_docs_answer_another_method_with_a_json_error(client):
    response = client.post("/api/docs/")
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "method_not_allowed"


def test_docs_are_still_an_html_page(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_readyz_503_is_an_error_object_naming_the_failing_check(client, settings):
    settings.CACHES = dead_redis_caches(settings)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert (body["code"], body["failing"]) == ("unavailable", ["cache"])
    assert "cache" in body["detail"]
    assert body["checks"] == {"database": "ok", "cache": "error"}
