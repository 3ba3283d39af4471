"""categories/: public tree reads, staff writes, protected deletes."""

import pytest

from catalog.models import Category
from tests.catalog.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/categories/"


def test_list_shape_with_parent_slug_in_two_queries(api_client, django_assert_max_num_queries):
    clothing = CategoryFactory(slug="clothing", name="Clothing", position=1)
    shirts = CategoryFactory(
        slug="shirts", name="Shirts", parent=clothing, description="All shirts"
    )
    for i in range(40):
        CategoryFactory(parent=clothing, position=5 + i)

    with django_assert_max_num_queries(2):
        response = api_client.get(URL, {"page_size": 100})

    body = response.json()
    assert body["count"] == 42
    # Ordered by position, then name.
    assert body["results"][:2] == [
        {
            "id": shirts.pk,
            "name": "Shirts",
            "slug": "shirts",
            "parent": "clothing",
            "description": "All shirts",
        },
        {
            "id": clothing.pk,
            "name": "Clothing",
            "slug": "clothing",
            "parent": None,
            "description": "",
        },
    ]


def test_retrieve_by_slug(api_client):
    CategoryFactory(slug="clothing")

    assert api_client.get(f"{URL}clothing/").json()["slug"] == "clothing"
    assert api_client.get(f"{URL}nope/").status_code == 404


def test_create_with_parent_and_generated_slug(manager_client):
    CategoryFactory(slug="clothing")
    CategoryFactory(slug="t-shirts")

    response = manager_client.post(
        URL, {"name": "T-Shirts", "parent": "clothing", "description": "Tees"}
    )

    assert response.status_code == 201, response.json()
    assert response.json() | {"id": 0} == {
        "id": 0,
        "name": "T-Shirts",
        "slug": "t-shirts-2",
        "parent": "clothing",
        "description": "Tees",
    }


def test_patch_moves_a_category_and_refuses_a_cycle(manager_client):
    root = CategoryFactory(slug="root")
    child = CategoryFactory(slug="child", parent=root)
    CategoryFactory(slug="grandchild", parent=child)
    other = CategoryFactory(slug="other")

    assert manager_client.patch(f"{URL}child/", {"parent": "other"}).json()["parent"] == "other"
    child.refresh_from_db()
    assert child.parent == other

    response = manager_client.patch(f"{URL}child/", {"parent": "grandchild"})
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "parent": ["A category cannot be moved under itself or its descendants."]
    }
    assert manager_client.patch(f"{URL}child/", {"parent": "child"}).status_code == 400
    assert manager_client.patch(f"{URL}child/", {"parent": None}).json()["parent"] is None


def test_delete_empty_category(manager_client):
    CategoryFactory(slug="empty")

    assert manager_client.delete(f"{URL}empty/").status_code == 204
    assert not Category.objects.filter(slug="empty").exists()


def test_delete_category_with_products_or_children_is_409_protected(manager_client):
    ProductFactory(category=CategoryFactory(slug="with-products"))
    CategoryFactory(slug="child", parent=CategoryFactory(slug="with-children"))

    for slug in ("with-products", "with-children"):
        response = manager_client.delete(f"{URL}{slug}/")
        assert (response.status_code, response.json()["code"]) == (409, "protected")
        assert Category.objects.filter(slug=slug).exists()


def test_category_writes_need_permissions(api_client, staff_client):
    assert api_client.post(URL, {"name": "X"}).status_code == 401
    assert staff_client.post(URL, {"name": "X"}).status_code == 403


def test_parent_must_be_a_slug_string(manager_client):
    CategoryFactory(slug="0")
    CategoryFactory(slug="child")

    response = manager_client.patch(f"{URL}child/", {"parent": 0}, format="json")

    assert (response.status_code, list(response.json()["errors"])) == (400, ["parent"])


def test_create_category_validation(manager_client):
    response = manager_client.post(URL, {"name": "", "parent": "nope", "slug": "bad slug"})

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"name", "parent", "slug"}
