"""What each role from `setup_roles` may see and do in the back office."""

from decimal import Decimal

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.urls import reverse

from catalog.models import Category, Product, Variant
from orders.models import OrderStatus
from tests.catalog.factories import VariantFactory
from tests.orders.factories import order_place
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event

pytestmark = pytest.mark.django_db


def _url(name: str, *args) -> str:
    return reverse(f"admin:{name}", args=args)


def _actions(client, changelist: str) -> set[str]:
    response = client.get(_url(changelist))
    assert response.status_code == 200
    form = response.context["action_form"]
    if form is None:
        return set()
    return {name for name, _ in form.fields["action"].choices if name}


def _variant_post(variant: Variant, price: str) -> dict[str, str]:
    return {
        "product": str(variant.product_id),
        "sku": variant.sku,
        "name": variant.name,
        "attributes": "{}",
        "price": price,
        "weight_grams": str(variant.weight_grams),
    }


@pytest.fixture
def variant():
    return VariantFactory(price=Decimal("10.00"), stock=5)


def test_support_is_refused_the_catalog_and_cannot_edit_prices(role_client, variant):
    support = role_client("Support")

    assert support.get(_url("catalog_product_change", variant.product_id)).status_code == 403
    assert support.get(_url("catalog_variant_change", variant.pk)).status_code == 403
    response = support.post(_url("catalog_variant_change", variant.pk), _variant_post(variant, "1"))
    assert response.status_code == 403
    variant.refresh_from_db()
    assert variant.price == Decimal("10.00")
    assert support.get(_url("catalog_variant_adjust_stock", variant.pk)).status_code == 403


def test_support_reads_customers_and_orders_and_may_only_cancel(role_client, variant):
    support = role_client("Support")
    order = order_place(variant=variant)

    assert support.get(_url("orders_order_change", order.pk)).status_code == 200
    assert support.get(_url("accounts_user_change", order.user_id)).status_code == 200
    assert _actions(support, "orders_order_changelist") == {"cancel", "export_csv"}
    refused = support.post(
        _url("orders_order_changelist"),
        {"action": "mark_paid", "_selected_action": [order.pk]},
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert refused.status_code in (200, 302)

    support.post(
        _url("orders_order_changelist"), {"action": "cancel", "_selected_action": [order.pk]}
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED


def test_analyst_sees_everything_and_changes_nothing(role_client, variant):
    analyst = role_client("Analyst")
    order = order_place(variant=variant)
    product = variant.product

    for page in (
        _url("catalog_product_change", product.pk),
        _url("catalog_variant_change", variant.pk),
        _url("orders_order_change", order.pk),
        _url("accounts_user_change", order.user_id),
        _url("catalog_stockmovement_changelist"),
    ):
        response = analyst.get(page)
        assert response.status_code == 200, page
        assert 'name="_save"' not in response.content.decode(), page

    response = analyst.post(_url("catalog_variant_change", variant.pk), _variant_post(variant, "1"))
    assert response.status_code == 403
    variant.refresh_from_db()
    assert variant.price == Decimal("10.00")
    assert analyst.get(_url("catalog_product_add")).status_code == 403
    assert analyst.get(_url("catalog_variant_adjust_stock", variant.pk)).status_code == 403
    assert _actions(analyst, "orders_order_changelist") <= {"export_csv"}
    assert _actions(analyst, "catalog_product_changelist") <= {"export_csv"}
    analyst.post(
        _url("orders_order_changelist"), {"action": "cancel", "_selected_action": [order.pk]}
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert analyst.get(_url("webhooks_endpoint_changelist")).status_code == 403
    assert not LogEntry.objects.filter(user=analyst.user).exists()


def test_catalog_manager_runs_the_catalog_but_not_orders(role_client, variant):
    manager = role_client("Catalog manager")
    category = Category.objects.create(name="Shoes", slug="shoes")

    response = manager.post(
        _url("catalog_product_add"),
        {
            "name": "Trail runner",
            "slug": "trail-runner",
            "category": category.pk,
            "tax_class": "standard",
            "description": "",
            "is_published": "on",
            "variants-TOTAL_FORMS": "0",
            "variants-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    product = Product.objects.get(slug="trail-runner")
    assert LogEntry.objects.filter(
        user=manager.user, object_id=str(product.pk), action_flag=1
    ).exists()
    response = manager.post(
        _url("catalog_variant_change", variant.pk), _variant_post(variant, "12.50")
    )
    assert response.status_code == 302
    variant.refresh_from_db()
    assert variant.price == Decimal("12.50")
    assert LogEntry.objects.filter(
        user=manager.user, object_id=str(variant.pk), action_flag=CHANGE
    ).exists()
    assert manager.get(_url("orders_order_changelist")).status_code == 403
    assert manager.get(_url("accounts_user_changelist")).status_code == 403


def test_order_manager_runs_orders_and_only_reads_the_catalog(role_client, variant):
    manager = role_client("Order manager")
    order = order_place(variant=variant)

    assert {"mark_paid", "ship", "deliver", "cancel", "refund"} <= _actions(
        manager, "orders_order_changelist"
    )
    manager.post(
        _url("orders_order_changelist"), {"action": "mark_paid", "_selected_action": [order.pk]}
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert manager.get(_url("catalog_product_change", variant.product_id)).status_code == 200
    response = manager.post(_url("catalog_variant_change", variant.pk), _variant_post(variant, "1"))
    assert response.status_code == 403
    assert manager.get(_url("catalog_variant_adjust_stock", variant.pk)).status_code == 403


def test_integration_manager_registers_endpoints_and_redelivers_and_nobody_else_may(role_client):
    integrations = role_client("Integration manager")
    response = integrations.post(
        _url("webhooks_endpoint_add"),
        {"url": "https://erp.example.com/in", "event_types_text": "*", "is_active": "on"},
    )
    assert response.status_code == 200
    endpoint = Endpoint.objects.get()
    assert endpoint.secret in response.content.decode()
    event = Event.objects.create(type="order.paid", data={})
    delivery = Delivery.objects.create(event=event, endpoint=endpoint, status=DeliveryStatus.FAILED)
    assert _actions(integrations, "webhooks_delivery_changelist") == {"redeliver"}

    for role in ("Catalog manager", "Order manager", "Support", "Analyst"):
        other = role_client(role)
        for page in (
            _url("webhooks_endpoint_changelist"),
            _url("webhooks_endpoint_change", endpoint.pk),
            _url("webhooks_delivery_change", delivery.pk),
        ):
            assert other.get(page).status_code == 403, (role, page)
