"""Every CSV the project writes neutralises text a spreadsheet would run as a formula."""

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.http import StreamingHttpResponse
from django.test import Client

from core.csv_export import FORMULA_PREFIXES, CsvWriter, csv_cell, csv_lines
from orders.models import Order
from tests.accounts.factories import UserFactory
from tests.catalog.factories import ProductFactory, VariantFactory
from tests.orders.factories import order_place

PREFIXES = pytest.mark.parametrize(
    "prefix", FORMULA_PREFIXES, ids=["equals", "plus", "minus", "at", "tab", "cr"]
)


def test_every_prefix_the_owasp_list_names_is_neutralised():
    assert set(FORMULA_PREFIXES) == {"=", "+", "-", "@", "\t", "\r"}


@PREFIXES
def test_text_starting_like_a_formula_gets_a_leading_quote(prefix):
    assert csv_cell(f"{prefix}SUM(A1)") == f"'{prefix}SUM(A1)"


@pytest.mark.parametrize("text", ["", "plain", "a=b", "x-1", "'=already", " =1"])
def test_other_text_is_written_as_it_is(text):
    assert csv_cell(text) == text


def test_numbers_stay_numbers_even_when_negative():
    handle = io.StringIO()
    CsvWriter(handle, lineterminator="\n").writerow([Decimal("-5.00"), -3, -1.5, "-3", None])
    assert handle.getvalue() == "-5.00,-3,-1.5,'-3,\n"


def test_streamed_lines_are_neutralised_row_by_row():
    assert list(csv_lines([["a", "=1"], ["@x", 2]])) == ["a,'=1\r\n", "'@x,2\r\n"]


def _hostile_order(prefix: str) -> Order:
    variant = VariantFactory(stock=5, product__name=f"{prefix}product", name=f"{prefix}variant")
    order = order_place(user=UserFactory(email=f"{prefix}buyer@example.com"), variant=variant)
    Order.objects.filter(pk=order.pk).update(
        shipping_city=f"{prefix}city", shipping_postal_code=f"{prefix}1"
    )
    return order


def _assert_neutralised(row: dict[str, str], prefix: str) -> None:
    assert row["customer_email"] == f"'{prefix}buyer@example.com"
    assert row["shipping_city"] == f"'{prefix}city"
    assert row["shipping_postal_code"] == f"'{prefix}1"
    assert row["product_name"] == f"'{prefix}product"
    assert row["variant_name"] == f"'{prefix}variant"
    assert row["unit_price"] == "10.00"  # ours, a number: left alone


@pytest.mark.django_db
@PREFIXES
def test_export_orders_command_neutralises_customer_text(prefix):
    _hostile_order(prefix)
    out = io.StringIO()
    call_command("export_orders", stdout=out, stderr=io.StringIO())

    (row,) = csv.DictReader(io.StringIO(out.getvalue(), newline=""))
    _assert_neutralised(row, prefix)


@pytest.mark.django_db
def test_export_orders_jsonl_keeps_the_raw_values():
    _hostile_order("=")
    out = io.StringIO()
    call_command("export_orders", "--format", "jsonl", stdout=out, stderr=io.StringIO())
    assert '"customer_email": "=buyer@example.com"' in out.getvalue()
    assert '"unit_price": "10.00"' in out.getvalue()


@pytest.fixture
def admin_client(superuser) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


def _download(client: Client, url: str, pk: int) -> str:
    response = client.post(url, {"action": "export_csv", "_selected_action": [pk]})
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode()


@pytest.mark.django_db
@PREFIXES
def test_order_admin_export_neutralises_customer_text(admin_client, prefix):
    order = _hostile_order(prefix)
    body = _download(admin_client, "/admin/orders/order/", order.pk)

    (row,) = csv.DictReader(io.StringIO(body, newline=""))
    _assert_neutralised(row, prefix)


@pytest.mark.django_db
@PREFIXES
def test_product_admin_export_neutralises_product_text(admin_client, prefix):
    product = ProductFactory(name=f"{prefix}name", slug="tee", category__slug="shirts")
    VariantFactory(product=product, price="5.00", stock=2)
    body = _download(admin_client, "/admin/catalog/product/", product.pk)

    (row,) = csv.DictReader(io.StringIO(body, newline=""))
    assert row["name"] == f"'{prefix}name"
    assert (row["slug"], row["min_price"], row["stock"]) == ("tee", "5.00", "2")
