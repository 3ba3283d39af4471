"""A knox token is checked once per request, even when middleware asked first."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from knox.models import AuthToken
from rest_framework.test import APIClient, APIRequestFactory

from accounts.authentication import TokenAuthentication
from tests.catalog.factories import VariantFactory
from tests.orders.factories import ADDRESS

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders/"


def _token_lookups(queries: CaptureQueriesContext) -> int:
    return sum('FROM "knox_authtoken"' in q["sql"] for q in queries.captured_queries)


def _one_check(user) -> int:
    """Queries on knox's table of one token check (accounts.authentication: the token only)."""
    _, key = AuthToken.objects.create(user=user)
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {key}")
    with CaptureQueriesContext(connection) as queries:
        assert TokenAuthentication().authenticate(request) is not None
    return _token_lookups(queries)


def test_an_idempotent_order_post_authenticates_the_token_once(user_client, user):
    variant = VariantFactory(price=Decimal("5.00"), stock=5)
    body = {"lines": [{"sku": variant.sku, "quantity": 1}], "shipping_address": ADDRESS}
    with CaptureQueriesContext(connection) as queries:
        response = user_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="once-1")
    assert response.status_code == 201, response.content
    assert _token_lookups(queries) == _one_check(user) > 0
    assert response.json()["lines"][0]["sku"] == variant.sku


def test_a_bad_token_is_still_refused_with_a_key():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "x" * 64)
    response = client.post(URL, {}, format="json", HTTP_IDEMPOTENCY_KEY="bad-1")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_the_stash_answers_only_for_its_own_request(user):
    _, key = AuthToken.objects.create(user=user)
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {key}")
    auth = TokenAuthentication()
    with CaptureQueriesContext(connection) as queries:
        first = auth.authenticate(request)
        again = auth.authenticate(request)
    assert first is not None and first[0] == user and again is first
    assert _token_lookups(queries) == _one_check(user)
    other = APIRequestFactory().get("/", HTTP_AUTHORIZATION="Bearer something-else")
    assert auth.authenticate(other) is None  # the stash belongs to its request
