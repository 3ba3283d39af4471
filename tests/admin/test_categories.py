"""The category change list is the tree, depth first, whatever the names and positions."""

import pytest
from django.urls import reverse

from tests.catalog.factories import CategoryFactory

pytestmark = pytest.mark.django_db


def test_children_stay_under_their_parent(admin_client_super):
    clothing = CategoryFactory(name="Clothing", position=1)
    CategoryFactory(name="Aprons", parent=clothing, position=0)
    CategoryFactory(name="Books", position=0)

    response = admin_client_super.get(reverse("admin:catalog_category_changelist"))

    shown = [category.name for category in response.context["cl"].result_list]
    assert shown == ["Books", "Clothing", "Aprons"]


def test_moving_a_category_under_its_descendant_is_a_form_error(admin_client_super):
    top = CategoryFactory(name="Top", slug="top")
    child = CategoryFactory(name="Child", slug="child", parent=top)
    url = reverse("admin:catalog_category_change", args=[top.pk])

    response = admin_client_super.post(
        url, {"name": "Top", "slug": "top", "parent": child.pk, "description": "", "position": 0}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "parent": ["A category cannot be moved under itself or its descendants."]
    }
    top.refresh_from_db()
    assert top.parent_id is None
