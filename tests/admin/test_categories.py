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
