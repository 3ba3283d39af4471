"""The list's count: read only for a full page, kept per catalog generation, never stale."""

from decimal import Decimal

import pytest

from catalog import cache as catalog_cache
from catalog import listing, services
from catalog.api.serializers import product_list_params
from catalog.models import Product
from tests.catalog import reference
from tests.catalog.factories import CategoryFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"


def _count_queries(captured) -> int:
    return sum("count(" in q["sql"].lower() for q in captured.captured_queries)


@pytest.fixture
def five(db):
    category = CategoryFactory(slug="shirts")
    for i in range(5):
        VariantFactory(product=ProductFactory(slug=f"p{i}", category=category), stock=1)
    catalog_cache.invalidate()


def test_a_short_page_gives_the_count_without_counting(api_client, five, django_assert_num_queries):
    with django_assert_num_queries(1) as captured:
        body = api_client.get(URL, {"page_size": 10}).json()
    assert (body["count"], len(body["results"]), body["next"]) == (5, 5, None)
    assert _count_queries(captured) == 0
    with django_assert_num_queries(1):
        last = api_client.get(URL, {"page_size": 2, "page": 3}).json()
    assert (last["count"], len(last["results"]), last["next"]) == (5, 1, None)
    assert last["previous"].endswith("?page=2&page_size=2")


def test_the_count_is_shared_by_pages_and_orderings_of_one_generation(
    api_client, five, django_assert_num_queries
):
    assert api_client.get(URL, {"page_size": 2})["X-Cache"] == "MISS"
    for params in ({"page_size": 2, "page": 2}, {"page_size": 2, "ordering": "name"}):
        with django_assert_num_queries(1) as captured:
            response = api_client.get(URL, params)
        assert (response["X-Cache"], response.json()["count"]) == ("MISS", 5)
        assert _count_queries(captured) == 0


def test_a_write_makes_the_next_list_count_again(
    api_client, five, django_capture_on_commit_callbacks
):
    assert api_client.get(URL, {"page_size": 2}).json()["count"] == 5
    with django_capture_on_commit_callbacks(execute=True):
        services.product_create(
            name="New", description="", category=CategoryFactory(slug="shirts"), is_published=True
        )
    # Another page and ordering: not the cached response, only the shared count.
    assert api_client.get(URL, {"page_size": 2, "ordering": "name"}).json()["count"] == 6
    with django_capture_on_commit_callbacks(execute=True):
        services.product_delete(product=Product.objects.get(slug="p0"))
    assert api_client.get(URL, {"page_size": 2, "page": 2}).json()["count"] == 5


def test_a_count_kept_under_an_older_generation_is_never_served(api_client, five):
    api_client.get(URL, {"page_size": 2})
    Product.objects.filter(slug="p0").update(is_published=False)  # no service: no bump
    # The same generation still counts 5 (as its cached responses say)...
    assert api_client.get(URL, {"page_size": 2, "ordering": "name"}).json()["count"] == 5
    catalog_cache.invalidate()
    assert api_client.get(URL, {"page_size": 2, "ordering": "-name"}).json()["count"] == 4


def test_staff_counts_are_neither_cached_nor_shared(api_client, manager_client, five):
    ProductFactory(slug="draft", is_published=False, category=CategoryFactory(slug="shirts"))
    catalog_cache.invalidate()
    assert manager_client.get(URL, {"page_size": 2}).json()["count"] == 6
    assert api_client.get(URL, {"page_size": 2}).json()["count"] == 5
    assert manager_client.get(URL, {"page_size": 2, "page": 2}).json()["count"] == 6
    assert api_client.get(URL, {"page_size": 2, "page": 2}).json()["count"] == 5


@pytest.mark.parametrize(
    ("params", "count", "results", "status"),
    [
        ({"page": "last", "page_size": 2}, 5, 1, 200),
        ({"page": "3", "page_size": 2}, 5, 1, 200),
        ({"page": "4", "page_size": 2}, None, None, 404),
        ({"page": "2", "page_size": 5}, None, None, 404),
        ({"page": str(10**30)}, None, None, 404),
        ({"page": "1", "category": "nope"}, 0, 0, 200),
        ({"page": "2", "category": "nope"}, None, None, 404),
        ({"page": "last", "category": "nope"}, 0, 0, 200),
    ],
)
def test_pages_and_errors_are_as_before(api_client, five, params, count, results, status):
    response = api_client.get(URL, params)
    assert response.status_code == status
    if status == 404:
        assert response.json() == {"code": "not_found", "detail": "Invalid page."}
    else:
        assert (response.json()["count"], len(response.json()["results"])) == (count, results)


def test_a_category_write_makes_the_next_list_resolve_the_subtree_again(
    api_client, django_capture_on_commit_callbacks
):
    parent, other = CategoryFactory(slug="parent"), CategoryFactory(slug="other")
    ProductFactory(slug="moved", category=other)
    catalog_cache.invalidate()
    assert api_client.get(URL, {"category": "parent"}).json()["results"] == []

    with django_capture_on_commit_callbacks(execute=True):
        services.category_update(category=other, data={"parent": parent})

    results = api_client.get(URL, {"category": "parent"}).json()["results"]
    assert [item["slug"] for item in results] == ["moved"]


def test_price_range_counts_follow_prices_stock_and_publishing(
    api_client, django_capture_on_commit_callbacks, django_assert_num_queries
):
    category = CategoryFactory(slug="c")
    variants = [
        VariantFactory(product__slug=f"q{i}", product__category=category, price=price, stock=i % 2)
        for i, price in enumerate(["5.00", "10.00", "10.00", "12.50", "40.00"])
    ]
    ProductFactory(slug="bare", category=category)  # no variant: no price
    VariantFactory(product__is_published=False, product__category=category, price="10.00")
    catalog_cache.invalidate()
    cases = [
        {"min_price": "10"},
        {"max_price": "10"},
        {"min_price": "10", "max_price": "10.00"},
        {"min_price": "6", "in_stock": "true"},
        {"max_price": "100", "in_stock": "false", "ordering": "name"},
        {"min_price": "41"},
    ]

    def check() -> None:
        for params in cases:
            filters = product_list_params(params)
            expected, _ = reference.product_rows(filters=filters, staff=False)
            response = api_client.get(URL, {**params, "page_size": 1})
            assert response.json()["count"] == expected, params

    check()  # more than HISTOGRAM_AFTER ranges: the histogram is built
    # Every price range of this generation is counted without a query of its own.
    with django_assert_num_queries(1):
        assert api_client.get(URL, {"min_price": "1", "page_size": 1}).json()["count"] == 5
    with django_capture_on_commit_callbacks(execute=True):
        services.variant_update(variant=variants[0], data={"price": Decimal("11.00")})
    check()
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_adjust(variant=variants[2], delta=3, reason="in")
    check()
    with django_capture_on_commit_callbacks(execute=True):
        services.products_publish(product_ids=[variants[3].product_id], is_published=False)
    check()


def test_the_price_histogram_is_built_only_once_a_generation_has_lasted(api_client, five):
    """While writes bump the generation often, each range is counted directly."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ranges = iter(range(100))

    def kinds() -> list[str]:  # a new range each time (a count is kept per range, too)
        with CaptureQueriesContext(connection) as captured:
            api_client.get(URL, {"min_price": f"0.{next(ranges):02d}", "page_size": 1})
        sqls = [q["sql"] for q in captured.captured_queries]
        return ["histogram" if "GROUP BY" in q else "count" for q in sqls if "count(" in q]

    first = [kinds() for _ in range(listing.HISTOGRAM_AFTER + 2)]
    direct = [["count"]] * (listing.HISTOGRAM_AFTER - 1)
    assert first == [*direct, ["histogram"], [], []]
    catalog_cache.invalidate()  # as any write does
    again = [kinds() for _ in range(listing.HISTOGRAM_AFTER)]
    assert again == [*direct, ["histogram"]]
