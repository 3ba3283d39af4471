"""Public product reads are cached in Redis, invalidated by every committed catalog change."""

from decimal import Decimal

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.test import override_settings

from catalog import cache as catalog_cache
from catalog import services
from catalog.models import Category, Product, Variant
from catalog.services import stock_return, stock_take
from tests.catalog.factories import CategoryFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/products/"
DETAIL = "/api/v1/products/tee/"


def clear_catalog_cache() -> None:
    cache.delete_pattern("catalog:*")  # type: ignore[attr-defined]  # django-redis


@pytest.fixture
def tee():
    product = ProductFactory(slug="tee", name="Tee", category__slug="shirts")
    VariantFactory(product=product, sku="TEE-M", price=Decimal("10.00"), stock=5)
    return product


def test_second_public_read_is_served_from_redis_without_queries(
    api_client, tee, django_assert_num_queries
):
    first = api_client.get(LIST)
    assert first["X-Cache"] == "MISS"

    with django_assert_num_queries(0):
        second = api_client.get(LIST)
    assert second["X-Cache"] == "HIT"
    assert second.content == first.content
    detail_miss = api_client.get(DETAIL)
    with django_assert_num_queries(0):
        detail_hit = api_client.get(DETAIL)
    assert (detail_miss["X-Cache"], detail_hit["X-Cache"]) == ("MISS", "HIT")
    assert detail_hit.content == detail_miss.content


def test_key_is_the_normalised_query(api_client, tee):
    api_client.get(LIST, {"ordering": "name", "in_stock": "true"})

    assert api_client.get(f"{LIST}?in_stock=true&ordering=name")["X-Cache"] == "HIT"
    assert api_client.get(f"{LIST}?in_stock=true&ordering=name&utm=x")["X-Cache"] == "HIT"
    assert api_client.get(f"{LIST}?in_stock=false&ordering=name")["X-Cache"] == "MISS"
    # Bodies hold absolute page links: another host is another entry.
    other_host = api_client.get(f"{LIST}?in_stock=true&ordering=name", HTTP_HOST="localhost")
    assert other_host["X-Cache"] == "MISS"


def test_errors_are_not_cached(api_client):
    assert api_client.get(LIST, {"ordering": "nope"}).status_code == 400
    assert api_client.get("/api/v1/products/missing/").status_code == 404
    ProductFactory(slug="missing")
    # No invalidation ran (nothing commits in this test): the 404 was simply not stored.
    assert api_client.get("/api/v1/products/missing/").status_code == 200


def test_staff_reads_bypass_the_cache_and_never_leak_to_the_public(api_client, manager_client, tee):
    ProductFactory(slug="draft", is_published=False)

    staff = manager_client.get(LIST)
    public = api_client.get(LIST)

    assert staff["X-Cache"] == "BYPASS"
    assert [i["slug"] for i in staff.json()["results"]] == ["draft", "tee"]
    assert public["X-Cache"] == "MISS"
    assert [i["slug"] for i in public.json()["results"]] == ["tee"]
    assert "is_published" not in public.json()["results"][0]


# --- ETag ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [LIST, DETAIL])
def test_etag_and_if_none_match_gives_304(api_client, tee, url):
    first = api_client.get(url)
    etag = first["ETag"]
    assert etag.startswith('"') and etag.endswith('"')

    for _ in range(2):  # from the database (miss) and from the cache (hit)
        clear_catalog_cache()
        not_modified = api_client.get(url, HTTP_IF_NONE_MATCH=etag)
        assert not_modified.status_code == 304
        assert not_modified.content == b""
        assert not_modified["ETag"] == etag
    assert api_client.get(url, HTTP_IF_NONE_MATCH=f'"other", W/{etag}').status_code == 304
    assert api_client.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_etag_changes_when_the_product_changes(api_client, tee, django_capture_on_commit_callbacks):
    etag = api_client.get(DETAIL)["ETag"]
    with django_capture_on_commit_callbacks(execute=True):
        services.product_update(product=tee, data={"name": "Tee v2"})

    response = api_client.get(DETAIL, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 200
    assert response.json()["name"] == "Tee v2"
    assert response["ETag"] != etag


def test_staff_responses_carry_an_etag_too(manager_client, tee):
    etag = manager_client.get(DETAIL)["ETag"]

    assert manager_client.get(DETAIL, HTTP_IF_NONE_MATCH=etag).status_code == 304


# --- invalidation ------------------------------------------------------------------------


def _rename(tee):
    services.product_update(product=tee, data={"name": "Renamed"})


def _unpublish(tee):
    services.products_publish(product_ids=[tee.pk], is_published=False)


def _new_product(tee):
    product = services.product_create(
        name="New", category=tee.category, is_published=True, description=""
    )
    services.variant_create(product=product, sku="NEW-1", price=Decimal("3.00"))


def _delete_product(tee):
    services.product_delete(product=tee)


def _price(tee):
    services.variant_update(variant=Variant.objects.get(sku="TEE-M"), data={"price": "9.00"})


def _add_variant(tee):
    services.variant_create(product=tee, sku="TEE-XS", price=Decimal("1.00"))


def _delete_variant(tee):
    services.variant_delete(variant=Variant.objects.get(sku="TEE-M"))


def _rename_category(tee):
    services.category_update(category=tee.category, data={"slug": "tops"})


def _new_category(tee):
    services.category_create(name="Hats")


def _delete_category(tee):
    services.category_delete(category=CategoryFactory(slug="empty"))


def _adjust(tee):
    services.stock_adjust(variant=Variant.objects.get(sku="TEE-M"), delta=-5, reason="lost")


def _order_takes_stock(tee):
    stock_take(quantities={Variant.objects.get(sku="TEE-M").pk: 5}, order_number="SR-1")


def _order_returns_stock(tee):
    variant = Variant.objects.get(sku="TEE-M")
    stock_return(quantities={variant.pk: 2}, kind="order_cancelled", order_number="SR-1")


@pytest.mark.parametrize(
    "write",
    [
        _rename,
        _unpublish,
        _new_product,
        _delete_product,
        _price,
        _add_variant,
        _delete_variant,
        _rename_category,
        _new_category,
        _delete_category,
        _adjust,
        _order_takes_stock,
        _order_returns_stock,
    ],
)
def test_every_committed_write_invalidates_list_and_detail(
    api_client, tee, write, django_capture_on_commit_callbacks
):
    before_list = api_client.get(LIST).content
    before_detail = api_client.get(DETAIL).content
    assert api_client.get(LIST)["X-Cache"] == "HIT"

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        write(tee)
    assert callbacks, "the write must invalidate on commit"

    after_list = api_client.get(LIST)
    after_detail = api_client.get(DETAIL)
    # Stock that crosses zero for no variant shows on the product's page, in no list.
    assert after_list["X-Cache"] == ("HIT" if write is _order_returns_stock else "MISS")
    if after_detail.status_code == 200:  # unpublished or deleted: 404
        assert after_detail["X-Cache"] == "MISS"
    # What was served is what the database says now (built again without the cache)...
    clear_catalog_cache()
    assert after_list.content == api_client.get(LIST).content
    assert after_detail.content == api_client.get(DETAIL).content
    # ...and (for writes that show in these two responses) differs from before.
    if write not in (_new_category, _delete_category):
        assert (after_list.content, after_detail.content) != (before_list, before_detail)


@pytest.fixture
def mug(tee):
    product = ProductFactory(slug="mug", name="Mug", category=tee.category)
    VariantFactory(product=product, sku="MUG-1", price=Decimal("4.00"), stock=2)
    catalog_cache.invalidate()
    return product


@pytest.mark.parametrize(
    ("delta", "lists_change"),
    [(+3, False), (-2, False), (-5, True)],  # tee has 5: only selling out crosses zero
)
def test_a_stock_change_invalidates_lists_only_when_it_crosses_zero(
    api_client, mug, delta, lists_change, django_capture_on_commit_callbacks
):
    views = [LIST, f"{LIST}?in_stock=true", DETAIL, "/api/v1/products/mug/"]
    for url in views:
        api_client.get(url)
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_adjust(variant=Variant.objects.get(sku="TEE-M"), delta=delta, reason="x")

    listing, in_stock, tee_page, mug_page = (api_client.get(url) for url in views)
    assert tee_page["X-Cache"] == "MISS"
    assert tee_page.json()["variants"][0]["stock"] == 5 + delta
    assert mug_page["X-Cache"] == ("MISS" if lists_change else "HIT")
    expected = "MISS" if lists_change else "HIT"
    assert (listing["X-Cache"], in_stock["X-Cache"]) == (expected, expected)
    # Whatever was served is what the database says now.
    clear_catalog_cache()
    assert listing.content == api_client.get(LIST).content
    assert in_stock.content == api_client.get(f"{LIST}?in_stock=true").content


def test_an_order_taking_stock_keeps_the_catalog_lists_cached(
    api_client, mug, django_capture_on_commit_callbacks
):
    api_client.get(LIST)
    with django_capture_on_commit_callbacks(execute=True):
        stock_take(quantities={Variant.objects.get(sku="MUG-1").pk: 1}, order_number="SR-9")
    assert api_client.get(LIST)["X-Cache"] == "HIT"
    assert api_client.get("/api/v1/products/mug/").json()["variants"][0]["stock"] == 1


def test_a_lost_product_counter_never_serves_an_older_page(api_client, tee):
    first = api_client.get(DETAIL)
    assert api_client.get(DETAIL)["X-Cache"] == "HIT"
    cache.delete(f"{catalog_cache.PRODUCT_GENERATION_PREFIX}tee")  # evicted
    again = api_client.get(DETAIL)
    assert again["X-Cache"] == "MISS"
    assert again.content == first.content
    assert api_client.get(DETAIL)["X-Cache"] == "HIT"


def test_a_large_stock_import_invalidates_everything_at_once(
    api_client, tee, django_capture_on_commit_callbacks
):
    variants = [VariantFactory(stock=5) for _ in range(services.PRODUCT_INVALIDATIONS_MAX + 1)]
    api_client.get(LIST)
    generation = catalog_cache.generation()
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_import(deltas={v.pk: 1 for v in variants}, reason="import")
    assert catalog_cache.generation() != generation


def test_invalidation_waits_for_commit_and_skips_rollbacks(
    api_client, tee, django_capture_on_commit_callbacks
):
    api_client.get(LIST)
    generation = catalog_cache.generation()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.product_update(product=tee, data={"name": "Pending"})
    # Not committed yet: nothing was invalidated.
    assert catalog_cache.generation() == generation
    assert api_client.get(LIST)["X-Cache"] == "HIT"
    for callback in callbacks:
        callback()
    assert catalog_cache.generation() != generation

    generation = catalog_cache.generation()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.product_update(product=tee, data={"name": "Rolled back"})
        raise RuntimeError
    assert catalog_cache.generation() == generation


def test_lost_generation_counter_restarts_at_a_fresh_value(tee):
    old = catalog_cache.generation()
    cache.delete(catalog_cache.GENERATION_KEY)

    catalog_cache.invalidate()

    assert catalog_cache.generation() not in (None, old, 1)


# --- Redis down -------------------------------------------------------------------------

DEAD_REDIS = {
    "default": {
        **settings.CACHES["default"],
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {**settings.CACHES["default"]["OPTIONS"], "SOCKET_CONNECT_TIMEOUT": 0.2},
    }
}


def test_redis_unreachable_serves_uncached_and_correct(
    api_client, manager_client, tee, django_capture_on_commit_callbacks
):
    with override_settings(CACHES=DEAD_REDIS):
        listing = api_client.get(LIST)
        assert (listing.status_code, listing["X-Cache"]) == (200, "BYPASS")
        assert listing.json()["results"][0]["slug"] == "tee"
        detail = api_client.get(DETAIL)
        assert detail.status_code == 200
        assert api_client.get(DETAIL, HTTP_IF_NONE_MATCH=detail["ETag"]).status_code == 304
        with django_capture_on_commit_callbacks(execute=True):
            response = manager_client.post(
                "/api/v1/variants/TEE-M/stock-adjustments/", {"delta": -5, "reason": "x"}
            )
        assert response.status_code == 201
        assert api_client.get(DETAIL).json()["in_stock"] is False


@pytest.mark.django_db(transaction=True)
def test_api_write_then_read_through_real_commits(api_client, manager_client):
    """No captured callbacks here: real transactions, real on_commit."""
    category = Category.objects.create(name="Shirts", slug="shirts")
    product = Product.objects.create(name="Tee", slug="tee", category=category, is_published=True)
    catalog_cache.invalidate()
    services.variant_create(product=product, sku="TEE-M", price=Decimal("10.00"))
    assert api_client.get(DETAIL).json()["price"] == "10.00"

    assert manager_client.patch("/api/v1/variants/TEE-M/", {"price": "12.00"}).status_code == 200
    assert api_client.get(DETAIL).json()["price"] == "12.00"

    manager_client.post("/api/v1/variants/TEE-M/stock-adjustments/", {"delta": 3, "reason": "in"})
    assert api_client.get(LIST).json()["results"][0]["in_stock"] is True
    stock_take(quantities={Variant.objects.get(sku="TEE-M").pk: 3}, order_number="SR-1")
    assert api_client.get(LIST).json()["results"][0]["in_stock"] is False
