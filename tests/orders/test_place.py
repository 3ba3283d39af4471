"""POST orders/: placement, validation, stock, snapshots, totals, emails."""

from decimal import Decimal

import pytest
from django.core import mail

from accounts.models import Address
from catalog.models import StockMovement
from orders.models import Order, OrderEvent
from tests.accounts.factories import UserFactory
from tests.catalog.factories import VariantFactory
from tests.orders.factories import ADDRESS
from webhooks.models import Event

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders/"


def body(*lines, **extra):
    return {
        "lines": [{"sku": s, "quantity": q} for s, q in lines],
        "shipping_address": ADDRESS,
        **extra,
    }


def test_place_order_takes_stock_and_answers_the_order(
    user_client, user, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    a = VariantFactory(price=Decimal("19.90"), stock=5, name="Red / M")
    b = VariantFactory(price=Decimal("2.50"), stock=10)
    with django_capture_on_commit_callbacks(execute=True), django_assert_max_num_queries(30):
        response = user_client.post(URL, body((a.sku, 2), (b.sku, 1), (a.sku, 1)), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "pending_payment"
    assert data["number"].startswith("SR-") and len(data["number"]) == 13
    assert data["lines"] == [
        {
            "sku": a.sku,
            "product_name": a.product.name,
            "variant_name": "Red / M",
            "unit_price": "19.90",
            "quantity": 3,
            "discount": "0.00",
            "tax_rate": "0.00",
            "tax": "0.00",
            "line_total": "59.70",
            "quantity_shipped": 0,
            "quantity_returned": 0,
            "quantity_refunded": 0,
        },
        {
            "sku": b.sku,
            "product_name": b.product.name,
            "variant_name": b.name,
            "unit_price": "2.50",
            "quantity": 1,
            "discount": "0.00",
            "tax_rate": "0.00",
            "tax": "0.00",
            "line_total": "2.50",
            "quantity_shipped": 0,
            "quantity_returned": 0,
            "quantity_refunded": 0,
        },
    ]
    assert (data["subtotal"], data["shipping_total"], data["total"]) == ("62.20", "0.00", "62.20")
    assert data["currency"] == "EUR"
    assert data["shipping_address"] == ADDRESS
    assert data["allowed_transitions"] == ["cancel"]
    assert data["refund_due"] is False
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.stock, b.stock) == (2, 9)
    movements = StockMovement.objects.filter(order_number=data["number"])
    assert sorted(movements.values_list("kind", "delta")) == [
        ("order_placed", -3),
        ("order_placed", -1),
    ]
    order = Order.objects.get(number=data["number"])
    assert list(order.events.values_list("type", "to_status", "actor_kind")) == [
        ("placed", "pending_payment", "customer")
    ]
    assert Event.objects.filter(type="order.placed", data__number=order.number).count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    assert order.number in mail.outbox[0].subject
    assert a.sku in mail.outbox[0].body


def test_shipping_is_flat_below_the_free_threshold(user_client):
    variant = VariantFactory(price=Decimal("10.00"), stock=5)
    data = user_client.post(URL, body((variant.sku, 2)), format="json").json()
    assert (data["subtotal"], data["shipping_total"], data["total"]) == ("20.00", "4.90", "24.90")


def test_order_with_a_saved_address_copies_it(user_client, user):
    address = Address.objects.create(user=user, **ADDRESS)
    variant = VariantFactory(stock=5)
    response = user_client.post(
        URL,
        {"lines": [{"sku": variant.sku, "quantity": 1}], "address_id": address.pk},
        format="json",
    )
    assert response.status_code == 201
    Address.objects.filter(pk=address.pk).update(line1="Changed 1")
    order = Order.objects.get(number=response.json()["number"])
    assert order.shipping_address == ADDRESS


def test_someone_elses_address_is_rejected(user_client):
    other = Address.objects.create(user=UserFactory(), **ADDRESS)
    variant = VariantFactory(stock=5)
    response = user_client.post(
        URL, {"lines": [{"sku": variant.sku, "quantity": 1}], "address_id": other.pk}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "address_id" in response.json()["errors"]
    variant.refresh_from_db()
    assert variant.stock == 5


def test_unknown_and_unpublished_skus_are_keyed_by_line(user_client):
    good = VariantFactory(stock=5)
    hidden = VariantFactory(stock=5, product__is_published=False)
    response = user_client.post(
        URL, body((good.sku, 1), ("NOPE-1", 1), (hidden.sku, 1)), format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert set(response.json()["errors"]) == {"lines.1.sku", "lines.2.sku"}
    good.refresh_from_db()
    assert good.stock == 5
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("payload", "error_key"),
    [
        ({"lines": []}, "lines"),
        ({"lines": [{"sku": "X", "quantity": 0}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "X", "quantity": 1001}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "X"}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "X", "quantity": 1}], "note": "x" * 1001}, "note"),
    ],
)
def test_invalid_shapes_answer_400(user_client, payload, error_key):
    response = user_client.post(URL, {"shipping_address": ADDRESS, **payload}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert error_key in response.json()["errors"]


def test_address_is_required_and_exclusive(user_client, user):
    variant = VariantFactory(stock=5)
    lines = [{"sku": variant.sku, "quantity": 1}]
    missing = user_client.post(URL, {"lines": lines}, format="json")
    assert missing.status_code == 400
    address = Address.objects.create(user=user, **ADDRESS)
    both = user_client.post(
        URL, {"lines": lines, "address_id": address.pk, "shipping_address": ADDRESS}, format="json"
    )
    assert both.status_code == 400
    bad_country = user_client.post(
        URL, {"lines": lines, "shipping_address": {**ADDRESS, "country": "XX"}}, format="json"
    )
    assert bad_country.json()["errors"] == {
        "shipping_address.country": ["Not an ISO 3166-1 alpha-2 country code."]
    }


def test_line_cap_comes_from_the_setting(user_client, settings):
    settings.ORDER_MAX_LINES = 2
    variants = VariantFactory.create_batch(3, stock=5)
    response = user_client.post(URL, body(*[(v.sku, 1) for v in variants]), format="json")
    assert response.status_code == 400
    assert "lines" in response.json()["errors"]


def test_merged_quantity_over_the_cap_is_rejected(user_client):
    variant = VariantFactory(stock=5000)
    response = user_client.post(URL, body((variant.sku, 600), (variant.sku, 600)), format="json")
    assert response.status_code == 400
    assert "lines.0.quantity" in response.json()["errors"]


def test_insufficient_stock_lists_every_short_line_and_takes_nothing(
    user_client, django_capture_on_commit_callbacks
):
    a = VariantFactory(stock=5)
    b = VariantFactory(stock=1)
    c = VariantFactory(stock=0)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = user_client.post(URL, body((a.sku, 2), (b.sku, 3), (c.sku, 1)), format="json")
    assert response.status_code == 409
    assert response.json() == {
        "code": "insufficient_stock",
        "detail": "Not enough stock.",
        "shortages": [
            {"sku": b.sku, "requested": 3, "available": 1},
            {"sku": c.sku, "requested": 1, "available": 0},
        ],
    }
    a.refresh_from_db()
    assert a.stock == 5
    assert not Order.objects.exists()
    assert not OrderEvent.objects.exists()
    assert callbacks == []
    assert mail.outbox == []


def test_anonymous_cannot_place_orders(api_client):
    response = api_client.post(URL, body(("X", 1)), format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_order_prices_and_names_do_not_follow_catalog_edits(user_client):
    variant = VariantFactory(price=Decimal("10.00"), stock=5, name="Blue")
    number = user_client.post(URL, body((variant.sku, 1)), format="json").json()["number"]
    variant.price = Decimal("99.00")
    variant.name = "Renamed"
    variant.save(update_fields=["price", "name"])
    variant.product.name = "Other product"
    variant.product.save(update_fields=["name"])
    line = user_client.get(f"{URL}{number}/").json()["lines"][0]
    assert (line["unit_price"], line["variant_name"], line["line_total"]) == (
        "10.00",
        "Blue",
        "10.00",
    )
    assert line["product_name"] != "Other product"


def test_order_numbers_are_random_not_sequential(user_client):
    variant = VariantFactory(stock=5)
    first = user_client.post(URL, body((variant.sku, 1)), format="json").json()["number"]
    second = user_client.post(URL, body((variant.sku, 1)), format="json").json()["number"]
    assert first != second
    assert first[:-1] != second[:-1]


def test_deleting_a_product_in_orders_is_protected(user_client):
    variant = VariantFactory(stock=5)
    user_client.post(URL, body((variant.sku, 1)), format="json")
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        variant.product.delete()


class FailingMailBackend:
    attempts: list[str] = []  # the subjects it was asked to send

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        FailingMailBackend.attempts += [message.subject for message in messages]
        raise ConnectionRefusedError("smtp is down")


def test_a_mail_outage_does_not_fail_the_committed_order(
    user_client, settings, django_capture_on_commit_callbacks
):
    settings.MAILERS = {"default": {"BACKEND": "tests.orders.test_place.FailingMailBackend"}}
    FailingMailBackend.attempts = []
    variant = VariantFactory(stock=5)
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(URL, body((variant.sku, 1)), format="json")
    assert response.status_code == 201
    number = response.json()["number"]
    assert Order.objects.filter(number=number).exists()
    assert FailingMailBackend.attempts == [f"Order {number} received"], "the mail was never tried"


def test_a_clashing_random_order_number_is_drawn_again(user, monkeypatch):
    """Order numbers are random; a clash with an existing one must not become a 500."""
    from orders import services

    variant = VariantFactory(stock=5)
    first = services.order_place(
        user=user, lines=[{"sku": variant.sku, "quantity": 1}], shipping_address=ADDRESS
    )
    draws = iter([first.number, first.number, "SR-FRESHNUMBER"])
    monkeypatch.setattr(services, "order_number_generate", lambda: next(draws))
    second = services.order_place(
        user=user, lines=[{"sku": variant.sku, "quantity": 1}], shipping_address=ADDRESS
    )
    assert second.number == "SR-FRESHNUMBER"
