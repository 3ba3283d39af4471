from decimal import Decimal

import pytest
from django.urls import reverse

from orders.models import Order
from pricing.models import Voucher
from tests.catalog.factories import VariantFactory
from tests.orders.factories import order_place
from tests.pricing.factories import TaxRateFactory, VoucherFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def test_the_order_page_shows_the_price_breakdown(admin_client):
    TaxRateFactory(country="GB", tax_class_id="standard", rate=Decimal("20.00"))
    order = order_place(variant=VariantFactory(price=Decimal("12.00"), stock=3))
    response = admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    # 12.00 gross at 20 %: 2.00 tax; shipping 4.90: 0.82; 2.82 in all.
    for text in ("Tax total", "2.82", "Shipping method code", "standard", "Tax rate", "20.00"):
        assert text in page, text
    assert Order.objects.get().tax_total == Decimal("2.82")


def test_the_voucher_form_refuses_what_the_constraints_forbid(admin_client):
    VoucherFactory(code="SUMMER")
    url = reverse("admin:pricing_voucher_add")
    form = {
        "code": "summer",
        "kind": "percentage",
        "value": "150",
        "active": "on",
        "redemptions-TOTAL_FORMS": "0",
        "redemptions-INITIAL_FORMS": "0",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["__all__"] == [
        "Another voucher has this code (whatever the case).",
        "A percentage is at most 100.",
    ]
    assert Voucher.objects.count() == 1


def test_the_back_office_sets_a_products_tax_class_and_its_variants_weight(admin_client):
    from catalog.models import Product
    from tests.catalog.factories import CategoryFactory

    category = CategoryFactory()
    response = admin_client.post(
        reverse("admin:catalog_product_add"),
        {
            "name": "Novel",
            "slug": "",
            "category": category.pk,
            "tax_class": "reduced",
            "description": "",
            "variants-TOTAL_FORMS": 1,
            "variants-INITIAL_FORMS": 0,
            "variants-0-sku": "NOVEL-HB",
            "variants-0-name": "Hardback",
            "variants-0-attributes": "{}",
            "variants-0-price": "24.00",
            "variants-0-weight_grams": "650",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    product = Product.objects.get(name="Novel")
    assert product.tax_class_id == "reduced"
    assert list(product.variants.values_list("sku", "weight_grams")) == [("NOVEL-HB", 650)]
    form = admin_client.get(reverse("admin:catalog_product_change", args=[product.pk]))
    assert 'name="tax_class"' in form.content.decode()
