"""A cached catalog read asks the cache once for the generation and the entry together."""

from decimal import Decimal

import pytest
from django.core.cache import cache

from catalog import cache as catalog_cache
from tests.catalog.factories import ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/products/"
DETAIL = "/api/v1/products/tee/"


@pytest.fixture
def tee():
    product = ProductFactory(slug="tee", name="Tee", category__slug="shirts")
    VariantFactory(product=product, sku="TEE-M", price=Decimal("10.00"), stock=5)
    catalog_cache.invalidate()
    return product


class _Counting:
    """The real cache, with its calls counted (nothing is faked)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        attribute = getattr(cache, name)
        if callable(attribute):
            self.calls.append(name)
        return attribute


@pytest.mark.parametrize("url", [LIST, DETAIL])
def test_a_hit_is_one_cache_read(api_client, tee, monkeypatch, url):
    assert api_client.get(url)["X-Cache"] == "MISS"
    counting = _Counting()
    monkeypatch.setattr(catalog_cache, "cache", counting)
    response = api_client.get(url)
    assert response["X-Cache"] == "HIT"
    assert counting.calls == ["get_many"]


def test_an_entry_of_an_older_generation_is_never_served(api_client, tee):
    first = api_client.get(DETAIL)
    assert first["X-Cache"] == "MISS"
    catalog_cache.invalidate()
    again = api_client.get(DETAIL)
    assert again["X-Cache"] == "MISS"
    assert again.json() == first.json()
    assert api_client.get(DETAIL)["X-Cache"] == "HIT"


def test_a_late_store_of_an_old_generation_is_not_served(api_client, tee, rf):
    """A reader that built its body before a bump stores it tagged with the old generation."""
    api_client.get(DETAIL)
    old = catalog_cache.generation()
    request = rf.get(DETAIL)
    key = catalog_cache.cache_key(scope="product", request=request, params=[])
    assert cache.get(key) is not None, "the scope/params of the detail view changed"
    catalog_cache.invalidate()
    cache.set(key, (old, '"stale"', b'{"stale": true}'), timeout=60)
    response = api_client.get(DETAIL)
    assert response["X-Cache"] == "MISS"
    assert response.json()["slug"] == "tee"
