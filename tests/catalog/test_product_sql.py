"""The product reads (catalog.listing) agree with the reference querysets."""

import itertools
import random
from decimal import Decimal

import pytest

from catalog import listing as catalog_listing
from catalog.api.serializers import product_list_params
from catalog.listing import sql as product_sql
from tests.catalog import reference
from tests.catalog.factories import CategoryFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db

WORDS = ["hoodie", "lamp", "kettle", "oak", "linen", "mug"]


@pytest.fixture
def catalog():
    rng = random.Random(8)
    root = CategoryFactory(slug="home")
    leaves = [CategoryFactory(slug=f"leaf-{i}", parent=root) for i in range(2)]
    other = CategoryFactory(slug="other")
    for i in range(40):
        name = " ".join(rng.sample(WORDS, 2)).title()
        product = ProductFactory(
            slug=f"p{i}",
            name=name if i % 7 else name + " hodie",
            description=rng.choice([*WORDS, "plain"]),
            category=rng.choice([*leaves, other, root]),
            is_published=i % 9 != 0,
        )
        for j in range(i % 3):  # some products have no variant (null price)
            VariantFactory(
                product=product,
                sku=f"SK-{i}-{j}",
                price=Decimal(rng.choice(["5.00", "10.00", "12.50", "40.00"])),
                stock=rng.choice([0, 0, 3]),
            )


FILTERS = [
    {},
    {"category": "home"},
    {"category": "leaf-0", "in_stock": "true"},
    {"category": "nope"},
    {"min_price": "10", "max_price": "12.50"},
    {"max_price": "10", "in_stock": "false"},
    {"in_stock": "true"},
    {"search": "hoodie"},
    {"search": "hodie lamp"},
    {"search": "SK-3-1"},
    {"search": "sk-3-1"},
    {"search": "oak -linen"},
    {"search": "lamp or mug", "min_price": "5"},
    {"search": '"oak linen"', "category": "home"},
    {"search": "-"},
]
ORDERINGS = [None, *catalog_listing.ORDERINGS]


def _reference(filters, staff):
    return reference.product_rows(filters=filters, staff=staff)


@pytest.mark.parametrize("query", FILTERS)
def test_list_rows_and_count_equal_the_querysets(catalog, query):
    for ordering, staff in itertools.product(ORDERINGS, [False, True]):
        filters = product_list_params({**query, **({"ordering": ordering} if ordering else {})})
        count, rows = _reference(filters, staff)
        listing = catalog_listing.ProductListing(filters=filters, staff=staff, page_size=20)

        assert listing.count() == count, (ordering, staff)
        assert listing.rows(100, 0) == rows, (ordering, staff)
        assert listing.rows(3, 2) == rows[2:5], (ordering, staff)
        # A search counts with its page: the count after a page is the same.
        paged = catalog_listing.ProductListing(filters=filters, staff=staff, page_size=20)
        if paged.rows(3, 1):
            assert paged.count() == count, (ordering, staff)


def test_the_filters_above_select_something_and_not_everything(catalog):
    counts = [_reference(product_list_params(query), False)[0] for query in FILTERS]
    assert counts[0] > max(counts[1:]) and sum(1 for c in counts if c > 0) >= 10, counts


@pytest.mark.parametrize("staff", [False, True])
def test_detail_equals_the_queryset_version(catalog, staff):
    for slug in ["p1", "p2", "p3", "p9", "missing"]:
        fast = catalog_listing.product_detail(slug=slug, staff=staff)
        assert fast == reference.product_detail(slug=slug, staff=staff), slug


def test_the_detail_is_one_query(catalog, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert catalog_listing.product_detail(slug="p2", staff=False) is not None


def test_search_term_and_filters_are_bound_parameters(catalog):
    hostile = "'); DROP TABLE catalog_product; --"
    filters = product_list_params({"search": hostile})
    listing = catalog_listing.ProductListing(filters=filters, staff=False, page_size=20)
    assert listing.rows(20, 0) == []
    assert product_sql.category_ids("x' OR '1'='1") == []
