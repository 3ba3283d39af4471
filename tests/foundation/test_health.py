"""/healthz and /readyz as in the contract; a Redis outage degrades, never a 500."""

import copy

import pytest
from django.core.cache import cache
from django.test import override_settings

from tests.foundation.procs import free_port


def dead_redis_caches(settings) -> dict:
    """The project's own Redis cache settings, pointed at a port where nothing listens."""
    caches = copy.deepcopy(settings.CACHES)
    assert caches["default"]["BACKEND"] == "django_redis.cache.RedisCache"
    caches["default"]["LOCATION"] = f"redis://127.0.0.1:{free_port()}/0"
    return caches


def test_healthz_answers_ok_without_touching_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_200_when_database_and_cache_answer(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


@pytest.mark.django_db
def test_readyz_is_503_naming_the_cache_when_redis_is_unreachable(client, settings):
    caches = dead_redis_caches(settings)
    with override_settings(CACHES=caches):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "code": "unavailable",
        "detail": "Not ready: cache failing.",
        "status": "unavailable",
        "checks": {"database": "ok", "cache": "error"},
        "failing": ["cache"],
    }
    # Readiness fails fast, not hanging on a dead cache: its client has bounded timeouts.
    options = caches["default"]["OPTIONS"]
    assert 0 < options["SOCKET_CONNECT_TIMEOUT"] <= 1
    assert 0 < options["SOCKET_TIMEOUT"] <= 1


@pytest.mark.django_db
def test_redis_outage_degrades_to_cache_misses_that_are_logged(settings, caplog):
    with override_settings(CACHES=dead_redis_caches(settings)):
        cache.set("some-key", "value", timeout=5)
        assert cache.get("some-key") is None
    outage_logs = [r for r in caplog.records if r.name == "stockroom.cache"]
    assert len(outage_logs) == 2
    # One line each, with the error, and no traceback: formatting one costs every request.
    assert all(record.levelname == "ERROR" and not record.exc_info for record in outage_logs)
    assert all(record.error.startswith("ConnectionInterrupted: ") for record in outage_logs)


@pytest.mark.django_db
@pytest.mark.urls("tests.foundation.urls")
def test_api_requests_survive_a_redis_outage(user_client, settings):
    """Throttling reads the cache on every request: a dead Redis must not turn into 500s."""
    with override_settings(CACHES=dead_redis_caches(settings)):
        response = user_client.get("/api/v1/_test/probe/")
    assert response.status_code == 200


@pytest.mark.django_db
def test_probes_answer_any_host_while_other_urls_check_allowed_hosts(client):
    """Orchestrators probe by container address, which ALLOWED_HOSTS does not list."""
    assert client.get("/healthz", HTTP_HOST="10.0.3.7:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.0.3.7:8000").status_code == 200
    assert client.get("/api/schema/", HTTP_HOST="10.0.3.7:8000").status_code == 400


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True)
def test_probes_are_not_redirected_to_https(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/api/schema/").status_code == 301


def test_probes_only_answer_get(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_schema_and_swagger_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert schema["Content-Type"].startswith("application/vnd.oai.openapi")
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
