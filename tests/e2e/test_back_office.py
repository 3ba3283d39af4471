"""The back office in a real browser, from a new product to a shipped order."""

import re
from typing import Any

import pytest
from django.contrib.auth.models import Group

from accounts.roles import roles_setup
from catalog.models import StockMovement, Variant
from orders.services import order_place
from tests.accounts.factories import DEFAULT_PASSWORD, StaffFactory, UserFactory
from tests.catalog.factories import VariantFactory

pytestmark = pytest.mark.slow

ADDRESS = {
    "full_name": "Grace Hopper",
    "line1": "1 Compiler Way",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}


def _staff(role: str) -> Any:
    staff = StaffFactory()
    staff.groups.set([Group.objects.get(name=role)])
    return staff


def _log_in(page: Any, user: Any) -> None:
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    assert "Stockroom back office" in page.inner_text("#site-name")


def _expect_message(page: Any, text: str) -> None:
    message = page.locator("ul.messagelist li").first
    message.wait_for()
    assert text in message.inner_text(), message.inner_text()


def _timeline(page: Any) -> list[str]:
    return list(page.locator("#order-timeline tr.event td:nth-child(2)").all_inner_texts())


def _run_action(page: Any, number: str, action: str) -> None:
    page.locator("tr", has_text=number).locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


@pytest.fixture
def roles(transactional_db: Any) -> None:
    roles_setup(warn=lambda message: None)


def test_from_new_product_to_shipped_order(roles, new_page, screens, live_server):
    catalog_manager = _staff("Catalog manager")
    order_manager = _staff("Order manager")
    customer = UserFactory()

    # A Catalog manager creates a category, a product with a variant, and stocks it.
    page = new_page()
    _log_in(page, catalog_manager)
    screens.watch("catalog-dashboard", page, "/admin/")
    page.goto("/admin/catalog/category/add/")
    page.fill("#id_name", "E2E Shoes")
    page.fill("#id_slug", "e2e-shoes")
    page.click("input[name=_save]")
    _expect_message(page, "E2E Shoes")

    page.goto("/admin/catalog/product/add/")
    page.fill("#id_name", "E2E Trail runner")
    page.fill("#id_slug", "e2e-trail-runner")
    page.click(".field-category .select2-selection")
    page.fill(".select2-search__field", "E2E")
    page.click(".select2-results__option:has-text('E2E Shoes')")
    page.check("#id_is_published")
    page.click("#variants-group .add-row a")
    page.fill("#id_variants-0-sku", "E2E-RUN-42")
    page.fill("#id_variants-0-name", "Size 42")
    page.fill("#id_variants-0-attributes", '{"size": "42"}')
    page.fill("#id_variants-0-price", "59.90")
    page.click("input[name=_continue]")
    _expect_message(page, "E2E Trail runner")

    page.click("#variants-group a:has-text('Adjust stock')")
    page.fill("#id_delta", "10")
    page.fill("#id_reason", "First delivery")
    page.click("input[value='Adjust stock']")
    _expect_message(page, "Stock of E2E-RUN-42 is now 10")

    # A customer orders it through the API.
    api = page.context.request
    login = api.post(
        "/api/v1/auth/login/", data={"email": customer.email, "password": DEFAULT_PASSWORD}
    )
    assert login.status == 200, login.text()
    auth = {"Authorization": f"Token {login.json()['token']}"}
    placed = api.post(
        "/api/v1/orders/",
        data={"lines": [{"sku": "E2E-RUN-42", "quantity": 2}], "shipping_address": ADDRESS},
        headers=auth,
    )
    assert placed.status == 201, placed.text()
    number = placed.json()["number"]
    assert Variant.objects.get(sku="E2E-RUN-42").stock == 8

    # An Order manager sees it on the dashboard, finds it, marks it paid and ships it.
    page = new_page()
    _log_in(page, order_manager)
    screens.watch("dashboard", page, "/admin/")
    assert number in page.inner_text("#latest-orders")
    page.goto("/admin/orders/order/")
    page.fill("#searchbar", number)
    page.press("#searchbar", "Enter")
    page.wait_for_url(re.compile(r"q="))
    _run_action(page, number, "mark_paid")
    _expect_message(page, f"done for 1 order(s): {number}")
    _run_action(page, number, "ship")
    page.fill("#id_tracking_number", "TRACK-E2E-0042")
    page.click("input[name=apply]")
    _expect_message(page, f"done for 1 order(s): {number}")

    page.click(f"#result_list a:has-text('{number}')")
    screens.watch("order", page, page.url)
    assert "TRACK-E2E-0042" in page.inner_text("#order-summary")
    assert [e.strip() for e in _timeline(page)] == ["placed", "paid", "shipment_created", "shipped"]
    actors = page.locator("#order-timeline tr.event td:nth-child(4)").all_inner_texts()
    assert all(order_manager.email in actor for actor in actors[1:])

    # The customer's API shows it shipped with that tracking number.
    shown = api.get(f"/api/v1/orders/{number}/", headers=auth)
    assert shown.status == 200
    assert shown.json()["status"] == "shipped"
    assert shown.json()["tracking_number"] == "TRACK-E2E-0042"


def test_support_is_refused_the_product_change_form(roles, new_page, screens):
    variant = VariantFactory(price="10.00", stock=3)
    support = _staff("Support")

    page = new_page()
    _log_in(page, support)
    screens.watch("support-dashboard", page, "/admin/")
    response = page.goto(f"/admin/catalog/product/{variant.product_id}/change/")

    assert response is not None and response.status == 403
    assert page.locator("input[name=_save]").count() == 0


def _work(page: Any, button: str, fields: dict[str, str], checks: tuple[str, ...] = ()) -> None:
    """Click a work-page button, fill its small form, submit it, and expect success."""
    page.click(button)
    page.wait_for_selector("#work-form")
    for name, value in fields.items():
        page.fill(f"#work-form [name={name}]", value)
    for name in checks:
        page.check(f"#work-form [name={name}]")
    page.click("#work-form input[type=submit]")
    _expect_message(page, "done")


def test_order_page_ships_in_two_parts_takes_a_return_and_refunds(roles, new_page, screens):
    order_manager = _staff("Order manager")
    variants = [VariantFactory(price="8.00", stock=10) for _ in range(3)]
    order = order_place(
        user=UserFactory(),
        lines=[{"sku": v.sku, "quantity": 1} for v in variants],
        shipping_address=ADDRESS,
    )
    line = {item.sku: item.pk for item in order.lines.all()}
    a, b, c = (v.sku for v in variants)

    page = new_page()
    _log_in(page, order_manager)
    page.goto(f"/admin/orders/order/{order.pk}/change/")
    screens.watch("work-page", page, page.url)
    assert page.locator("input[name=_save]").count() == 0
    assert page.locator("#act-create-shipment").count() == 0  # not paid yet
    _work(page, "#act-mark-paid", {})
    _work(
        page,
        "#act-create-shipment",
        {"tracking_number": "T-1", f"line_{line[a]}": "1", f"line_{line[b]}": "1"},
    )
    assert "Partially shipped" in page.inner_text("#order-status")
    _work(page, "#act-create-shipment", {"tracking_number": "T-2", f"line_{line[c]}": "1"})
    assert "Shipped" in page.inner_text("#order-status")

    _work(page, "#act-request-return", {f"line_{line[a]}": "1", "reason": "too small"})
    return_id = order.returns.get().pk
    _work(page, f"#return-{return_id}-approve", {})
    _work(page, f"#return-{return_id}-receive", {})
    _work(page, "#act-create-refund", {f"line_{line[a]}": "1", "reason": "returned"})

    row = page.locator(f"#order-lines tr[data-sku='{a}']")
    assert [row.locator(f"td.{k}").inner_text() for k in ("shipped", "returned", "refunded")] == [
        "1",
        "1",
        "1",
    ]
    assert "8.00" in page.inner_text("#order-refunded")
    assert [e.strip() for e in _timeline(page)] == [
        "placed",
        "paid",
        "shipment_created",
        "partially_shipped",
        "shipment_created",
        "shipped",
        "return_requested",
        "return_approved",
        "return_received",
        "refund_created",
    ]
    assert Variant.objects.get(sku=a).stock == 10  # sold one, got it back
    assert StockMovement.objects.filter(variant__sku=a, kind="return_restock", delta=1).exists()
