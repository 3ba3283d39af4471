"""The DRF baseline every endpoint inherits: auth, pagination, tokens, throttle rates."""

from datetime import timedelta

import pytest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.pagination import PageNumberPagination

ITEMS = list(range(250))


def paginate(query: str) -> dict:
    request = Request(APIRequestFactory().get(f"/api/v1/things/{query}"))
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(ITEMS, request)
    return dict(paginator.get_paginated_response(page).data)


def test_pages_have_twenty_items_by_default():
    body = paginate("")
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 250
    assert body["results"] == ITEMS[:20]
    assert body["previous"] is None
    assert body["next"].endswith("/api/v1/things/?page=2")


def test_page_size_is_capped_at_one_hundred():
    assert len(paginate("?page_size=500")["results"]) == 100
    assert len(paginate("?page_size=7")["results"]) == 7


def test_api_requires_authentication_by_default(settings):
    rest = settings.REST_FRAMEWORK
    assert rest["DEFAULT_PERMISSION_CLASSES"] == ["rest_framework.permissions.IsAuthenticated"]
    assert rest["DEFAULT_AUTHENTICATION_CLASSES"] == [
        "accounts.authentication.TokenAuthentication",
        "integrations.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ]


def test_throttle_rates_come_from_settings(settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert {"anon", "user", "login", "register", "password_reset"} <= set(rates)


@pytest.mark.django_db
def test_tokens_are_stored_hashed_and_expire(user, settings):
    instance, key = AuthToken.objects.create(user=user)
    stored = AuthToken.objects.get(pk=instance.pk)
    assert key not in {stored.digest, stored.token_key}
    assert key.startswith(stored.token_key)
    ttl = settings.REST_KNOX["TOKEN_TTL"]
    assert timedelta(0) < ttl
    assert stored.expiry is not None
    assert abs(stored.expiry - (timezone.now() + ttl)) < timedelta(minutes=1)


@pytest.mark.django_db
@pytest.mark.urls("tests.foundation.urls")
def test_an_expired_token_is_refused(user, api_client):
    instance, key = AuthToken.objects.create(user=user)
    AuthToken.objects.filter(pk=instance.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = api_client.get("/api/v1/_test/probe/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
