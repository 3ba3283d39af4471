from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Sum
from django.utils import timezone

from accounts.models import Address, User
from catalog.models import Category, Product, StockMovement, Variant
from orders.dashboard import orders_summary
from orders.models import Order, OrderEvent, OrderLine, OrderStatus


def _seed(**options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("seed_demo", stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def _snapshot() -> dict:
    """The dataset by natural keys (primary keys and timestamps aside)."""
    return {
        "categories": sorted(Category.objects.values_list("slug", "parent__slug")),
        "products": sorted(
            Product.objects.values_list(
                "slug", "name", "description", "category__slug", "is_published"
            )
        ),
        "variants": sorted(
            Variant.objects.values_list(
                "sku", "product__slug", "name", "attributes", "price", "stock"
            )
        ),
        "customers": sorted(User.objects.values_list("email", "first_name", "last_name")),
        "addresses": sorted(Address.objects.values_list("user__email", "line1", "city", "country")),
        "orders": sorted(
            Order.objects.values_list("number", "user__email", "status", "total", "refund_due")
        ),
        "lines": sorted(
            OrderLine.objects.values_list("order__number", "sku", "quantity", "unit_price")
        ),
        "movements": sorted(
            StockMovement.objects.values_list("variant__sku", "kind", "delta", "order_number")
        ),
    }


def _wipe() -> None:
    OrderLine.objects.all().delete()
    Order.objects.all().delete()
    StockMovement.objects.all().delete()
    Variant.objects.all().delete()
    Product.objects.all().delete()
    Category.objects.filter(parent__isnull=False).delete()
    Category.objects.all().delete()
    User.objects.all().delete()


@pytest.mark.django_db
def test_seed_builds_a_consistent_dataset_with_every_order_status():
    out, err = _seed(products=120, customers=15, orders=60, seed=11)

    assert out.strip() == (
        "Seed 11: 30 categories, 120 products, 15 customers (password 'stockroom-demo'), 60 orders."
    )
    for label in ("products", "customers", "orders"):
        assert f"{label}" in err and "100%" in err
    assert Product.objects.count() == 120
    assert Category.objects.filter(parent__isnull=True).count() == 8
    assert not Product.objects.filter(category__parent__isnull=True).exists(), "leaves only"
    assert User.objects.count() == 15 and Address.objects.count() == 15
    statuses = set(Order.objects.values_list("status", flat=True))
    assert statuses == set(OrderStatus.values)
    assert Order.objects.count() == 60
    # Every variant's stock is the sum of its ledger, and never below zero.
    ledger = dict(
        StockMovement.objects.values("variant").annotate(s=Sum("delta")).values_list("variant", "s")
    )
    for pk, stock in Variant.objects.values_list("pk", "stock"):
        assert stock == ledger.get(pk, 0) and stock >= 0
    reconcile = StringIO()
    call_command("stock_reconcile", stdout=reconcile)
    assert "Every variant's stock matches its ledger." in reconcile.getvalue()
    # Orders are consistent with their lines and have a history matching their status.
    for order in Order.objects.annotate(n=Count("lines")).prefetch_related("lines", "events"):
        assert order.n >= 1
        assert order.subtotal == sum(line.line_total for line in order.lines.all())
        assert order.total == order.subtotal + order.shipping_total
        assert (order.shipping_method_code, order.shipping_method_name) == (
            "standard",
            "Standard shipping",
        )
        events = list(order.events.all())
        assert events[0].type == "placed"
        assert events[-1].to_status == order.status
    assert OrderEvent.objects.filter(order__status="delivered", type="delivered").exists()
    cancelled_paid = Order.objects.filter(status="cancelled", refund_due=True)
    assert all(o.events.filter(type="paid").exists() for o in cancelled_paid)
    # History ends before now, and the dashboard's last 7 days have revenue to show.
    assert not OrderEvent.objects.filter(created_at__gt=timezone.now()).exists()
    assert orders_summary()["revenue_7d"] > 0


@pytest.mark.django_db
def test_the_demo_of_make_run_shows_revenue_in_the_last_7_days():
    _seed(products=50, customers=10, orders=30, seed=1)
    assert orders_summary()["revenue_7d"] > 0


@pytest.mark.django_db
def test_same_seed_same_data_other_seed_other_data():
    _seed(products=60, customers=8, orders=30, seed=5)
    first = _snapshot()
    _wipe()
    _seed(products=60, customers=8, orders=30, seed=5)
    assert _snapshot() == first
    _wipe()
    _seed(products=60, customers=8, orders=30, seed=6)
    assert _snapshot()["products"] != first["products"]


@pytest.mark.django_db
def test_refuses_a_database_that_already_has_products():
    _seed(products=5, customers=1, orders=0, seed=1)
    with pytest.raises(CommandError, match="already has products or orders"):
        _seed(products=5, customers=1, orders=0, seed=1)
    assert Product.objects.count() == 5


@pytest.mark.django_db
def test_bad_arguments_are_refused():
    with pytest.raises(CommandError, match=r"argument --products: invalid"):
        call_command("seed_demo", "--products=-3", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="Orders need products and customers"):
        _seed(products=0, customers=0, orders=5)


@pytest.mark.django_db
def test_demo_customers_can_log_in(api_client):
    _seed(products=3, customers=2, orders=0, seed=2)
    email = User.objects.order_by("email").values_list("email", flat=True)[0]
    response = api_client.post(
        "/api/v1/auth/login/", {"email": email, "password": "stockroom-demo"}, format="json"
    )
    assert response.status_code == 200


@pytest.mark.django_db
def test_orders_stop_when_stock_runs_out():
    out, err = _seed(products=2, customers=1, orders=3000, seed=4)

    made = Order.objects.count()
    assert 0 < made < 3000
    assert f"Stock ran out after {made} orders." in err
    assert out.strip().endswith(f"{made} orders.")
    for variant in Variant.objects.all():
        assert variant.stock >= 0
        assert variant.stock == (variant.movements.aggregate(s=Sum("delta"))["s"] or 0)
