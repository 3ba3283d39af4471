"""The pricing rules through the API: public shipping methods, staff CRUD with model permissions."""

import pytest
from django.contrib.auth.models import Permission

from pricing.models import ShippingMethod, TaxRate, Voucher
from tests.accounts.factories import StaffFactory
from tests.catalog.factories import CategoryFactory
from tests.conftest import token_client
from tests.pricing.factories import ShippingMethodFactory, VoucherFactory

pytestmark = pytest.mark.django_db


def _staff_with(*codenames):
    staff = StaffFactory()
    staff.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return token_client(staff)


def test_anyone_lists_the_methods_that_serve_a_country(api_client, django_assert_max_num_queries):
    ShippingMethodFactory(code="de-express", name="Express", countries=["DE", "AT"])
    ShippingMethodFactory(code="fr-only", countries=["FR"])
    ShippingMethodFactory(code="off", active=False)
    with django_assert_max_num_queries(2):
        response = api_client.get("/api/v1/shipping-methods/?country=de")
    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "code": "de-express",
            "name": "Express",
            "price_rule": {"kind": "flat", "price": "4.90", "free_from": None, "bands": []},
            "countries": ["DE", "AT"],
            "active": True,
        },
        {
            "code": "standard",
            "name": "Standard shipping",
            "price_rule": {"kind": "free_from", "price": "4.90", "free_from": "50.00", "bands": []},
            "countries": [],
            "active": True,
        },
    ]
    bad = api_client.get("/api/v1/shipping-methods/?country=ZZ")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid")


def test_staff_need_the_model_permission_for_each_write(api_client):
    body = {"country": "DE", "tax_class": "reduced", "rate": "7.00"}
    viewer = _staff_with("view_taxrate")
    assert viewer.post("/api/v1/tax-rates/", body, format="json").status_code == 403
    writer = _staff_with("add_taxrate", "view_taxrate")
    response = writer.post("/api/v1/tax-rates/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json() == {"id": TaxRate.objects.get().pk, **body}
    again = writer.post("/api/v1/tax-rates/", {**body, "country": "de"}, format="json")
    assert (again.status_code, again.json()["code"]) == (400, "invalid")


def test_a_weight_band_method_is_created_with_sorted_bands():
    client = _staff_with("add_shippingmethod")
    body = {
        "code": "parcel",
        "name": "Parcel",
        "countries": ["de", "AT"],
        "price_rule": {
            "kind": "weight",
            "bands": [
                {"up_to_grams": 5000, "price": "9.90"},
                {"up_to_grams": 1000, "price": "4.90"},
            ],
        },
    }
    response = client.post("/api/v1/shipping-methods/", body, format="json")
    assert response.status_code == 201, response.content
    method = ShippingMethod.objects.get(code="parcel")
    assert method.countries == ["AT", "DE"]
    assert method.bands == [
        {"up_to_grams": 1000, "price": "4.90"},
        {"up_to_grams": 5000, "price": "9.90"},
    ]
    empty = client.post(
        "/api/v1/shipping-methods/",
        {**body, "code": "x", "price_rule": {"kind": "weight"}},
        format="json",
    )
    assert (empty.status_code, list(empty.json()["errors"])) == (400, ["price_rule.bands"])


def test_vouchers_are_written_with_their_targets_and_unique_codes_whatever_the_case():
    category = CategoryFactory(slug="books")
    client = _staff_with("add_voucher", "change_voucher", "view_voucher")
    body = {
        "code": "Summer",
        "kind": "percentage",
        "value": "15.00",
        "applies_to": {"categories": ["books"], "products": []},
        "usage_limit": 100,
    }
    response = client.post("/api/v1/vouchers/", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["applies_to"], data["times_used"]) == (
        {"categories": ["books"], "products": []},
        0,
    )
    assert list(Voucher.objects.get().categories.all()) == [category]
    clash = client.post("/api/v1/vouchers/", {**body, "code": "SUMMER"}, format="json")
    assert (clash.status_code, list(clash.json()["errors"])) == (400, ["code"])
    over = client.post("/api/v1/vouchers/", {**body, "code": "BIG", "value": "150"}, format="json")
    assert (over.status_code, list(over.json()["errors"])) == (400, ["value"])


def test_a_usage_limit_cannot_drop_below_the_uses_made():
    voucher = VoucherFactory(usage_limit=5)
    Voucher.objects.filter(pk=voucher.pk).update(times_used=3)
    client = _staff_with("change_voucher")
    response = client.patch(f"/api/v1/vouchers/{voucher.pk}/", {"usage_limit": 2}, format="json")
    assert (response.status_code, list(response.json()["errors"])) == (400, ["usage_limit"])


def test_a_tax_class_in_use_is_protected():
    client = _staff_with("delete_taxclass")
    from tests.catalog.factories import ProductFactory

    ProductFactory(tax_class_id="reduced")
    response = client.delete("/api/v1/tax-classes/reduced/")
    assert (response.status_code, response.json()["code"]) == (409, "protected")


def test_products_take_a_tax_class_and_variants_a_weight():
    from catalog.models import Product, Variant

    CategoryFactory(slug="books")
    client = _staff_with("add_product", "change_product", "view_product", "add_variant")
    response = client.post(
        "/api/v1/products/",
        {"name": "Novel", "category": "books", "tax_class": "reduced"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["tax_class"] == "reduced"
    assert Product.objects.get(slug="novel").tax_class_id == "reduced"
    public = client.get("/api/v1/products/novel/").json()
    assert public["tax_class"] == "reduced"
    listed = client.get("/api/v1/products/").json()["results"]
    assert [(p["slug"], p["tax_class"]) for p in listed] == [("novel", "reduced")]
    unknown = client.patch("/api/v1/products/novel/", {"tax_class": "luxury"}, format="json")
    assert (unknown.status_code, list(unknown.json()["errors"])) == (400, ["tax_class"])
    variant = client.post(
        "/api/v1/variants/",
        {"product": "novel", "sku": "NOVEL-1", "price": "12.99", "weight_grams": 450},
        format="json",
    )
    assert (variant.status_code, variant.json()["weight_grams"]) == (201, 450)
    assert Variant.objects.get(sku="NOVEL-1").weight_grams == 450
    negative = client.post(
        "/api/v1/variants/",
        {"product": "novel", "sku": "NOVEL-2", "price": "1.00", "weight_grams": -1},
        format="json",
    )
    assert (negative.status_code, list(negative.json()["errors"])) == (400, ["weight_grams"])


def test_a_tax_class_code_cannot_change():
    """Products and rates refer to it by code (the rename was a 500 from the foreign keys)."""
    client = _staff_with("change_taxclass")
    response = client.patch("/api/v1/tax-classes/zero/", {"code": "nil"}, format="json")
    assert (response.status_code, list(response.json()["errors"])) == (400, ["code"])
    renamed = client.patch("/api/v1/tax-classes/zero/", {"name": "Exempt"}, format="json")
    assert renamed.json() == {"code": "zero", "name": "Exempt"}


def test_a_patch_with_a_band_missing_its_price_is_400_not_a_server_error():
    client = _staff_with("change_shippingmethod")
    body = {"price_rule": {"kind": "weight", "bands": [{"up_to_grams": 748}]}}
    response = client.patch("/api/v1/shipping-methods/standard/", body, format="json")
    assert (response.status_code, list(response.json()["errors"])) == (400, ["price_rule.bands"])
