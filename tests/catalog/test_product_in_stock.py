"""`catalog_product.in_stock` (migration 0007) follows every write that can change it."""

from decimal import Decimal

import pytest
from django.db import connection

from catalog import services
from catalog.models import Product, StockMovementKind, Variant
from tests.catalog.factories import CategoryFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db


def flag(product) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT in_stock FROM catalog_product WHERE id = %s", [product.pk])
        return cursor.fetchone()[0]


def test_stock_crossing_zero_either_way_flips_the_flag():
    variant = VariantFactory(stock=0)
    product = variant.product
    assert flag(product) is False
    services.stock_adjust(variant=variant, delta=2, reason="in")
    assert flag(product) is True
    services.stock_take(quantities={variant.pk: 1}, order_number="SR-1")
    assert flag(product) is True  # 1 left: no change
    services.stock_take(quantities={variant.pk: 1}, order_number="SR-2")
    assert flag(product) is False
    services.stock_return(
        quantities={variant.pk: 1}, kind=StockMovementKind.ORDER_CANCELLED, order_number="SR-2"
    )
    assert flag(product) is True
    services.stock_import(deltas={variant.pk: -1}, reason="count")
    assert flag(product) is False


def test_one_variant_in_stock_is_enough():
    product = ProductFactory()
    empty = VariantFactory(product=product, stock=0)
    full = VariantFactory(product=product, stock=1)
    assert flag(product) is True
    services.stock_take(quantities={full.pk: 1})
    assert flag(product) is False
    services.stock_adjust(variant=empty, delta=5, reason="in")
    assert flag(product) is True


def test_deleting_or_moving_a_variant_refreshes_both_products():
    first, second = ProductFactory(), ProductFactory()
    variant = VariantFactory(product=first, stock=3)
    assert (flag(first), flag(second)) == (True, False)
    Variant.objects.filter(pk=variant.pk).update(product=second)
    assert (flag(first), flag(second)) == (False, True)
    services.variant_delete(variant=Variant.objects.get(pk=variant.pk))
    assert flag(second) is False


def test_variants_inserted_with_stock_in_bulk_set_the_flag():
    product = ProductFactory()
    Variant.objects.bulk_create(
        [
            Variant(product=product, sku="B-1", price=Decimal("1.00"), stock=0),
            Variant(product=product, sku="B-2", price=Decimal("1.00"), stock=4),
        ]
    )
    assert flag(product) is True


def test_a_new_product_is_out_of_stock():
    assert flag(ProductFactory()) is False


def test_saving_a_stale_product_keeps_what_the_triggers_wrote():
    """The admin saves every field: the trigger-kept ones are read back, never written."""
    product = ProductFactory(name="Mug")
    stale = Product.objects.get(pk=product.pk)
    assert (stale.in_stock, stale.min_price) == (False, None)
    VariantFactory(product=product, price=Decimal("7.50"), stock=3)

    stale.name = "Big mug"
    stale.save()

    fresh = Product.objects.get(pk=product.pk)
    assert (fresh.name, fresh.in_stock, fresh.min_price) == ("Big mug", True, Decimal("7.50"))
    assert (stale.in_stock, stale.min_price) == (True, Decimal("7.50"))  # read back
    assert search_document(product) == stale.search_vector
    assert "'big':1A" in str(stale.search_vector)


def test_a_new_product_starts_from_the_database_defaults_whatever_it_is_given():
    product = Product(
        name="Kettle",
        slug="kettle",
        category=CategoryFactory(),
        in_stock=True,
        min_price=Decimal("1.00"),
    )
    product.save()

    assert (product.in_stock, product.min_price) == (False, None)
    assert flag(product) is False
    assert "'kettl':1A" in str(product.search_vector)  # computed by the insert trigger


def search_document(product) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT search_vector FROM catalog_product WHERE id = %s", [product.pk])
        return cursor.fetchone()[0]
