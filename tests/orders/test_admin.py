"""The order back office: list, search, read-only detail, actions through the service."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from catalog.models import StockMovement
from orders.models import Order, OrderStatus
from orders.services import order_transition
from tests.accounts.factories import StaffFactory
from tests.orders.factories import OrderFactory, order_place

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:orders_order_changelist")


@pytest.fixture
def back_office(client):
    staff = StaffFactory()
    staff.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="orders",
            codename__in=["view_order", "change_order", "cancel_order", "transition_order"],
        )
    )
    client.force_login(staff)
    return client


def test_changelist_queries_are_bounded(back_office, django_assert_max_num_queries):
    OrderFactory.create_batch(30)
    with django_assert_max_num_queries(12):
        response = back_office.get(CHANGELIST)
    assert response.status_code == 200
    with django_assert_max_num_queries(12):
        assert back_office.get(CHANGELIST, {"status__exact": "paid"}).status_code == 200


def test_search_by_number_email_and_sku(back_office):
    order = order_place()
    OrderFactory()
    for term in (order.number, order.user.email, order.lines.get().sku):
        response = back_office.get(CHANGELIST, {"q": term})
        assert list(response.context["cl"].result_list) == [order], term


def test_change_page_is_read_only_with_inlines(back_office, django_assert_max_num_queries):
    order = order_place()
    url = reverse("admin:orders_order_change", args=[order.pk])
    with django_assert_max_num_queries(20):
        response = back_office.get(url)
    assert response.status_code == 200
    assert order.lines.get().sku in response.content.decode()
    back_office.post(url, {"status": "delivered"})
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_cancel_action_uses_the_service_and_reports_refusals(back_office):
    pending = order_place(quantity=2)
    shipped = OrderFactory(status=OrderStatus.SHIPPED)
    response = back_office.post(
        CHANGELIST,
        {"action": "cancel", "_selected_action": [pending.pk, shipped.pk]},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any("done for 1 order" in m and pending.number in m for m in messages)
    assert any("not allowed" in m and shipped.number in m for m in messages)
    pending.refresh_from_db()
    assert pending.status == OrderStatus.CANCELLED
    assert StockMovement.objects.filter(
        order_number=pending.number, kind="order_cancelled"
    ).exists()
    assert pending.events.last().actor_kind == "staff"


def test_ship_action_asks_for_a_tracking_number(back_office):
    order = order_place()
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PAID)
    form = back_office.post(CHANGELIST, {"action": "ship", "_selected_action": [order.pk]})
    assert form.status_code == 200
    assert b"tracking_number" in form.content
    back_office.post(
        CHANGELIST,
        {"action": "ship", "_selected_action": [order.pk], "apply": "1", "tracking_number": "1Z9"},
    )
    order.refresh_from_db()
    assert (order.status, order.tracking_number) == (OrderStatus.SHIPPED, "1Z9")


def test_actions_need_the_permissions(client):
    staff = StaffFactory()
    staff.user_permissions.set(Permission.objects.filter(codename="view_order"))
    client.force_login(staff)
    order = order_place()
    client.post(CHANGELIST, {"action": "cancel", "_selected_action": [order.pk]})
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_support_role_can_cancel_without_change_permission(client):
    staff = StaffFactory()
    staff.user_permissions.set(
        Permission.objects.filter(codename__in=["view_order", "cancel_order"])
    )
    client.force_login(staff)
    order = order_place()
    response = client.post(
        CHANGELIST, {"action": "cancel", "_selected_action": [order.pk]}, follow=True
    )
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    mark_paid = client.post(CHANGELIST, {"action": "mark_paid", "_selected_action": [order.pk]})
    assert mark_paid.status_code in {200, 302}
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED


def test_work_page_shows_quantities_and_only_the_allowed_actions(back_office):
    order = order_place(quantity=2)
    order_transition(order=order, action="mark-paid", user=None)
    url = reverse("admin:orders_order_change", args=[order.pk])
    page = back_office.get(url).content.decode()
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    for action in ("create-shipment", "create-refund", "cancel", "ship", "refund"):
        assert f'id="act-{action}"' in page, action
    assert 'id="act-mark-paid"' not in page
    assert 'id="act-deliver"' not in page


def test_work_page_forms_call_the_services(back_office):
    order = order_place(quantity=3)
    order_transition(order=order, action="mark-paid", user=None)
    line = order.lines.get()
    act = lambda action: reverse("admin:orders_order_act", args=[order.pk, action])  # noqa: E731
    response = back_office.post(
        act("create-shipment"), {"tracking_number": "T1", "carrier": "", f"line_{line.pk}": 2}
    )
    assert response.status_code == 302
    line.refresh_from_db()
    assert line.quantity_shipped == 2
    over = back_office.post(act("create-shipment"), {"tracking_number": "T2", f"line_{line.pk}": 5})
    assert over.status_code == 200  # the form again, with the error
    back_office.post(act("note"), {"text": "Fragile"})
    back_office.post(act("create-refund"), {"amount": "1.00", "reason": "late"})
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_SHIPPED
    assert order.refunded_total == Decimal("1.00")
    page = back_office.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    for event in ("shipment_created", "partially_shipped", "note_added", "refund_created"):
        assert f"event-{event}" in page, event
