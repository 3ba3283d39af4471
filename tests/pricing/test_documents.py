"""What customers, accountants and receivers see of the price breakdown: emails, CSV, events.

The German cart (tests/pricing/conftest.py) with gross prices: books 23.38
(VAT 7 % 1.53), headphones 53.91 (VAT 19 % 8.61), voucher 8.59 off, DHL
4.90 (VAT 0.78); 82.19 in all, 10.92 of it tax.
"""

import csv
import io

import jsonschema
import pytest
from django.core.management import call_command

from orders.emails import order_email_message
from orders.models import Order
from webhooks.catalogue import EVENT_TYPES
from webhooks.models import Event

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


def _place(client, body, **extra):
    response = client.post(ORDERS, {**body, **extra}, format="json")
    assert response.status_code == 201, response.content
    return Order.objects.get(number=response.json()["number"])


def test_the_order_email_shows_the_price_breakdown(german_cart, user_client):
    order = _place(user_client, german_cart)
    message = order_email_message(order_id=order.pk, kind="placed")
    assert message is not None
    book, headphones = order.lines.order_by("id")
    summary = message.body.split("payment.\n\n", 1)[1].rsplit("\nStockroom", 1)[0]
    assert summary.splitlines() == [
        f"  2 x {book.product_name} ({book.variant_name}) [{book.sku}]  23.38 EUR",
        "      12.99 each, discount -2.60; tax 7.00%: 1.53",
        f"  1 x {headphones.product_name} ({headphones.variant_name}) [{headphones.sku}]"
        "  53.91 EUR",
        "      59.90 each, discount -5.99; tax 19.00%: 8.61",
        "",
        "  Subtotal: 85.88 EUR",
        "  Discount: -8.59 EUR (voucher WILLKOMMEN10)",
        "  Shipping: 4.90 EUR (DHL Paket)",
        "  Total:    82.19 EUR",
        "  Tax included in the total: 10.92 EUR",
    ]


def test_with_net_prices_the_email_adds_the_tax_before_the_total(
    german_cart, user_client, settings
):
    # Books 25.98 + 7 % (1.82), headphones 59.90 + 19 % (11.38), DHL 4.90 + 19 % (0.93).
    settings.PRICES_INCLUDE_TAX = False
    german_cart.pop("voucher_code")
    order = _place(user_client, german_cart)
    message = order_email_message(order_id=order.pk, kind="paid")
    assert message is not None
    assert "Discount" not in message.body
    assert "  Tax:      14.13 EUR\n  Total:    104.91 EUR" in message.body


def test_the_csv_export_carries_each_amount_the_order_was_priced_with(german_cart, user_client):
    order = _place(user_client, german_cart)
    out = io.StringIO()
    call_command("export_orders", stdout=out, stderr=io.StringIO())
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    order_fields = ("discount_total", "voucher_code", "shipping_method", "shipping_total")
    assert {tuple(row[k] for k in order_fields) for row in rows} == {
        ("8.59", "WILLKOMMEN10", "dhl", "4.90")
    }
    assert {(row["tax_total"], row["total"], row["prices_include_tax"]) for row in rows} == {
        ("10.92", "82.19", "True")
    }
    line_fields = ("sku", "promotion_discount", "voucher_discount", "tax_rate", "tax", "line_total")
    book, headphones = order.lines.order_by("id")
    assert [tuple(row[k] for k in line_fields) for row in rows] == [
        (book.sku, "0.00", "2.60", "7.00", "1.53", "23.38"),
        (headphones.sku, "0.00", "5.99", "19.00", "8.61", "53.91"),
    ]


def test_every_order_event_matches_its_published_schema(german_cart, user_client):
    order = _place(user_client, german_cart)
    user_client.post(f"{ORDERS}{order.number}/cancel/", {}, format="json")
    events = {e.type: e.data for e in Event.objects.filter(type__startswith="order.")}
    assert sorted(events) == ["order.cancelled", "order.placed"]
    for type, data in events.items():
        jsonschema.validate(data, EVENT_TYPES[type][1])
    placed = events["order.placed"]
    assert {k: placed[k] for k in ("discount_total", "tax_total", "voucher_code")} == {
        "discount_total": "8.59",
        "tax_total": "10.92",
        "voucher_code": "WILLKOMMEN10",
    }
    assert [(x["discount"], x["tax_rate"], x["tax"]) for x in placed["lines"]] == [
        ("2.60", "7.00", "1.53"),
        ("5.99", "19.00", "8.61"),
    ]
