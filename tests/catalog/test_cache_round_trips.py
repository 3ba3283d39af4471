"""A cached catalog read asks Redis once: throttle windows, generation and entry together."""

from decimal import Decimal

import pytest
from django.core.cache import cache

from catalog import cache as catalog_cache
from catalog.api import response_cache
from core import throttling
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


@pytest.fixture
def redis_commands(monkeypatch):
    """Every command sent to Redis (the real client, counted: nothing is faked)."""
    commands: list[str] = []
    connection_class = type(throttling._redis())
    execute = connection_class.execute_command

    def counting(self, *args, **kwargs):
        commands.append(args[0])
        return execute(self, *args, **kwargs)

    monkeypatch.setattr(connection_class, "execute_command", counting)
    return commands


@pytest.mark.parametrize("url", [LIST, DETAIL])
def test_a_hit_is_one_round_trip_with_redis(api_client, tee, redis_commands, url):
    """The throttle's windows and the generation and the entry: one script call."""
    assert api_client.get(url)["X-Cache"] == "MISS"
    redis_commands.clear()
    response = api_client.get(url)
    assert response["X-Cache"] == "HIT"
    assert redis_commands == ["EVALSHA"]


def test_without_the_fast_path_a_hit_reads_the_cache_once(api_client, tee, redis_commands):
    """A cacheable read the fast path leaves to the view (here: HEAD) still reads once."""
    assert api_client.get(DETAIL)["X-Cache"] == "MISS"
    redis_commands.clear()
    response = api_client.head(DETAIL)
    assert response["X-Cache"] == "HIT"
    assert redis_commands == ["EVALSHA", "MGET"]


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
    key = response_cache.cache_key(scope="product", request=request, query="")
    assert cache.get(key) is not None, "the scope/params of the detail view changed"
    catalog_cache.invalidate()
    cache.set(key, (old, '"stale"', b'{"stale": true}'), timeout=60)
    response = api_client.get(DETAIL)
    assert response["X-Cache"] == "MISS"
    assert response.json()["slug"] == "tee"
