import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from orders import services
from orders.models import Order
from tests.accounts.factories import UserFactory
from tests.catalog.factories import VariantFactory
from tests.orders.factories import ADDRESS


@pytest.fixture
def orders(db):
    """Three real orders: two lines, one line (then cancelled), one line (paid)."""
    shirt = VariantFactory(sku="SHIRT-M", name="M", price=Decimal("19.90"), stock=20)
    mug = VariantFactory(sku="MUG", name="", price=Decimal("7.50"), stock=20)
    alice, bob = UserFactory(email="alice@example.com"), UserFactory(email="bob@example.com")
    first = services.order_place(
        user=alice,
        lines=[{"sku": "SHIRT-M", "quantity": 2}, {"sku": "MUG", "quantity": 1}],
        shipping_address=ADDRESS,
    )
    second = services.order_place(
        user=bob, lines=[{"sku": "MUG", "quantity": 3}], shipping_address=ADDRESS
    )
    services.order_transition(order=second, action="cancel", user=bob)
    third = services.order_place(
        user=alice, lines=[{"sku": "SHIRT-M", "quantity": 1}], shipping_address=ADDRESS
    )
    services.order_transition(order=third, action="mark-paid", user=None)
    when = {first.pk: "2026-03-01T10:00:00Z", second.pk: "2026-03-15T23:59:59Z"}
    when[third.pk] = "2026-04-02T08:30:00Z"
    for pk, moment in when.items():
        Order.objects.filter(pk=pk).update(created_at=datetime.fromisoformat(moment))
    return [Order.objects.get(pk=o.pk) for o in (first, second, third)], (shirt, mug)


def _export(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("export_orders", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_csv_has_one_row_per_line_with_order_fields(orders):
    (first, second, third), _ = orders
    out, err = _export()

    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["order_number"], r["sku"]) for r in rows] == [
        (first.number, "SHIRT-M"),
        (first.number, "MUG"),
        (second.number, "MUG"),
        (third.number, "SHIRT-M"),
    ]
    shirt_row = rows[0]
    assert shirt_row == {
        "order_number": first.number,
        "status": "pending_payment",
        "created_at": "2026-03-01T10:00:00Z",
        "updated_at": first.updated_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "customer_email": "alice@example.com",
        "currency": "EUR",
        "subtotal": "47.30",
        "discount_total": "0.00",
        "voucher_code": "",
        "shipping_method": "standard",
        "shipping_total": "0.00" if first.subtotal >= Decimal("50") else "4.90",
        "tax_total": "0.00",
        "total": str(first.total),
        "prices_include_tax": "True",
        "refund_due": "False",
        "tracking_number": "",
        "shipping_city": "London",
        "shipping_postal_code": "N1 9GU",
        "shipping_country": "GB",
        "sku": "SHIRT-M",
        "product_name": shirt_row["product_name"],
        "variant_name": "M",
        "unit_price": "19.90",
        "quantity": "2",
        "promotion_discount": "0.00",
        "voucher_discount": "0.00",
        "tax_rate": "0.00",
        "tax": "0.00",
        "line_total": "39.80",
    }
    assert rows[2]["status"] == "cancelled"
    assert err.splitlines()[-1] == "Exported 4 lines of 3 orders to standard output."


@pytest.mark.django_db
def test_jsonl_to_a_file_with_filters(orders, tmp_path):
    (first, second, _third), _ = orders
    target = tmp_path / "march.jsonl"

    _, err = _export(
        "--format=jsonl", "--since=2026-03-01", "--until=2026-03-15", f"--output={target}"
    )

    records = [json.loads(line) for line in target.read_text().splitlines()]
    # --until with a date includes that whole day.
    assert [(r["order_number"], r["sku"], r["quantity"]) for r in records] == [
        (first.number, "SHIRT-M", 2),
        (first.number, "MUG", 1),
        (second.number, "MUG", 3),
    ]
    assert records[0]["unit_price"] == "19.90" and records[0]["refund_due"] is False
    assert f"to {target}." in err
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.django_db
def test_status_filter_repeated_or_comma_separated(orders):
    (first, second, third), _ = orders
    out, _ = _export("--status=paid,cancelled", "--format=jsonl")
    assert {json.loads(x)["order_number"] for x in out.splitlines()} == {
        second.number,
        third.number,
    }
    out, _ = _export("--status=paid", "--status=pending_payment", "--format=jsonl")
    assert {json.loads(x)["order_number"] for x in out.splitlines()} == {
        first.number,
        third.number,
    }
    out, _ = _export("--since=2026-04-02T08:30:00", "--until=2026-04-02T08:30:01")
    assert [r["order_number"] for r in csv.DictReader(io.StringIO(out))] == [third.number]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--status=lost"], "Unknown status lost"),
        (["--since=yesterday"], "'yesterday' is not a date"),
        (["--since=2026-02-30"], "'2026-02-30' is not a date"),
        (["--since=2026-03-02", "--until=2026-03-01"], "--since must be before --until"),
    ],
)
def test_bad_arguments_are_clear_errors(orders, args, message):
    with pytest.raises(CommandError, match=message):
        _export(*args)


@pytest.mark.django_db
def test_unwritable_output_is_a_clear_error(orders, tmp_path):
    with pytest.raises(CommandError, match="Cannot write"):
        _export(f"--output={tmp_path / 'missing-dir' / 'x.csv'}")


@pytest.mark.django_db
def test_streams_in_chunks_without_loading_every_row(orders, django_assert_max_num_queries):
    # One count, then the server-side cursor fetches chunks: no query per order or line.
    with django_assert_max_num_queries(3):
        out, _ = _export("--format=jsonl")
    assert len(out.splitlines()) == 4
