"""The catalog back office: tree, bounded change lists, actions, stock adjustment form, ledger."""

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from catalog import cache as catalog_cache
from catalog.models import Product, StockMovement, Variant
from tests.accounts.factories import StaffFactory
from tests.catalog.conftest import grant
from tests.catalog.factories import CategoryFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(superuser) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


def test_category_changelist_shows_the_tree_in_order(admin_client_):
    clothing = CategoryFactory(name="Clothing")
    shirts = CategoryFactory(name="Shirts", parent=clothing)
    CategoryFactory(name="Tees", parent=shirts)
    CategoryFactory(name="Books")

    response = admin_client_.get("/admin/catalog/category/")

    assert response.status_code == 200
    html = response.content.decode()
    positions = [html.index(text) for text in ("Books", "Clothing", "— Shirts", "— — Tees")]
    assert positions == sorted(positions)


def _add_products(category, count: int) -> None:
    start = Product.objects.count()
    products = Product.objects.bulk_create(
        [
            Product(name=f"P{start + i}", slug=f"p{start + i}", category=category)
            for i in range(count)
        ]
    )
    Variant.objects.bulk_create(
        [Variant(product=p, sku=f"S{p.pk}", price=Decimal("10.00")) for p in products]
    )


def test_product_changelist_queries_do_not_grow_with_rows(admin_client_):
    category = CategoryFactory()
    _add_products(category, 5)
    with CaptureQueriesContext(connection) as few:
        admin_client_.get("/admin/catalog/product/")
    _add_products(category, 150)
    with CaptureQueriesContext(connection) as many:
        response = admin_client_.get("/admin/catalog/product/")

    assert response.status_code == 200
    assert len(many) == len(few) <= 12
    html = response.content.decode()
    assert html.count("10.00") >= 100  # a full page of price ranges
    assert "Publish selected products" in html


def test_product_changelist_filters_and_sku_search(admin_client_):
    VariantFactory(product__name="Stocked thing", sku="STOCK-1", stock=3)
    VariantFactory(product__name="Empty thing", sku="EMPTY-1", stock=0)

    out = admin_client_.get("/admin/catalog/product/", {"stock": "out"}).content.decode()
    by_sku = admin_client_.get("/admin/catalog/product/", {"q": "STOCK-1"}).content.decode()
    by_name = admin_client_.get("/admin/catalog/product/", {"q": "empty"}).content.decode()

    assert "Empty thing" in out and "Stocked thing" not in out
    assert "Stocked thing" in by_sku and "Empty thing" not in by_sku
    assert "Empty thing" in by_name and "Stocked thing" not in by_name


def test_publish_and_unpublish_actions_invalidate_the_cache(
    admin_client_, django_capture_on_commit_callbacks
):
    a = ProductFactory(is_published=False)
    b = ProductFactory(is_published=False)
    generation = catalog_cache.generation()

    with django_capture_on_commit_callbacks(execute=True):
        admin_client_.post(
            "/admin/catalog/product/",
            {"action": "publish", "_selected_action": [a.pk, b.pk]},
        )

    assert set(Product.objects.values_list("is_published", flat=True)) == {True}
    assert catalog_cache.generation() != generation
    admin_client_.post(
        "/admin/catalog/product/", {"action": "unpublish", "_selected_action": [a.pk]}
    )
    a.refresh_from_db()
    assert a.is_published is False


def test_export_csv_is_streamed_and_formula_safe(admin_client_):
    product = ProductFactory(slug="tee", name="=cmd()", category__slug="shirts")
    VariantFactory(product=product, price="5.00", stock=2)
    VariantFactory(product=product, price="7.50", stock=1)

    response = admin_client_.post(
        "/admin/catalog/product/", {"action": "export_csv", "_selected_action": [product.pk]}
    )

    assert response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="products.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [
        ["slug", "name", "category", "published", "min_price", "max_price", "stock"],
        ["tee", "'=cmd()", "shirts", "True", "5.00", "7.50", "3"],
    ]


def test_adjust_stock_form_goes_through_the_ledger(
    admin_client_, superuser, django_capture_on_commit_callbacks
):
    variant = VariantFactory(sku="TEE-M", stock=2)
    url = f"/admin/catalog/variant/{variant.pk}/adjust-stock/"

    assert admin_client_.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client_.post(url, {"delta": 5, "reason": "delivery"})

    assert response.status_code == 302
    assert callbacks
    variant.refresh_from_db()
    assert variant.stock == 7
    movement = StockMovement.objects.latest("id")
    assert (movement.delta, movement.reason, movement.created_by) == (5, "delivery", superuser)

    refused = admin_client_.post(url, {"delta": -8, "reason": "x"})
    assert refused.status_code == 200
    assert "cannot go below zero" in refused.content.decode()
    variant.refresh_from_db()
    assert variant.stock == 7


def test_adjust_stock_form_needs_the_permission():
    variant = VariantFactory(stock=2)
    staff = StaffFactory()
    grant(staff, "view_variant", "change_variant")
    client = Client()
    client.force_login(staff)

    response = client.post(
        f"/admin/catalog/variant/{variant.pk}/adjust-stock/", {"delta": 1, "reason": "x"}
    )

    assert response.status_code == 403
    variant.refresh_from_db()
    assert variant.stock == 2


def test_variant_stock_is_read_only_in_the_admin(admin_client_):
    variant = VariantFactory(sku="TEE-M", stock=2, price="5.00")

    admin_client_.post(
        f"/admin/catalog/variant/{variant.pk}/change/",
        {
            "product": variant.product_id,
            "sku": "TEE-M",
            "name": "M",
            "attributes": "{}",
            "price": "6.00",
            "weight_grams": "0",
            "stock": "99",
        },
    )

    variant.refresh_from_db()
    assert (variant.stock, str(variant.price)) == (2, "6.00")


def test_ledger_admin_is_read_only(admin_client_):
    VariantFactory(stock=2)
    movement = StockMovement.objects.get()

    assert admin_client_.get("/admin/catalog/stockmovement/").status_code == 200
    assert admin_client_.get("/admin/catalog/stockmovement/add/").status_code == 403
    response = admin_client_.post(
        f"/admin/catalog/stockmovement/{movement.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 403
    assert StockMovement.objects.filter(pk=movement.pk).exists()
