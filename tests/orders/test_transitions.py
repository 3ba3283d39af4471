"""The state machine: every (status, action, role) combination, stock and events."""

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.utils import timezone

from catalog.models import StockMovement
from orders.models import Order, OrderStatus
from orders.services import order_transition
from orders.transitions import FULFILMENT_ACTIONS, PUBLIC_ACTIONS, TRANSITIONS
from tests.accounts.factories import StaffFactory, UserFactory
from tests.catalog.factories import VariantFactory
from tests.conftest import token_client
from tests.orders.factories import order_place
from webhooks.models import Event

pytestmark = pytest.mark.django_db

ALL_STATUSES = list(OrderStatus.values)
# The contract, spelled out independently of orders.transitions.
EXPECTED = {
    "cancel": ({"pending_payment", "paid"}, "cancelled"),
    "mark-paid": ({"pending_payment"}, "paid"),
    "ship": ({"paid", "partially_shipped"}, "shipped"),
    "deliver": ({"shipped"}, "delivered"),
    "refund": ({"paid", "partially_shipped", "shipped", "delivered"}, "refunded"),
}
# Fulfilment actions (their own endpoints): action -> (statuses, roles that may take it).
FULFILMENT = {
    "create-shipment": ({"paid", "partially_shipped"}, {"fulfilment"}),
    "request-return": (
        {"partially_shipped", "shipped", "delivered", "refunded"},
        {"owner", "fulfilment"},
    ),
    "create-refund": ({"paid", "partially_shipped", "shipped", "delivered"}, {"fulfilment"}),
}
# Outgoing events of a successful action: ship and refund also record their shipment or refund.
OUTBOX = {"ship": 2, "refund": 2}
BODIES = {"ship": {"tracking_number": "TRACK-1"}, "refund": {"restock": True, "reason": "broken"}}
# role -> actions it may take (status permitting)
ROLES = {
    "owner": {"cancel"},
    "other_customer": set(),
    "support": {"cancel"},  # view_order + cancel_order
    "fulfilment": set(EXPECTED),  # view_order + cancel_order + transition_order
    "staff_without_perms": set(),
}


def _staff(*codenames):
    staff = StaffFactory()
    staff.user_permissions.set(
        Permission.objects.filter(content_type__app_label="orders", codename__in=codenames)
    )
    return staff


def _caller(role, owner):
    if role == "owner":
        return owner
    if role == "other_customer":
        return UserFactory()
    if role == "support":
        return _staff("view_order", "cancel_order")
    if role == "fulfilment":
        return _staff("view_order", "cancel_order", "transition_order")
    return StaffFactory()


def _order_in(status):
    """An order of two units in `status`, its amounts and quantities as that status implies."""
    order = order_place(quantity=2, stock=10)
    paid = status not in {"pending_payment", "cancelled"}
    shipped = {"partially_shipped": 1, "shipped": 2, "delivered": 2}.get(status, 0)
    Order.objects.filter(pk=order.pk).update(
        status=status,
        paid_total=order.total if paid else 0,
        refunded_total=order.total if status == "refunded" else 0,
        delivered_at=timezone.now() if status == "delivered" else None,
    )
    order.lines.update(quantity_shipped=shipped)
    order.refresh_from_db()
    return order


def test_the_table_matches_the_contract():
    assert set(PUBLIC_ACTIONS) == set(EXPECTED) | set(FULFILMENT)
    for action, (sources, _roles) in FULFILMENT.items():
        assert FULFILMENT_ACTIONS[action].sources == sources
    for action, (sources, target) in EXPECTED.items():
        assert TRANSITIONS[action].sources == sources
        assert TRANSITIONS[action].target == target


@pytest.mark.parametrize("status", ALL_STATUSES)
@pytest.mark.parametrize("action", list(EXPECTED))
@pytest.mark.parametrize("role", list(ROLES))
def test_every_status_action_role(status, action, role):
    order = _order_in(status)
    caller = _caller(role, order.user)
    client = token_client(caller)
    response = client.post(
        f"/api/v1/orders/{order.number}/{action}/", BODIES.get(action, {}), format="json"
    )
    sources, target = EXPECTED[action]
    can_see = role in {"owner", "support", "fulfilment"}
    if not can_see:
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    elif action not in ROLES[role]:
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    elif status not in sources:
        assert response.status_code == 409
        assert response.json()["code"] == "invalid_transition"
    else:
        assert response.status_code == 200, response.content
        assert response.json()["status"] == target
    outbox = Event.objects.filter(data__number=order.number).exclude(type="order.placed")
    assert outbox.count() == (OUTBOX.get(action, 1) if response.status_code == 200 else 0)
    order.refresh_from_db()
    assert order.status == (target if response.status_code == 200 else status)


@pytest.mark.parametrize("status", ALL_STATUSES)
@pytest.mark.parametrize("role", ["owner", "support", "fulfilment"])
def test_allowed_transitions_come_from_the_same_table(status, role):
    order = _order_in(status)
    caller = _caller(role, order.user)
    data = token_client(caller).get(f"/api/v1/orders/{order.number}/").json()
    expected = [
        a
        for a in PUBLIC_ACTIONS
        if (a in EXPECTED and status in EXPECTED[a][0] and a in ROLES[role])
        or (a in FULFILMENT and status in FULFILMENT[a][0] and role in FULFILMENT[a][1])
    ]
    assert data["allowed_transitions"] == expected


def test_cancel_returns_stock_and_records_the_event(user_client, user):
    variant = VariantFactory(stock=5)
    order = order_place(user=user, variant=variant, quantity=3)
    response = user_client.post(
        f"/api/v1/orders/{order.number}/cancel/", {"reason": "changed my mind"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["refund_due"] is False
    variant.refresh_from_db()
    assert variant.stock == 5
    assert StockMovement.objects.filter(
        order_number=order.number, kind="order_cancelled", delta=3
    ).exists()
    events = user_client.get(f"/api/v1/orders/{order.number}/events/").json()["results"]
    assert [(e["type"], e["from_status"], e["to_status"], e["actor"]) for e in events] == [
        ("placed", "", "pending_payment", "customer"),
        ("cancelled", "pending_payment", "cancelled", "customer"),
    ]
    assert events[1]["note"] == "changed my mind"
    assert Event.objects.filter(type="order.cancelled", data__number=order.number).count() == 1


def test_cancelling_a_paid_order_marks_it_for_refund():
    order = _order_in(OrderStatus.PAID)
    order = order_transition(order=order, action="cancel", user=order.user)
    assert order.refund_due is True
    order.refresh_from_db()
    assert order.refund_due is True


@pytest.mark.parametrize(
    ("shipped", "restock", "stock_after"),
    [(0, True, 10), (0, False, 8), (1, True, 9), (2, True, 8)],
)
def test_refund_restocks_only_units_not_shipped(shipped, restock, stock_after):
    variant = VariantFactory(stock=10)
    order = order_place(variant=variant, quantity=2)
    Order.objects.filter(pk=order.pk).update(
        status={0: "paid", 1: "partially_shipped", 2: "shipped"}[shipped], paid_total=order.total
    )
    order.lines.update(quantity_shipped=shipped)
    staff = _staff("view_order", "transition_order")
    response = token_client(staff).post(
        f"/api/v1/orders/{order.number}/refund/",
        {"restock": restock, "reason": "damaged"},
        format="json",
    )
    assert response.status_code == 200
    variant.refresh_from_db()
    assert variant.stock == stock_after
    assert StockMovement.objects.filter(kind="refund_restock").exists() is (stock_after > 8)
    assert response.json()["status"] == "refunded"
    assert response.json()["refunded_total"] == response.json()["paid_total"]


def test_ship_needs_a_tracking_number_and_stores_it():
    order = _order_in(OrderStatus.PAID)
    client = token_client(_staff("view_order", "transition_order"))
    url = f"/api/v1/orders/{order.number}/ship/"
    missing = client.post(url, {}, format="json")
    assert missing.status_code == 400
    assert "tracking_number" in missing.json()["errors"]
    response = client.post(url, {"tracking_number": "1Z999"}, format="json")
    assert response.status_code == 200
    assert response.json()["tracking_number"] == "1Z999"


def test_staff_events_show_the_staff_email_only_to_staff(user):
    order = order_place(user=user)
    staff = _staff("view_order", "transition_order")
    token_client(staff).post(f"/api/v1/orders/{order.number}/mark-paid/")
    as_staff = token_client(staff).get(f"/api/v1/orders/{order.number}/events/").json()
    as_owner = token_client(user).get(f"/api/v1/orders/{order.number}/events/").json()
    assert as_staff["results"][1]["actor"] == "staff"
    assert as_staff["results"][1]["actor_email"] == staff.email
    assert as_owner["results"][1]["actor"] == "staff"
    assert as_owner["results"][1]["actor_email"] is None


@pytest.mark.parametrize(
    ("action", "kind"),
    [("mark-paid", "paid"), ("cancel", "cancelled")],
)
def test_transition_emails_the_customer_after_commit(
    action, kind, django_capture_on_commit_callbacks
):
    order = order_place()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order_transition(order=order, action=action, user=None)
    assert mail.outbox == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [order.user.email]
    assert order.number in mail.outbox[0].subject


def test_no_email_when_the_transaction_rolls_back(django_capture_on_commit_callbacks):
    from django.db import transaction

    order = order_place()
    mail.outbox.clear()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        order_transition(order=order, action="cancel", user=None)
        raise RuntimeError("boom")
    assert callbacks == []
    assert mail.outbox == []
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


@pytest.mark.parametrize("kind", ["placed", "paid", "shipped", "cancelled", "refunded"])
def test_every_customer_email_renders(kind):
    from orders.emails import order_email_message

    order = order_place()
    Order.objects.filter(pk=order.pk).update(tracking_number="1Z9", refund_due=True)
    message = order_email_message(order_id=order.pk, kind=kind)
    assert message is not None
    assert order.number in message.subject
    assert order.number in message.body
    assert "{%" not in message.body
