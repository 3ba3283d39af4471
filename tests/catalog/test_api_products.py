"""GET/POST/PATCH/DELETE products/: shape, filters, ordering, visibility, query budget."""

from decimal import Decimal

import pytest

from catalog.models import Product
from catalog.services import stock_take
from tests.catalog.factories import CategoryFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"


def slugs(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["slug"] for item in response.json()["results"]]


def test_list_item_shape_uses_lowest_price_and_store_currency(api_client, settings):
    settings.STORE_CURRENCY = "EUR"
    product = ProductFactory(slug="tee", name="Tee", category__slug="shirts")
    VariantFactory(product=product, price=Decimal("24.50"), stock=0)
    VariantFactory(product=product, price=Decimal("19.90"), stock=2)

    response = api_client.get(URL)

    assert response.json() == {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": product.pk,
                "slug": "tee",
                "name": "Tee",
                "category": "shirts",
                "price": "19.90",
                "currency": "EUR",
                "in_stock": True,
                "tax_class": "standard",
            }
        ],
    }


def test_unpublished_products_are_hidden_from_the_public(api_client):
    ProductFactory(slug="draft", is_published=False)
    ProductFactory(slug="live")

    assert slugs(api_client.get(URL)) == ["live"]
    assert api_client.get(f"{URL}draft/").json()["code"] == "not_found"


def test_staff_without_view_permission_see_only_published(staff_client):
    ProductFactory(slug="draft", is_published=False)

    response = staff_client.get(URL)

    assert slugs(response) == []
    assert staff_client.get(f"{URL}draft/").status_code == 404


def test_staff_with_view_permission_see_unpublished_with_flag(manager_client):
    ProductFactory(slug="draft", is_published=False)

    response = manager_client.get(URL)

    assert [(i["slug"], i["is_published"]) for i in response.json()["results"]] == [
        ("draft", False)
    ]
    detail = manager_client.get(f"{URL}draft/")
    assert detail.status_code == 200
    assert detail.json()["is_published"] is False


def test_category_filter_includes_sub_categories(api_client):
    clothing = CategoryFactory(slug="clothing")
    shirts = CategoryFactory(slug="shirts", parent=clothing)
    tees = CategoryFactory(slug="tees", parent=shirts)
    ProductFactory(slug="coat", category=clothing)
    ProductFactory(slug="oxford", category=shirts)
    ProductFactory(slug="v-neck", category=tees)
    ProductFactory(slug="mug", category=CategoryFactory(slug="kitchen"))

    assert sorted(slugs(api_client.get(URL, {"category": "clothing"}))) == [
        "coat",
        "oxford",
        "v-neck",
    ]
    assert sorted(slugs(api_client.get(URL, {"category": "shirts"}))) == ["oxford", "v-neck"]
    assert slugs(api_client.get(URL, {"category": "nope"})) == []


def test_price_filters_are_inclusive_on_the_lowest_variant_price(api_client):
    for slug, price in [("cheap", "5.00"), ("mid", "10.00"), ("dear", "20.00")]:
        product = ProductFactory(slug=slug)
        VariantFactory(product=product, price=Decimal(price))
        VariantFactory(product=product, price=Decimal("99.00"))

    assert sorted(slugs(api_client.get(URL, {"min_price": "10.00"}))) == ["dear", "mid"]
    assert sorted(slugs(api_client.get(URL, {"max_price": "10"}))) == ["cheap", "mid"]
    assert slugs(api_client.get(URL, {"min_price": "10", "max_price": "10"})) == ["mid"]


def test_in_stock_filter_both_ways(api_client):
    VariantFactory(product__slug="stocked", stock=1)
    VariantFactory(product__slug="empty", stock=0)

    assert slugs(api_client.get(URL, {"in_stock": "true"})) == ["stocked"]
    assert slugs(api_client.get(URL, {"in_stock": "false"})) == ["empty"]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("price", ["a", "b", "c"]),
        ("-price", ["c", "b", "a"]),
        ("name", ["b", "c", "a"]),
        ("-name", ["a", "c", "b"]),
        ("created_at", ["c", "a", "b"]),
        ("-created_at", ["b", "a", "c"]),
    ],
)
def test_ordering(api_client, ordering, expected):
    for slug, name, price in [
        ("c", "Mango", "30.00"),
        ("a", "Zebra", "10.00"),
        ("b", "Apple", "20"),
    ]:
        VariantFactory(product__slug=slug, product__name=name, price=Decimal(price))

    assert slugs(api_client.get(URL, {"ordering": ordering})) == expected


def test_default_ordering_is_newest_first(api_client):
    ProductFactory(slug="old")
    ProductFactory(slug="new")

    assert slugs(api_client.get(URL)) == ["new", "old"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"ordering": "stock"}, "ordering"),
        ({"min_price": "cheap"}, "min_price"),
        ({"max_price": "-1"}, "max_price"),
        ({"in_stock": "maybe"}, "in_stock"),
        ({"category": "not a slug"}, "category"),
    ],
)
def test_bad_query_parameters_are_400_invalid(api_client, params, field):
    response = api_client.get(URL, params)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]


def test_pagination_page_size_is_capped_at_100(api_client):
    category = CategoryFactory()
    Product.objects.bulk_create(
        [
            Product(name=f"P{i}", slug=f"p{i}", category=category, is_published=True)
            for i in range(105)
        ]
    )

    body = api_client.get(URL, {"page_size": 500}).json()

    assert body["count"] == 105
    assert len(body["results"]) == 100
    assert body["next"].endswith("page=2&page_size=500")
    assert api_client.get(URL, {"page": 99}).json()["code"] == "not_found"


def test_product_list_query_budget_does_not_grow_with_page_size(
    api_client, django_assert_max_num_queries
):
    clothing = CategoryFactory(slug="clothing")
    shirts = CategoryFactory(slug="shirts", parent=clothing)
    for i in range(60):
        VariantFactory(product__category=shirts, product__name=f"Shirt {i}", stock=i % 2)

    # The page only: a page that is not full gives the count (test_list_count.py).
    with django_assert_max_num_queries(1):
        assert api_client.get(URL, {"page_size": 100}).json()["count"] == 60
    # the category subtree (one recursive query at any depth), the search's bounded
    # count (which also decides how the page is read), and the page
    with django_assert_max_num_queries(3):
        response = api_client.get(
            URL,
            {
                "page_size": 100,
                "category": "clothing",
                "in_stock": "true",
                "min_price": "1",
                "max_price": "100",
                "search": "shirt",
                "ordering": "-price",
            },
        )
    assert response.json()["count"] == 30


def test_product_list_for_staff_stays_within_budget(manager, django_assert_max_num_queries):
    from rest_framework.test import APIClient

    for _ in range(30):
        VariantFactory(stock=1)
    client = APIClient()
    client.force_authenticate(manager)

    # 2 for the permission cache (user and group permissions), 1 for the page.
    with django_assert_max_num_queries(3):
        assert client.get(URL, {"page_size": 100}).json()["count"] == 30


def test_detail_shape_and_query_budget(api_client, django_assert_max_num_queries):
    product = ProductFactory(slug="tee", name="Tee", description="Soft.", category__slug="shirts")
    VariantFactory(
        product=product, sku="TEE-M", name="M", attributes={"size": "M"}, price="19.90", stock=3
    )
    VariantFactory(product=product, sku="TEE-L", name="L", price="21.00", stock=0)

    with django_assert_max_num_queries(1):
        response = api_client.get(f"{URL}tee/")

    body = response.json()
    assert body.pop("created_at") and body.pop("updated_at")
    assert body == {
        "id": product.pk,
        "slug": "tee",
        "name": "Tee",
        "category": "shirts",
        "price": "19.90",
        "currency": "EUR",
        "in_stock": True,
        "tax_class": "standard",
        "description": "Soft.",
        "variants": [
            {
                "sku": "TEE-M",
                "name": "M",
                "attributes": {"size": "M"},
                "price": "19.90",
                "stock": 3,
                "in_stock": True,
            },
            {
                "sku": "TEE-L",
                "name": "L",
                "attributes": {},
                "price": "21.00",
                "stock": 0,
                "in_stock": False,
            },
        ],
    }


def test_product_without_variants_has_null_price_and_is_out_of_stock(api_client):
    ProductFactory(slug="bare")

    item = api_client.get(URL).json()["results"][0]

    assert (item["price"], item["in_stock"]) == (None, False)


# --- writes ------------------------------------------------------------------------------


def test_create_product_makes_a_unique_slug_from_the_name(manager_client):
    CategoryFactory(slug="shirts")
    ProductFactory(slug="blue-shirt")

    response = manager_client.post(
        URL, {"name": "Blue Shirt", "description": "Cotton.", "category": "shirts"}
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["slug"], body["is_published"], body["variants"]) == ("blue-shirt-2", False, [])
    assert body["category"] == "shirts"


def test_create_product_with_a_taken_slug_is_400(manager_client):
    ProductFactory(slug="taken", category__slug="shirts")

    response = manager_client.post(URL, {"name": "X", "slug": "taken", "category": "shirts"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "slug" in response.json()["errors"]


@pytest.mark.parametrize("category", ["nope", 0, None, ""])
def test_create_product_with_bad_category_is_400(manager_client, category):
    CategoryFactory(slug="0")

    response = manager_client.post(URL, {"name": "X", "category": category})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["category"]


def test_patch_product_changes_fields_and_keeps_slug(manager_client):
    product = ProductFactory(slug="tee", name="Tee", is_published=False)
    CategoryFactory(slug="other")

    response = manager_client.patch(
        f"{URL}tee/", {"name": "Better Tee", "is_published": True, "category": "other"}
    )

    assert response.status_code == 200
    product.refresh_from_db()
    assert (product.slug, product.name, product.is_published, product.category.slug) == (
        "tee",
        "Better Tee",
        True,
        "other",
    )


def test_delete_product(manager_client):
    VariantFactory(product__slug="tee", stock=2)

    assert manager_client.delete(f"{URL}tee/").status_code == 204
    assert not Product.objects.exists()


def test_delete_product_that_was_ordered_is_409_protected(manager_client):
    variant = VariantFactory(product__slug="tee", stock=2)
    stock_take(quantities={variant.pk: 1}, order_number="SR-1")

    response = manager_client.delete(f"{URL}tee/")

    assert response.status_code == 409
    assert response.json()["code"] == "protected"
    assert Product.objects.filter(slug="tee").exists()


def test_writes_need_authentication_and_model_permissions(api_client, staff_client):
    ProductFactory(slug="tee", category__slug="shirts")
    body = {"name": "X", "category": "shirts"}

    assert api_client.post(URL, body).json()["code"] == "not_authenticated"
    assert api_client.post(URL, body).status_code == 401
    response = staff_client.post(URL, body)
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert staff_client.patch(f"{URL}tee/", {"name": "Y"}).status_code == 403
    assert staff_client.delete(f"{URL}tee/").status_code == 403


def test_change_permission_alone_allows_patch_but_not_delete(staff_user):
    from tests.catalog.conftest import grant
    from tests.conftest import token_client

    ProductFactory(slug="tee")
    grant(staff_user, "change_product")
    client = token_client(staff_user)

    assert client.patch(f"{URL}tee/", {"name": "Y"}).status_code == 200
    assert client.delete(f"{URL}tee/").status_code == 403


def test_put_is_not_allowed(manager_client):
    ProductFactory(slug="tee")

    assert manager_client.put(f"{URL}tee/", {}).status_code == 405
