"""Refunds give back what the customer paid (gross: discounts off, tax in) and report its tax.

The German cart (tests/pricing/conftest.py), gross prices: books 2 x 12.99
less 2.60 voucher = 23.38 (tax 1.53), headphones 53.91 (tax 8.61), DHL 4.90
(tax 0.78); paid 82.19 with 10.92 tax. Net prices: books 25.02 (tax 1.64),
headphones 64.15 (tax 10.24), DHL 4.90 + 0.93; paid 95.00 with 12.81 tax.
"""

from decimal import Decimal

import jsonschema
import pytest
from django.db import IntegrityError, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from orders.models import Order, Refund, RefundLine
from orders.services import order_transition
from pricing.engine import units_share
from tests.conftest import token_client
from tests.orders.test_fulfilment import _staff
from webhooks.catalogue import EVENT_TYPES

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


@pytest.fixture
def paid(german_cart, user_client):
    """The German order, paid; and a staff client allowed to refund it."""
    response = user_client.post(ORDERS, german_cart, format="json")
    assert response.status_code == 201, response.content
    order = Order.objects.get(number=response.json()["number"])
    order_transition(order=order, action="mark-paid", user=None)
    book, headphones = (line.sku for line in order.lines.order_by("id"))
    return order, book, headphones, token_client(_staff())


def _refund(client, order, body):
    return client.post(f"{ORDERS}{order.number}/refunds/", body, format="json")


def test_lines_are_refunded_at_what_was_paid_with_their_tax(paid):
    order, book, headphones, staff = paid
    one_book = _refund(staff, order, {"lines": [{"sku": book, "quantity": 1}]})
    assert one_book.status_code == 201, one_book.content
    body = one_book.json()
    # Half of 23.38 is 11.69; half of 1.53 is 0.765, rounded half up: 0.77.
    assert (body["amount"], body["tax"]) == ("11.69", "0.77")
    assert body["lines"] == [{"sku": book, "quantity": 1, "amount": "11.69", "tax": "0.77"}]

    other_book = _refund(staff, order, {"lines": [{"sku": book, "quantity": 1}]}).json()
    # The second unit takes what is left of the line: the parts add up to what it was paid.
    assert (other_book["amount"], other_book["tax"]) == ("11.69", "0.76")

    rest = _refund(
        staff, order, {"lines": [{"sku": headphones, "quantity": 1}], "include_shipping": True}
    ).json()
    assert (rest["amount"], rest["tax"]) == ("58.81", "9.39")
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == ("refunded", Decimal("82.19"))
    assert sum(r.tax for r in Refund.objects.filter(order=order)) == order.tax_total


def test_the_shipping_is_refunded_once(paid):
    order, _book, _headphones, staff = paid
    assert _refund(staff, order, {"include_shipping": True}).json()["amount"] == "4.90"
    again = _refund(staff, order, {"include_shipping": True})
    assert (again.status_code, again.json()["code"]) == (409, "over_refund")


def test_an_amount_carries_its_share_of_the_tax_and_the_rest_carries_what_is_left(paid):
    order, _book, _headphones, staff = paid
    goodwill = _refund(staff, order, {"amount": "10.00", "reason": "late"}).json()
    # 10.00 x 10.92 / 82.19 = 1.3286...
    assert (goodwill["amount"], goodwill["tax"], goodwill["lines"]) == ("10.00", "1.33", [])
    response = staff.post(f"{ORDERS}{order.number}/refund/", {"reason": "all"}, format="json")
    assert response.json()["status"] == "refunded"
    last = Refund.objects.filter(order=order).latest("id")
    assert (last.amount, last.tax, last.include_shipping) == (
        Decimal("72.19"),
        Decimal("9.59"),
        True,
    )


def test_with_net_prices_refunds_are_gross(german_cart, user_client, settings):
    settings.PRICES_INCLUDE_TAX = False
    response = user_client.post(ORDERS, german_cart, format="json")
    order = Order.objects.get(number=response.json()["number"])
    assert (order.total, order.tax_total) == (Decimal("95.00"), Decimal("12.81"))
    order_transition(order=order, action="mark-paid", user=None)
    staff = token_client(_staff())
    headphones = order.lines.order_by("id")[1].sku
    body = {"lines": [{"sku": headphones, "quantity": 1}], "include_shipping": True}
    refund = _refund(staff, order, body).json()
    # 64.15 (tax 10.24) and the shipping 4.90 + 0.93 tax.
    assert (refund["amount"], refund["tax"]) == ("69.98", "11.17")
    staff.post(f"{ORDERS}{order.number}/refund/", {}, format="json")
    last = Refund.objects.filter(order=order).latest("id")
    assert (last.amount, last.tax, last.include_shipping) == (
        Decimal("25.02"),
        Decimal("1.64"),
        False,
    )


def test_the_refund_events_carry_the_tax(paid):
    from webhooks.models import Event

    order, book, _headphones, staff = paid
    _refund(staff, order, {"lines": [{"sku": book, "quantity": 2}]})
    event = Event.objects.get(type="order.refund_created")
    jsonschema.validate(event.data, EVENT_TYPES["order.refund_created"][1])
    data = event.data["refund"]
    assert (data["amount"], data["tax"], data["lines"]) == (
        "23.38",
        "1.53",
        [{"sku": book, "quantity": 2, "amount": "23.38", "tax": "1.53"}],
    )


def test_the_database_refuses_a_tax_above_the_amount(paid):
    order, _book, _headphones, staff = paid
    refund = Refund.objects.get(pk=_refund(staff, order, {"amount": "1.00"}).json()["id"])
    with pytest.raises(IntegrityError), transaction.atomic():
        Refund.objects.filter(pk=refund.pk).update(tax=Decimal("1.01"))
    line = RefundLine.objects.create(refund=refund, order_line=order.lines.first(), quantity=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        RefundLine.objects.filter(pk=line.pk).update(amount=Decimal("1.00"), tax=Decimal("2.00"))


@settings(max_examples=200, deadline=None)
@given(
    amount=st.decimals(min_value=Decimal("0"), max_value=Decimal("10000"), places=2),
    splits=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=8),
)
def test_units_refunded_in_any_steps_add_up_to_the_line(amount, splits):
    of = sum(splits)
    before, parts = 0, []
    for units in splits:
        parts.append(units_share(amount, units=units, of=of, before=before))
        before += units
    assert sum(parts) == amount
    assert all(part >= 0 for part in parts)
    for units, part in zip(splits, parts, strict=True):
        assert abs(part - amount * units / of) <= Decimal("0.01")


def test_the_refund_email_names_the_amount_its_tax_and_the_lines(paid):
    from orders.emails import fulfilment_email_message

    order, book, _headphones, staff = paid
    body = {"lines": [{"sku": book, "quantity": 2}], "include_shipping": True}
    refund = _refund(staff, order, body).json()
    message = fulfilment_email_message(
        order_id=order.pk, kind="refund_succeeded", record_id=refund["id"]
    )
    assert message is not None
    product = order.lines.get(sku=book).product_name
    assert (
        f"we have refunded 28.28 EUR for your order {order.number}\n"
        "(tax included: 2.31 EUR).\n"
        f"  2 x {product} [{book}]  23.38 EUR\n"
        "  Shipping\n"
    ) in message.body


def test_the_order_page_in_the_back_office_shows_each_refund_with_its_tax(paid, client):
    from django.urls import reverse

    order, _book, _headphones, staff = paid
    refund = _refund(staff, order, {"include_shipping": True}).json()
    client.force_login(_staff())
    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert f"Refund {refund['id']}</td><td>4.90 EUR (tax 0.78), with shipping</td>" in page
