"""GET orders/, orders/{number}/, events: scoping, filters, ordering, query counts."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from orders.models import Order, OrderStatus
from tests.accounts.factories import StaffFactory, UserFactory
from tests.catalog.factories import VariantFactory
from tests.conftest import token_client
from tests.orders.factories import OrderFactory, order_place

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders/"


def _viewer():
    staff = StaffFactory()
    staff.user_permissions.set(Permission.objects.filter(codename="view_order"))
    return staff


def test_list_shows_own_orders_newest_first(user_client, user):
    mine = [OrderFactory(user=user) for _ in range(3)]
    OrderFactory()  # someone else's
    for age, order in enumerate(reversed(mine)):
        Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(days=age))
    data = user_client.get(URL).json()
    assert data["count"] == 3
    assert [o["number"] for o in data["results"]] == [o.number for o in reversed(mine)]


def test_staff_with_view_permission_see_all_orders():
    OrderFactory.create_batch(2)
    assert token_client(_viewer()).get(URL).json()["count"] == 2
    assert token_client(StaffFactory()).get(URL).json()["count"] == 0


def test_list_filters(user_client, user):
    old = OrderFactory(user=user, status=OrderStatus.PAID)
    new = OrderFactory(user=user)
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    paid = user_client.get(URL, {"status": "paid"}).json()["results"]
    assert [o["number"] for o in paid] == [old.number]
    since = (timezone.now() - timedelta(days=1)).isoformat()
    recent = user_client.get(URL, {"created_after": since}).json()["results"]
    assert [o["number"] for o in recent] == [new.number]
    before = user_client.get(URL, {"created_before": since}).json()["results"]
    assert [o["number"] for o in before] == [old.number]


@pytest.mark.parametrize(
    "params", [{"status": "lost"}, {"created_after": "yesterday"}, {"page_size": "x"}]
)
def test_bad_filters_are_400_not_500(user_client, params):
    response = user_client.get(URL, params)
    assert response.status_code in {200, 400}
    if response.status_code == 400:
        assert response.json()["code"] == "invalid"


def test_list_query_count_does_not_grow_with_orders_or_lines(
    user_client, user, django_assert_max_num_queries
):
    variants = VariantFactory.create_batch(3, stock=100)
    from orders.services import order_place as place
    from tests.orders.factories import ADDRESS

    for _ in range(15):
        place(
            user=user,
            lines=[{"sku": v.sku, "quantity": 1} for v in variants],
            shipping_address=ADDRESS,
        )
    with django_assert_max_num_queries(8):
        data = user_client.get(URL).json()
    assert data["count"] == 15
    assert all(len(o["lines"]) == 3 for o in data["results"])


def test_detail_shape_and_query_count(user_client, user, django_assert_max_num_queries):
    order = order_place(user=user, quantity=2)
    with django_assert_max_num_queries(6):
        response = user_client.get(f"{URL}{order.number}/")
    assert response.status_code == 200
    assert set(response.json()) == {
        "number",
        "status",
        "allowed_transitions",
        "currency",
        "lines",
        "subtotal",
        "discount_total",
        "shipping_method",
        "tax_total",
        "prices_include_tax",
        "voucher_code",
        "shipping_total",
        "total",
        "paid_total",
        "refunded_total",
        "shipping_address",
        "tracking_number",
        "refund_due",
        "note",
        "created_at",
        "updated_at",
    }


def test_someone_elses_order_is_404(user_client):
    order = OrderFactory(user=UserFactory())
    for path in ("", "events/"):
        response = user_client.get(f"{URL}{order.number}/{path}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    response = user_client.post(f"{URL}{order.number}/cancel/", {}, format="json")
    assert response.status_code == 404


def test_unknown_number_is_404(user_client):
    assert user_client.get(f"{URL}SR-NOPE/").status_code == 404


def test_events_query_count_is_bounded(user, django_assert_max_num_queries):
    order = order_place(user=user)
    staff = _viewer()
    staff.user_permissions.add(Permission.objects.get(codename="transition_order"))
    client = token_client(staff)
    client.post(f"{URL}{order.number}/mark-paid/")
    client.post(f"{URL}{order.number}/ship/", {"tracking_number": "T"}, format="json")
    with django_assert_max_num_queries(8):
        data = client.get(f"{URL}{order.number}/events/").json()
    assert [e["type"] for e in data["results"]] == ["placed", "paid", "shipment_created", "shipped"]


def test_anonymous_cannot_list(api_client):
    assert api_client.get(URL).status_code == 401


def test_list_filters_do_not_apply_to_detail_or_actions(user_client, user):
    order = order_place(user=user)
    assert user_client.get(f"{URL}{order.number}/", {"status": "paid"}).status_code == 200
    events = user_client.get(f"{URL}{order.number}/events/", {"status": "paid"})
    assert events.status_code == 200
    cancel = user_client.post(f"{URL}{order.number}/cancel/?status=paid", {}, format="json")
    assert cancel.status_code == 200
