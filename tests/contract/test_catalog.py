"""Contract, "Catalog": public reads, staff writes, the stock ledger, and their schema."""

from decimal import Decimal

import pytest

from tests.catalog.conftest import grant
from tests.catalog.factories import CategoryFactory, ProductFactory, VariantFactory
from tests.contract.schema import component, operation
from tests.orders.factories import order_place

MOVEMENTS = "/api/v1/variants/{sku}/stock-movements/"


def test_stock_movements_schema_documents_the_page_parameters():
    names = {p["name"] for p in operation(MOVEMENTS, "get")["parameters"] if p["in"] == "query"}
    assert {"page", "page_size"} <= names


def test_stock_movements_schema_documents_a_bad_page_as_400():
    assert "400" in operation(MOVEMENTS, "get")["responses"]


def test_stock_movement_schema_says_created_by_may_be_the_customer():
    page = component(
        operation(MOVEMENTS, "get")["responses"]["200"]["content"]["application/json"]["schema"]
    )
    movement = component(page["properties"]["results"]["items"])
    description = movement["properties"]["created_by"]["description"]
    assert "customer" in description


@pytest.mark.django_db
def test_stock_movements_are_paged_newest_first_with_kind_and_order(manager_client, user):
    variant = VariantFactory(stock=10)
    order = order_place(user=user, variant=variant, quantity=2)
    response = manager_client.get(f"/api/v1/variants/{variant.sku}/stock-movements/?page_size=1")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and len(body["results"]) == 1 and body["next"]
    newest = body["results"][0]
    assert set(newest) == {"id", "kind", "delta", "reason", "order", "created_by", "created_at"}
    assert (newest["kind"], newest["delta"], newest["order"]) == ("order_placed", -2, order.number)
    assert newest["created_by"] == user.email
    second = manager_client.get(body["next"]).json()["results"][0]
    assert (second["kind"], second["order"], second["created_by"]) == ("adjustment", None, None)


@pytest.mark.django_db
def test_stock_movements_answer_a_bad_page_with_400_invalid(manager_client):
    variant = VariantFactory(stock=1)
    response = manager_client.get(f"/api/v1/variants/{variant.sku}/stock-movements/?page=0")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


@pytest.mark.django_db
def test_catalog_reads_are_public_and_writes_need_the_model_permission(api_client, user_client):
    category = CategoryFactory()
    assert api_client.get(f"/api/v1/categories/{category.slug}/").json() == {
        "id": category.pk,
        "name": category.name,
        "slug": category.slug,
        "parent": None,
        "description": "",
    }
    body = {"name": "Lamps", "category": category.slug}
    assert api_client.post("/api/v1/products/", body).status_code == 401
    response = user_client.post("/api/v1/products/", body)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.django_db
def test_unpublished_products_are_404_to_the_public_and_listed_for_staff_with_view(
    api_client, staff_user, staff_client
):
    product = ProductFactory(is_published=False)
    assert api_client.get(f"/api/v1/products/{product.slug}/").status_code == 404
    grant(staff_user, "view_product")
    item = staff_client.get("/api/v1/products/").json()["results"][0]
    assert item["slug"] == product.slug and item["is_published"] is False


@pytest.mark.django_db
def test_stock_adjustment_answers_sku_stock_and_movement(manager_client):
    variant = VariantFactory(stock=1)
    response = manager_client.post(
        f"/api/v1/variants/{variant.sku}/stock-adjustments/", {"delta": 4, "reason": "count"}
    )
    assert response.status_code == 201
    assert set(response.json()) == {"sku", "stock", "movement"}
    assert response.json()["stock"] == 5
    short = manager_client.post(
        f"/api/v1/variants/{variant.sku}/stock-adjustments/", {"delta": -6, "reason": "x"}
    )
    assert short.status_code == 409
    assert short.json()["code"] == "insufficient_stock"


@pytest.mark.django_db
def test_a_category_with_products_is_protected(manager_client):
    product = ProductFactory()
    response = manager_client.delete(f"/api/v1/categories/{product.category.slug}/")
    assert response.status_code == 409
    assert response.json()["code"] == "protected"


@pytest.mark.django_db
def test_search_puts_the_exact_sku_first_then_the_best_match(api_client):
    by_name = ProductFactory(name="Desk lamp LMP-7 compatible shade", description="")
    by_sku = VariantFactory(sku="LMP-7", product=ProductFactory(name="Reading light")).product
    slugs = [p["slug"] for p in api_client.get("/api/v1/products/?search=LMP-7").json()["results"]]
    assert slugs[0] == by_sku.slug
    assert by_name.slug in slugs


@pytest.mark.django_db
def test_category_filter_includes_sub_categories_and_in_stock_false_only_out_of_stock(
    api_client,
):
    parent = CategoryFactory()
    child = CategoryFactory(parent=parent)
    stocked = VariantFactory(stock=2, product=ProductFactory(category=child)).product
    empty = VariantFactory(product=ProductFactory(category=parent)).product
    ProductFactory()  # another category
    listed = api_client.get(f"/api/v1/products/?category={parent.slug}").json()["results"]
    assert {p["slug"] for p in listed} == {stocked.slug, empty.slug}
    out = api_client.get(f"/api/v1/products/?category={parent.slug}&in_stock=false").json()
    assert [p["slug"] for p in out["results"]] == [empty.slug]
    cheap = api_client.get("/api/v1/products/?max_price=10.00&ordering=-price").json()
    assert cheap["results"]
    assert all(Decimal(p["price"]) <= Decimal("10.00") for p in cheap["results"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "attributes", [{"colour": "r\u0000ed"}, {"c\u0000": "x"}, {"a": ["\u0000"]}]
)
def test_variant_attributes_with_a_null_character_are_400_not_a_500(manager_client, attributes):
    """PostgreSQL's jsonb cannot store \\u0000: the insert failed with a DataError."""
    product = ProductFactory()
    body = {"product": product.slug, "sku": "NUL-1", "price": "1.00", "attributes": attributes}
    response = manager_client.post("/api/v1/variants/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["attributes"]
