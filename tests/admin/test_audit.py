"""Every staff change in the back office is recorded: the admin log and the domain events."""

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.urls import reverse

from orders.models import OrderStatus
from orders.services import order_transition
from tests.orders.factories import order_place
from webhooks.models import Event

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
        ("shipped", manager.user.pk),
    ]
    assert set(Event.objects.values_list("type", flat=True)) >= {"order.paid", "order.shipped"}

    history = manager.get(reverse("admin:orders_order_history", args=[order.pk]))
    assert "Action ship (tracking number: TRK-1)" in history.content.decode()
