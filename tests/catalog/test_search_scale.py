"""Search at size: full text first, typos only below a page, counts bounded at 1,000."""

from collections import Counter
from functools import partial

import pytest
from django.db import connection

from catalog import cache as catalog_cache
from catalog import services
from catalog.listing import SEARCH_COUNT_MAX
from catalog.listing import sql as product_sql
from catalog.models import Category, Product, SearchWord
from tests.catalog import reference
from tests.catalog.factories import CategoryFactory, ProductFactory, VariantFactory
from tests.catalog.test_concurrency import run_threads
from tests.contract.schema import openapi

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"


def search(client, term: str, **params) -> dict:
    response = client.get(URL, {"search": term, **params})
    assert response.status_code == 200, response.content
    return response.json()


def slugs(body: dict) -> list[str]:
    return [item["slug"] for item in body["results"]]


@pytest.fixture
def hoodies(db):
    """Two products full text finds for `hoodie`; one only typo matching finds (a misspelt name)."""
    ProductFactory(slug="old-hoodie", name="Grey Hoodie", description="Warm")
    ProductFactory(slug="misspelt", name="Black Hoddie", description="Warm")
    ProductFactory(slug="new-hoodie", name="Zip Hoodie", description="Cotton")
    ProductFactory(slug="mug", name="Coffee mug", description="Ceramic")


def test_typo_matches_join_only_when_full_text_finds_less_than_the_page(api_client, hoodies):
    # Full text fills a page of two: no typo match, and the count is full text's.
    body = search(api_client, "hoodie", page_size=2)
    assert (slugs(body), body["count"], body["next"]) == (["new-hoodie", "old-hoodie"], 2, None)
    # A page of three holds more than full text finds: the typo match comes after.
    body = search(api_client, "hoodie", page_size=3)
    assert (slugs(body), body["count"]) == (["new-hoodie", "old-hoodie", "misspelt"], 3)


def test_a_misspelt_word_finds_the_names_it_is_a_typo_of(api_client, hoodies):
    assert slugs(search(api_client, "hoodei")) == ["new-hoodie", "old-hoodie"]
    assert slugs(search(api_client, "hodie")) == ["new-hoodie", "misspelt", "old-hoodie"]
    assert slugs(search(api_client, "cofee mug")) == ["mug"]
    # Every word must be like a word of the name; an excluded word still excludes.
    assert slugs(search(api_client, "hoodei mug")) == []
    assert slugs(search(api_client, "hoodei -zip")) == ["old-hoodie"]


def test_name_matches_come_before_other_full_text_matches_newest_first(api_client):
    ProductFactory(slug="desc-old", name="Mug", description="Goes with a lamp")
    ProductFactory(slug="name-old", name="Desk lamp", description="Bright")
    ProductFactory(slug="desc-new", name="Table", description="Lamp not included")
    ProductFactory(slug="name-new", name="Lamp shade", description="Linen")

    assert slugs(search(api_client, "lamp")) == ["name-new", "name-old", "desc-new", "desc-old"]
    assert slugs(search(api_client, "lamp", page_size=1, page=3)) == ["desc-new"]


def test_an_exact_sku_comes_first_also_with_typo_matches(api_client, hoodies):
    VariantFactory(sku="HOODIE", product__slug="by-sku", product__name="Sweater")

    assert slugs(search(api_client, "hoodie"))[0] == "by-sku"
    assert slugs(search(api_client, "hoodie", page_size=10))[-1] == "misspelt"


def _bulk_products(category: Category, count: int, name: str, prefix: str) -> None:
    """`count` published products in one INSERT (the triggers keep their search columns)."""
    Product.objects.bulk_create(
        Product(name=name, slug=f"{prefix}-{i}", category=category, is_published=True)
        for i in range(count)
    )


@pytest.fixture
def many_lamps(db):
    """1,000 lamps in `a` and one in `b`: a search for `lamp` matches one more than it counts."""
    _bulk_products(CategoryFactory(slug="a"), SEARCH_COUNT_MAX, "Desk lamp", "a")
    _bulk_products(CategoryFactory(slug="b"), 1, "Floor lamp", "b")
    catalog_cache.invalidate()


def test_a_search_counts_up_to_1000_then_says_the_count_is_not_exact(
    api_client, many_lamps, django_assert_max_num_queries
):
    with django_assert_max_num_queries(2):  # the bounded count and the page
        body = search(api_client, "lamp")
    assert (body["count"], body["count_exact"], len(body["results"])) == (1000, False, 20)
    assert list(body) == ["count", "count_exact", "next", "previous", "results"]
    # Exactly 1,000, and fewer: exact, and the page has no `count_exact`.
    body = search(api_client, "lamp", category="a")
    assert (body["count"], "count_exact" in body) == (1000, False)
    body = search(api_client, "lamp", category="b")
    assert (body["count"], "count_exact" in body, slugs(body)) == (1, False, ["b-0"])


def test_a_search_serves_no_page_past_its_bound(api_client, many_lamps):
    last = search(api_client, "lamp", page=50)
    assert (len(last["results"]), last["next"], last["count_exact"]) == (20, None, False)
    assert search(api_client, "lamp", page="last")["results"] == last["results"]
    response = api_client.get(URL, {"search": "lamp", "page": 51})
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    # A page that straddles the bound stops at it.
    straddling = search(api_client, "lamp", page_size=30, page=34)
    assert (len(straddling["results"]), straddling["count"]) == (10, 1000)
    assert straddling["count_exact"] is False
    _, expected = reference.product_rows(filters={"search": "lamp"}, staff=False, page_size=30)
    assert slugs(straddling) == [row["slug"] for row in expected[990:1000]]


def test_lists_without_search_count_exactly(api_client, many_lamps):
    body = api_client.get(URL).json()
    assert (body["count"], "count_exact" in body) == (SEARCH_COUNT_MAX + 1, False)
    assert api_client.get(URL, {"page": 51}).json()["results"]


def test_a_broad_search_walks_its_dense_tier_in_key_order(many_lamps):
    """A tier that holds most matches is read newest first and stops at the page: no sort."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_product")
    seen = []

    def capture(execute, sql, params, many, context):
        seen.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        rows = product_sql.product_rows(
            filters={"search": "lamp"},
            staff=False,
            categories=None,
            limit=20,
            offset=0,
            reads=(product_sql.INDEX, product_sql.WALK, product_sql.SKIP, product_sql.SKIP),
        )
    ((sql, params),) = seen
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", params)  # our own query
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Scan Backward using catalog_product_pkey" in plan, plan
    assert "Parallel" not in plan, plan
    assert [row["slug"] for row in rows] == ["b-0", *(f"a-{i}" for i in range(999, 980, -1))]


def test_the_schema_describes_count_exact():
    page = openapi()["components"]["schemas"]["ProductListPage"]
    assert list(page["properties"])[:2] == ["count", "count_exact"]
    assert page["properties"]["count_exact"]["type"] == "boolean"
    assert "count_exact" not in page["required"]


def test_names_add_their_words_to_the_typo_dictionary(api_client):
    category = CategoryFactory(slug="c")
    product = services.product_create(
        name="Walnut Bookshelf", description="", category=category, is_published=True
    )
    assert {"walnut", "bookshelf"} <= set(SearchWord.objects.values_list("word", flat=True))
    services.product_update(product=product, data={"name": "Cedar Wardrobe"})
    catalog_cache.invalidate()
    assert [item["slug"] for item in search(api_client, "wardrobbe")["results"]] == [product.slug]


@pytest.mark.django_db(transaction=True)
def test_concurrent_inserts_of_the_same_new_words_all_commit():
    category = CategoryFactory(slug="t")
    # Overlapping new words, in different orders in the names.
    names = ["Amber Birch Cedar", "Cedar Birch Amber", "Birch Amber Dune", "Dune Cedar"]

    def insert(n: int) -> str:
        _bulk_products(category, 20, names[n], f"t{n}")
        return "ok"

    outcomes = run_threads([partial(insert, n) for n in range(len(names))])

    assert outcomes == Counter({"ok": 4})
    words = set(SearchWord.objects.values_list("word", flat=True))
    assert {"amber", "birch", "cedar", "dune"} <= words
    assert Product.objects.filter(category=category).count() == 80
