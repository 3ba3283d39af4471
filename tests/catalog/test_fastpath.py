"""Cached public product reads are answered before DRF, exactly as DRF would answer them."""

from decimal import Decimal

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.throttling import SimpleRateThrottle

from catalog import cache as catalog_cache
from catalog.api import response_cache
from catalog.api.views import ProductViewSet
from tests.catalog.factories import ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/products/"
DETAIL = "/api/v1/products/tee/"
WITHOUT_FASTPATH = [
    m for m in settings.MIDDLEWARE if m != "catalog.api.fastpath.CatalogCacheMiddleware"
]


@pytest.fixture
def tee():
    product = ProductFactory(slug="tee", name="Tee", category__slug="shirts")
    VariantFactory(product=product, sku="TEE-M", price=Decimal("10.00"), stock=5)
    ProductFactory(slug="draft", name="Draft", is_published=False)
    catalog_cache.invalidate()
    return product


@pytest.fixture
def drf_entries(monkeypatch):
    """Every request that reaches the product view (a spy: the view still runs)."""
    entered: list[str] = []
    initial = ProductViewSet.initial

    def spy(self, request, *args, **kwargs):
        entered.append(request.get_full_path())
        return initial(self, request, *args, **kwargs)

    monkeypatch.setattr(ProductViewSet, "initial", spy)
    return entered


@pytest.mark.parametrize("url", [LIST, f"{LIST}?ordering=name&page_size=5", DETAIL])
def test_a_current_entry_is_served_without_entering_drf(api_client, tee, drf_entries, url):
    assert api_client.get(url)["X-Cache"] == "MISS"
    assert drf_entries == [url]
    hit = api_client.get(url)
    assert (hit.status_code, hit["X-Cache"]) == (200, "HIT")
    assert drf_entries == [url], "the hit went through the view"


@pytest.mark.parametrize("url", [LIST, f"{LIST}?in_stock=true", DETAIL])
def test_the_fast_answer_is_the_one_drf_gives(api_client, tee, url):
    """Same status, body and headers (but the request id) as a hit served by the view."""
    api_client.get(url)
    fast = api_client.get(url)
    with override_settings(MIDDLEWARE=WITHOUT_FASTPATH):
        slow = api_client.get(url)
    assert fast["X-Cache"] == slow["X-Cache"] == "HIT"
    assert (fast.status_code, fast.content) == (slow.status_code, slow.content)
    headers = {k: v for k, v in fast.headers.items() if k != "X-Request-ID"}
    assert headers == {k: v for k, v in slow.headers.items() if k != "X-Request-ID"}
    assert "Allow" in headers and "Content-Security-Policy" in headers


def test_if_none_match_is_answered_304_on_the_fast_path(api_client, tee, drf_entries):
    etag = api_client.get(DETAIL)["ETag"]
    response = api_client.get(DETAIL, HTTP_IF_NONE_MATCH=etag)
    assert (response.status_code, response["ETag"]) == (304, etag)
    assert response.content == b""
    assert len(drf_entries) == 1


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("ordering=%20name", 400),  # padded: DRF refuses what the key would strip
        ("ordering=name&ordering=bogus", 400),  # DRF reads the last of repeated values
        ("ordering=name&min_price=", 400),  # an empty value the key would drop
        ("ordering=name&format=json", 200),  # DRF's format override
    ],
)
def test_queries_the_key_would_normalise_go_to_drf(api_client, tee, drf_entries, query, status):
    api_client.get(f"{LIST}?ordering=name")
    response = api_client.get(f"{LIST}?{query}")
    assert response.status_code == status
    assert drf_entries[-1] == f"{LIST}?{query}"


def test_unknown_parameters_share_the_entry(api_client, tee, drf_entries):
    api_client.get(f"{LIST}?ordering=name")
    assert api_client.get(f"{LIST}?ordering=name&utm_source=x")["X-Cache"] == "HIT"
    assert len(drf_entries) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_ACCEPT": "text/html"},
        {"HTTP_ACCEPT": "application/json; q=0, */*"},
        {"HTTP_ACCEPT": "application/json, text/html"},
    ],
)
def test_a_caller_that_may_not_get_json_goes_to_drf(api_client, tee, drf_entries, headers):
    api_client.get(LIST)
    api_client.get(LIST, **headers)
    assert len(drf_entries) == 2


@pytest.mark.parametrize("accept", ["application/json", "*/*", "application/json; q=0.5"])
def test_json_callers_get_the_fast_path(api_client, tee, drf_entries, accept):
    api_client.get(LIST)
    assert api_client.get(LIST, HTTP_ACCEPT=accept)["X-Cache"] == "HIT"
    assert len(drf_entries) == 1


def test_head_goes_to_drf(api_client, tee, drf_entries):
    api_client.get(DETAIL)
    assert api_client.head(DETAIL).status_code == 200
    assert len(drf_entries) == 2


def test_staff_with_a_token_never_get_the_public_entry(api_client, manager_client, tee):
    api_client.get(LIST)
    staff = manager_client.get(LIST)
    assert staff["X-Cache"] == "BYPASS"
    assert {p["slug"] for p in staff.json()["results"]} == {"tee", "draft"}


def test_staff_with_a_session_never_get_the_public_entry(api_client, client, manager, tee):
    api_client.get(LIST)
    client.force_login(manager)
    staff = client.get(LIST)
    assert staff["X-Cache"] == "BYPASS"
    assert {p["slug"] for p in staff.json()["results"]} == {"tee", "draft"}


def test_an_entry_of_an_older_generation_goes_to_drf(api_client, tee, drf_entries):
    api_client.get(DETAIL)
    catalog_cache.invalidate()
    assert api_client.get(DETAIL)["X-Cache"] == "MISS"
    assert len(drf_entries) == 2


def test_a_miss_is_looked_up_once(api_client, tee, monkeypatch):
    """The fast path's lookup is reused by the view: a miss reads the cache once."""
    reads: list[object] = []
    lookup = response_cache._lookup

    def counting(key, *, product=None, values=None):
        reads.append(values is None)
        return lookup(key, product=product, values=values)

    monkeypatch.setattr(response_cache, "_lookup", counting)
    assert api_client.get(DETAIL)["X-Cache"] == "MISS"
    assert reads == [False], "read by the throttle's round trip, and only there"


def test_fast_path_reads_count_against_the_rate_once(api_client, tee, monkeypatch):
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "anon": "2/min", "user": "100/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    assert api_client.get(DETAIL)["X-Cache"] == "MISS"  # fast path, then the view
    assert api_client.get(DETAIL)["X-Cache"] == "HIT"  # fast path only
    refused = api_client.get(DETAIL)
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 60


def test_a_view_with_other_throttles_is_left_to_drf(api_client, tee, drf_entries, monkeypatch):
    """The fast path counts requests with the project's throttle only."""
    from rest_framework.throttling import AnonRateThrottle

    monkeypatch.setattr(ProductViewSet, "throttle_classes", [AnonRateThrottle])
    api_client.get(DETAIL)
    hit = api_client.get(DETAIL)
    assert hit["X-Cache"] == "HIT"  # served from the cache, by the view
    assert len(drf_entries) == 2
