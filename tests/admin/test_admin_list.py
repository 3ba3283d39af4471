"""The quick action checkbox is Django's own HTML, for any object's name."""

import pytest
from django.contrib import admin

from catalog.models import Product, StockMovement, Variant
from core.admin_list import QuickActionCheckbox
from orders.models import Order
from tests.catalog.factories import ProductFactory
from tests.orders.factories import OrderFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", [Order, Product, Variant, StockMovement])
def test_the_long_lists_use_it(model):
    assert isinstance(admin.site._registry[model], QuickActionCheckbox)


def test_it_renders_exactly_what_django_renders():
    product = ProductFactory(name="Mug <b>\"big\" & 'small'</b>")
    order = OrderFactory()
    for obj, model in ((product, Product), (order, Order)):
        model_admin = admin.site._registry[model]
        djangos = admin.ModelAdmin.action_checkbox(model_admin, obj)
        assert model_admin.action_checkbox(obj) == djangos
        assert "<b>" not in djangos
