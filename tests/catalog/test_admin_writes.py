"""Every back-office write goes through catalog.services, so no admin form skips their rules.

Each test makes the rule matter: a concurrent change between the admin's
read and its save (only changed fields may be written), a variant the ledger
says was ordered (never deleted), a slug or SKU taken meanwhile (retried, or
refused as a form error, never a 500).
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin as django_admin
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.messages import get_messages
from django.db.models import Sum
from django.test import Client
from django.urls import reverse

from catalog import services
from catalog.admin import CategoryAdmin, ProductAdmin, VariantAdmin, WritesThroughServices
from catalog.models import Category, Product, Variant
from tests.catalog.factories import CategoryFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(superuser) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


def _before(monkeypatch, admin_class: type, method: str, change: Any) -> None:
    """Run `change()` (another transaction's committed write, in effect) after the admin has
    read the object and validated the form or the confirmation, just before `method` writes."""
    original = getattr(admin_class, method)

    def hooked(self, request, *args):
        change()
        original(self, request, *args)

    monkeypatch.setattr(admin_class, method, hooked)


def _before_save(monkeypatch, admin_class: type, change: Any) -> None:
    _before(monkeypatch, admin_class, "save_model", change)


def _ordered(variant: Variant) -> None:
    """The ledger names an order for this variant (the rule that keeps it from deletion)."""
    services.stock_adjust(variant=variant, delta=1, reason="delivery")
    services.stock_take(quantities={variant.pk: 1}, order_number="SR-000001")


def _product_form(product: Product, variants: Sequence[Variant] = (), **changes: Any) -> dict:
    data = {
        "name": product.name,
        "slug": product.slug,
        "category": product.category_id,
        "tax_class": product.tax_class_id,
        "description": product.description,
        "is_published": "on" if product.is_published else "",
        "variants-TOTAL_FORMS": len(variants),
        "variants-INITIAL_FORMS": len(variants),
        "variants-MIN_NUM_FORMS": 0,
        "variants-MAX_NUM_FORMS": 1000,
    }
    for i, variant in enumerate(variants):
        data |= {
            f"variants-{i}-id": variant.pk,
            f"variants-{i}-product": product.pk,
            f"variants-{i}-sku": variant.sku,
            f"variants-{i}-name": variant.name,
            f"variants-{i}-attributes": "{}",
            f"variants-{i}-price": str(variant.price),
            f"variants-{i}-weight_grams": variant.weight_grams,
        }
    return data | changes


def _variant_form(variant: Variant, **changes: Any) -> dict:
    return {
        "product": variant.product_id,
        "sku": variant.sku,
        "name": variant.name,
        "attributes": "{}",
        "price": str(variant.price),
        "weight_grams": variant.weight_grams,
    } | changes


def _stock_matches_ledger(variant: Variant) -> bool:
    variant.refresh_from_db()
    return variant.stock == (variant.movements.aggregate(total=Sum("delta"))["total"] or 0)


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- Categories --------------------------------------------------------------


def test_category_form_refuses_a_parent_inside_its_own_subtree_as_a_form_error(admin_client_):
    clothing = CategoryFactory(name="Clothing", slug="clothing")
    shirts = CategoryFactory(name="Shirts", slug="shirts", parent=clothing)

    response = admin_client_.post(
        reverse("admin:catalog_category_change", args=[clothing.pk]),
        {"name": "Clothing", "slug": "clothing", "parent": shirts.pk, "position": 0},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "parent": ["A category cannot be moved under itself or its descendants."]
    }
    clothing.refresh_from_db()
    assert clothing.parent_id is None


def test_category_add_form_makes_a_free_slug_when_left_empty(admin_client_):
    CategoryFactory(name="Blue Shirt", slug="blue-shirt")

    response = admin_client_.post(
        reverse("admin:catalog_category_add"), {"name": "Blue Shirt", "slug": "", "position": 0}
    )

    assert response.status_code == 302
    assert Category.objects.filter(slug="blue-shirt-2", name="Blue Shirt").exists()


def test_category_change_writes_only_the_changed_fields(admin_client_, monkeypatch):
    category = CategoryFactory(name="Mugs", slug="mugs", position=1)
    _before_save(
        monkeypatch,
        CategoryAdmin,
        lambda: Category.objects.filter(pk=category.pk).update(description="from the API"),
    )

    response = admin_client_.post(
        reverse("admin:catalog_category_change", args=[category.pk]),
        {"name": "Mugs", "slug": "mugs", "position": 7, "description": ""},
    )

    assert response.status_code == 302
    category.refresh_from_db()
    assert (category.position, category.description) == (7, "from the API")


# --- Products ----------------------------------------------------------------


def test_product_form_keeps_the_lowest_price_a_concurrent_change_set(admin_client_, monkeypatch):
    variant = VariantFactory(price=Decimal("10.00"))
    product = variant.product
    _before_save(
        monkeypatch,
        ProductAdmin,
        lambda: Variant.objects.filter(pk=variant.pk).update(price=Decimal("5.00")),
    )

    response = admin_client_.post(
        reverse("admin:catalog_product_change", args=[product.pk]),
        _product_form(product, name="Renamed"),
    )

    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.name, product.min_price) == ("Renamed", Decimal("5.00"))


def test_product_add_form_retries_a_generated_slug_taken_meanwhile(admin_client_, monkeypatch):
    category = CategoryFactory()
    ProductFactory(slug="blue-shirt", category=category)
    generate = services._slug_candidates

    def taken_meanwhile(*, model, name):
        for candidate in generate(model=model, name=name):
            if candidate == "blue-shirt-2":  # another writer commits it first
                ProductFactory(slug=candidate, category=category)
            yield candidate

    monkeypatch.setattr(services, "_slug_candidates", taken_meanwhile)

    response = admin_client_.post(
        reverse("admin:catalog_product_add"),
        {
            "name": "Blue Shirt",
            "slug": "",
            "category": category.pk,
            "tax_class": "standard",
            "description": "",
            "variants-TOTAL_FORMS": 1,
            "variants-INITIAL_FORMS": 0,
            "variants-MIN_NUM_FORMS": 0,
            "variants-MAX_NUM_FORMS": 1000,
            "variants-0-sku": "BLUE-M",
            "variants-0-name": "M",
            "variants-0-attributes": "{}",
            "variants-0-price": "12.00",
            "variants-0-weight_grams": "0",
        },
    )

    assert response.status_code == 302
    product = Product.objects.get(name="Blue Shirt")
    assert product.slug == "blue-shirt-3"
    assert list(product.variants.values_list("sku", flat=True)) == ["BLUE-M"]
    assert product.min_price == Decimal("12.00")
    log = LogEntry.objects.get(object_id=str(product.pk))
    assert "BLUE-M" in log.get_change_message()


def test_product_form_with_a_taken_slug_is_a_form_error_not_a_500(admin_client_, monkeypatch):
    product = ProductFactory(slug="tee")
    _before_save(monkeypatch, ProductAdmin, lambda: ProductFactory(slug="polo"))

    response = admin_client_.post(
        reverse("admin:catalog_product_change", args=[product.pk]),
        _product_form(product, slug="polo", name="Renamed"),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"slug": ["This slug is already in use."]}
    product.refresh_from_db()
    assert product.slug == "tee"
    assert not Product.objects.filter(name="Renamed").exists()


# --- The variant inline ------------------------------------------------------


def test_variant_inline_keeps_stock_changed_meanwhile(admin_client_, monkeypatch):
    variant = VariantFactory(stock=2, price=Decimal("10.00"))
    product = variant.product
    _before_save(
        monkeypatch,
        ProductAdmin,
        lambda: services.stock_adjust(
            variant=Variant.objects.get(pk=variant.pk), delta=3, reason="delivery"
        ),
    )

    response = admin_client_.post(
        reverse("admin:catalog_product_change", args=[product.pk]),
        _product_form(product, [variant], **{"variants-0-price": "8.00"}),
    )

    assert response.status_code == 302
    variant.refresh_from_db()
    assert (variant.price, variant.stock) == (Decimal("8.00"), 5)
    assert _stock_matches_ledger(variant)


def test_variant_inline_refuses_to_delete_an_ordered_variant(admin_client_):
    ordered = VariantFactory(sku="TEE-M")
    _ordered(ordered)
    product = ordered.product
    other = VariantFactory(product=product, sku="TEE-L")

    response = admin_client_.post(
        reverse("admin:catalog_product_change", args=[product.pk]),
        _product_form(
            product,
            [ordered, other],
            name="Renamed",
            **{"variants-0-DELETE": "on", "variants-1-price": "3.00"},
        ),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert errors == ["Variant(s) TEE-M not deleted: This object is in use and cannot be deleted."]
    assert Variant.objects.filter(pk=ordered.pk).exists()
    # All or nothing: the product and the other variant are as they were.
    product.refresh_from_db()
    other.refresh_from_db()
    assert (product.name, other.price) == (ordered.product.name, Decimal("10.00"))


def test_variant_inline_deletes_a_variant_never_ordered(admin_client_):
    variant = VariantFactory(stock=2)
    product = variant.product

    response = admin_client_.post(
        reverse("admin:catalog_product_change", args=[product.pk]),
        _product_form(product, [variant], **{"variants-0-DELETE": "on"}),
    )

    assert response.status_code == 302
    assert not Variant.objects.filter(pk=variant.pk).exists()
    product.refresh_from_db()
    assert product.min_price is None


# --- Variants ----------------------------------------------------------------


def test_variant_form_keeps_stock_changed_meanwhile(admin_client_, monkeypatch):
    variant = VariantFactory(stock=2, price=Decimal("10.00"))
    _before_save(
        monkeypatch,
        VariantAdmin,
        lambda: services.stock_adjust(
            variant=Variant.objects.get(pk=variant.pk), delta=-2, reason="damaged"
        ),
    )

    response = admin_client_.post(
        reverse("admin:catalog_variant_change", args=[variant.pk]),
        _variant_form(variant, price="6.00"),
    )

    assert response.status_code == 302
    variant.refresh_from_db()
    assert (variant.price, variant.stock) == (Decimal("6.00"), 0)
    assert _stock_matches_ledger(variant)


def test_variant_form_with_a_sku_taken_meanwhile_is_a_form_error(admin_client_, monkeypatch):
    product = ProductFactory()
    _before_save(monkeypatch, VariantAdmin, lambda: VariantFactory(sku="TEE-XL"))

    response = admin_client_.post(
        reverse("admin:catalog_variant_add"),
        {
            "product": product.pk,
            "sku": "TEE-XL",
            "name": "",
            "attributes": "{}",
            "price": "9.00",
            "weight_grams": "0",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"sku": ["This SKU is already in use."]}
    assert not product.variants.exists()


def test_variant_form_moves_a_variant_and_both_products_follow(admin_client_):
    variant = VariantFactory(stock=1, price=Decimal("4.00"))
    old, new = variant.product, ProductFactory()

    response = admin_client_.post(
        reverse("admin:catalog_variant_change", args=[variant.pk]),
        _variant_form(variant, product=new.pk),
    )

    assert response.status_code == 302
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.min_price, new.min_price) == (None, Decimal("4.00"))


# --- Deletes -----------------------------------------------------------------


def test_variant_delete_page_refuses_a_variant_ordered_meanwhile_with_a_message(
    admin_client_, monkeypatch
):
    variant = VariantFactory()
    _before(monkeypatch, VariantAdmin, "delete_model", lambda: _ordered(variant))

    response = admin_client_.post(
        reverse("admin:catalog_variant_delete", args=[variant.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert response.url == reverse("admin:catalog_variant_change", args=[variant.pk])
    assert _messages(response) == [
        "Nothing was deleted: This object is in use and cannot be deleted."
    ]
    assert Variant.objects.filter(pk=variant.pk).exists()
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()


def test_product_delete_page_refuses_a_product_ordered_meanwhile(admin_client_, monkeypatch):
    variant = VariantFactory()
    _before(monkeypatch, ProductAdmin, "delete_model", lambda: _ordered(variant))

    response = admin_client_.post(
        reverse("admin:catalog_product_delete", args=[variant.product_id]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert _messages(response) == [
        "Nothing was deleted: This object is in use and cannot be deleted."
    ]
    assert Variant.objects.filter(pk=variant.pk).exists()


@pytest.mark.parametrize(
    ("admin_class", "model"), [(VariantAdmin, "variant"), (ProductAdmin, "product")]
)
def test_delete_selected_is_all_or_nothing_when_one_was_ordered_meanwhile(
    admin_client_, monkeypatch, admin_class, model
):
    ordered, free = VariantFactory(), VariantFactory()
    _before(monkeypatch, admin_class, "delete_queryset", lambda: _ordered(ordered))
    selected = (
        [ordered.pk, free.pk] if model == "variant" else [ordered.product_id, free.product_id]
    )

    response = admin_client_.post(
        reverse(f"admin:catalog_{model}_changelist"),
        {"action": "delete_selected", "_selected_action": selected, "post": "yes"},
    )

    assert response.status_code == 302
    assert _messages(response) == [
        "Nothing was changed: This object is in use and cannot be deleted."
    ]
    assert Variant.objects.filter(pk__in=[ordered.pk, free.pk]).count() == 2
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()


def test_delete_selected_variants_refreshes_their_products(admin_client_):
    cheap = VariantFactory(price=Decimal("2.00"))
    VariantFactory(product=cheap.product, price=Decimal("9.00"))

    response = admin_client_.post(
        reverse("admin:catalog_variant_changelist"),
        {"action": "delete_selected", "_selected_action": [cheap.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert _messages(response) == ["Successfully deleted 1 variant."]
    cheap.product.refresh_from_db()
    assert cheap.product.min_price == Decimal("9.00")


def test_delete_selected_categories_goes_through_the_service(admin_client_, monkeypatch):
    categories = [CategoryFactory(), CategoryFactory()]
    calls = []
    monkeypatch.setattr(
        services,
        "categories_delete",
        lambda *, category_ids, original=services.categories_delete: calls.append(
            original(category_ids=category_ids)
        ),
    )

    admin_client_.post(
        reverse("admin:catalog_category_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [c.pk for c in categories],
            "post": "yes",
        },
    )

    assert calls == [2]
    assert not Category.objects.filter(pk__in=[c.pk for c in categories]).exists()


def test_every_catalog_admin_that_writes_does_it_through_the_services(rf, superuser):
    request = rf.get("/admin/")
    request.user = superuser
    writable = [
        model_admin
        for model, model_admin in django_admin.site._registry.items()
        if model._meta.app_label == "catalog"
        and (
            model_admin.has_add_permission(request)
            or model_admin.has_change_permission(request)
            or model_admin.has_delete_permission(request)
        )
    ]

    assert {type(a) for a in writable} == {CategoryAdmin, ProductAdmin, VariantAdmin}
    for model_admin in writable:
        assert isinstance(model_admin, WritesThroughServices)
        methods = ["save_model", "delete_model", "delete_queryset"]
        methods += ["save_formset"] if model_admin.inlines else []
        for method in methods:
            assert getattr(type(model_admin), method) is not getattr(WritesThroughServices, method)
    with pytest.raises(NotImplementedError):
        WritesThroughServices(Category, django_admin.site).save_model(
            request, Category(), None, False
        )
