"""Every staff change in the back office is recorded: the admin log and the domain events."""

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.urls import reverse
from knox.models import AuthToken

from catalog.models import StockMovement
from orders.models import OrderStatus
from orders.services import order_transition
from tests.accounts.factories import UserFactory
from tests.catalog.factories import VariantFactory
from tests.orders.factories import order_place
from tests.webhooks.factories import EndpointFactory
from webhooks.models import Delivery, Event

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:orders_order_changelist")


def test_order_actions_are_in_the_admin_log_and_the_order_history(role_client):
    manager = role_client("Order manager")
    order = order_place()
    refused = order_place()
    order_transition(order=refused, action="cancel", user=refused.user)

    manager.post(CHANGELIST, {"action": "mark_paid", "_selected_action": [order.pk, refused.pk]})
    manager.post(
        CHANGELIST,
        {
            "action": "ship",
            "_selected_action": [order.pk, refused.pk],
            "apply": "Ship orders",
            "tracking_number": "TRK-1",
        },
    )

    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    log = LogEntry.objects.filter(object_id=str(order.pk)).order_by("pk")
    assert [(e.user_id, e.action_flag, e.change_message) for e in log] == [
        (manager.user.pk, CHANGE, "Action mark-paid"),
        (manager.user.pk, CHANGE, "Action ship (tracking number: TRK-1)"),
    ]
    # Refused transitions change nothing, so nothing is logged for them.
    assert not LogEntry.objects.filter(object_id=str(refused.pk)).exists()
    events = list(order.events.order_by("created_at", "id").values_list("type", "actor"))
    assert events == [
        ("placed", order.user_id),
        ("paid", manager.user.pk),
        ("shipment_created", manager.user.pk),
        ("shipped", manager.user.pk),
    ]
    assert set(Event.objects.values_list("type", flat=True)) >= {"order.paid", "order.shipped"}

    history = manager.get(reverse("admin:orders_order_history", args=[order.pk]))
    assert "Action ship (tracking number: TRK-1)" in history.content.decode()


def _log(obj) -> list[tuple[int, int, str]]:
    return [
        (e.user_id, e.action_flag, e.change_message)
        for e in LogEntry.objects.filter(
            content_type__model=obj._meta.model_name, object_id=str(obj.pk)
        ).order_by("pk")
    ]


def test_stock_adjustment_is_logged_with_its_ledger_row_and_event(role_client):
    manager = role_client("Catalog manager")
    variant = VariantFactory(stock=4)

    response = manager.post(
        reverse("admin:catalog_variant_adjust_stock", args=[variant.pk]),
        {"delta": "-3", "reason": "Damaged in transit"},
    )

    assert response.status_code == 302
    assert _log(variant) == [
        (manager.user.pk, CHANGE, "Stock adjusted by -3 to 1: Damaged in transit")
    ]
    movement = StockMovement.objects.filter(variant=variant).latest("pk")
    assert (movement.delta, movement.created_by_id) == (-3, manager.user.pk)
    assert Event.objects.filter(type="stock.changed", data__sku=variant.sku, data__delta=-3)


def test_publishing_logs_each_product(role_client):
    manager = role_client("Catalog manager")
    products = [VariantFactory(product__is_published=False).product for _ in range(3)]

    manager.post(
        reverse("admin:catalog_product_changelist"),
        {"action": "publish", "_selected_action": [p.pk for p in products[:2]]},
    )

    assert [_log(p) for p in products] == [
        [(manager.user.pk, CHANGE, "Published")],
        [(manager.user.pk, CHANGE, "Published")],
        [],
    ]


def test_redelivery_is_logged(admin_client_super, superuser):
    endpoint = EndpointFactory()
    event = Event.objects.create(type="order.paid", data={})
    delivery = Delivery.objects.create(event=event, endpoint=endpoint, status="failed")

    admin_client_super.post(
        reverse("admin:webhooks_delivery_changelist"),
        {"action": "redeliver", "_selected_action": [delivery.pk]},
    )

    assert _log(delivery) == [(superuser.pk, CHANGE, "Redelivered")]


def test_token_revocation_and_erasure_are_logged_without_the_old_email(
    admin_client_super, superuser
):
    customer = UserFactory(email="private.person@example.com")
    AuthToken.objects.create(user=customer)
    changelist = reverse("admin:accounts_user_changelist")

    admin_client_super.post(
        changelist, {"action": "revoke_tokens", "_selected_action": [customer.pk]}
    )
    admin_client_super.post(
        changelist, {"action": "erase_personal_data", "_selected_action": [customer.pk]}
    )

    assert _log(customer) == [
        (superuser.pk, CHANGE, "Revoked 1 API token(s)"),
        (superuser.pk, CHANGE, "Personal data erased"),
    ]
    erased = LogEntry.objects.filter(object_id=str(customer.pk)).latest("pk")
    assert "private.person" not in erased.object_repr
