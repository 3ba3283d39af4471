"""Every main back-office page at 1400 px: a screenshot each, and no table header narrower
than its own text (a header that wraps letter by letter, or a clipped column title)."""

from pathlib import Path
from typing import Any

import pytest

from accounts.roles import roles_setup
from catalog.models import Variant
from tests.accounts.factories import StaffFactory, UserFactory
from tests.catalog.factories import VariantFactory
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_back_office import _log_in
from tests.orders.factories import order_place

pytestmark = pytest.mark.slow

WIDTH, HEIGHT = 1400, 900

# For each header cell: its text's width on one line against the room the cell gives it,
# and whether it lies outside the box that scrolls it (clipped at 1400 px).
NARROW_HEADERS = """
() => {
  const probe = document.createElement('span');
  probe.style.cssText = 'position:absolute;visibility:hidden;white-space:nowrap';
  document.body.appendChild(probe);
  const narrow = [];
  for (const th of document.querySelectorAll('th')) {
    const text = th.innerText.trim();
    if (!text || th.offsetParent === null || th.closest('.visually-hidden')) continue;
    const style = getComputedStyle(th);
    probe.style.font = style.font;
    probe.style.textTransform = style.textTransform;
    probe.style.letterSpacing = style.letterSpacing;
    probe.textContent = text;
    const room = th.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    if (probe.getBoundingClientRect().width > room + 1) {
      const needs = Math.round(probe.getBoundingClientRect().width);
      narrow.push(`${text} (${needs} > ${Math.round(room)})`);
    }
    // Clipped: the cell reaches past the box that scrolls or hides it.
    for (let box = th.parentElement; box && box !== document.body; box = box.parentElement) {
      if (getComputedStyle(box).overflowX !== 'visible') {
        if (th.getBoundingClientRect().right > box.getBoundingClientRect().right + 1) {
          narrow.push(`${text} (clipped)`);
        }
        break;
      }
    }
  }
  probe.remove();
  return narrow;
}
"""


@pytest.fixture
def shop(transactional_db: Any) -> dict[str, Any]:
    roles_setup(warn=lambda message: None)
    variant = VariantFactory(sku="LAYOUT-SHIRT-XL-NAVY", stock=3)
    VariantFactory(product=variant.product, sku="LAYOUT-SHIRT-M", stock=40)
    customer = UserFactory(email="a.rather.long.customer.address@example.com")
    order = order_place(user=customer, variant=Variant.objects.get(sku="LAYOUT-SHIRT-M"))
    return {"variant": variant, "order": order}


def test_main_pages_fit_their_headers_at_1400px(shop, new_page, screens):
    superuser = StaffFactory(is_superuser=True)
    page = new_page()
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    _log_in(page, superuser)
    variant, order = shop["variant"], shop["order"]
    pages = {
        "dashboard": "/admin/",
        "orders": "/admin/orders/order/",
        "order": f"/admin/orders/order/{order.pk}/change/",
        "products": "/admin/catalog/product/",
        "product": f"/admin/catalog/product/{variant.product.pk}/change/",
        "variants": "/admin/catalog/variant/",
        "variant": f"/admin/catalog/variant/{variant.pk}/change/",
        "adjust-stock": f"/admin/catalog/variant/{variant.pk}/adjust-stock/",
        "stock-movements": "/admin/catalog/stockmovement/",
        "categories": "/admin/catalog/category/",
        "users": "/admin/accounts/user/",
        "webhook-endpoints": "/admin/webhooks/endpoint/",
    }
    shots = Path(ARTIFACTS) / "admin-1400"
    shots.mkdir(parents=True, exist_ok=True)
    problems = {}
    for name, url in pages.items():
        response = page.goto(url)
        assert response is not None and response.status == 200, (name, url)
        screens.watch(name, page, url)
        page.screenshot(path=shots / f"{name}.png", full_page=True)
        narrow = page.evaluate(NARROW_HEADERS)
        # A field row whose label says nothing (":"), and breadcrumbs Django does not style.
        narrow += [
            f"empty label {text!r}"
            for text in page.locator(".form-row label").all_inner_texts()
            if text.strip() in {"", ":"}
        ]
        narrow += ["unstyled breadcrumbs"] * page.locator("div.breadcrumbs").count()
        if narrow:
            problems[name] = narrow
    assert problems == {}
