"""Real threads against PostgreSQL: stock never oversells and takes never deadlock."""

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from catalog.admin import ProductAdmin
from catalog.exceptions import InsufficientStock
from catalog.models import StockMovement
from catalog.services import stock_return, stock_take, variants_lock
from tests.accounts.factories import StaffFactory
from tests.catalog.factories import VariantFactory

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until_blocked(count: int) -> None:
    """Until `count` other backends of this database wait for a lock (pg_locks), 30 s at most."""
    import time

    deadline = time.monotonic() + 30
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                # Row locks are waited for as transactionid locks, which name no database.
                "SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a "
                "ON a.pid = l.pid WHERE NOT l.granted AND a.datname = current_database()"
            )
            if cursor.fetchone()[0] >= count:
                return
            assert time.monotonic() < deadline, f"{count} backends never blocked"
            time.sleep(0.02)


def run_threads(workers: list[Callable[[], str]]) -> Counter[str]:
    """Start all workers at once (a barrier); return how many ended with each outcome."""
    barrier = threading.Barrier(len(workers))
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(work: Callable[[], str]) -> None:
        try:
            barrier.wait(timeout=30)
            outcome = work()
        except Exception as error:  # noqa: BLE001 - any other failure is the test's finding
            outcome = f"{type(error).__name__}: {error}"
        finally:
            connection.close()
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def test_fifty_buyers_of_twenty_units_exactly_twenty_succeed():
    variant = VariantFactory(stock=20)

    def buy() -> str:
        try:
            stock_take(quantities={variant.pk: 1}, order_number="SR-RACE")
        except InsufficientStock:
            return "short"
        return "taken"

    outcomes = run_threads([buy] * 50)

    assert outcomes == Counter(taken=20, short=30)
    variant.refresh_from_db()
    assert variant.stock == 0
    ledger = StockMovement.objects.filter(variant=variant).values_list("delta", flat=True)
    assert sum(ledger) == 0
    assert sorted(ledger).count(-1) == 20


def test_multi_line_takes_in_opposite_orders_never_deadlock():
    a = VariantFactory(sku="A", stock=1000)
    b = VariantFactory(sku="B", stock=1000)
    c = VariantFactory(sku="C", stock=1000)

    def take(order: list[Any]) -> Callable[[], str]:
        def work() -> str:
            for _ in range(3):
                # Dicts keep insertion order: each worker names the lines in its own order.
                stock_take(quantities={v.pk: 1 for v in order}, order_number="SR-X")
                stock_return(
                    quantities={v.pk: 1 for v in reversed(order)},
                    kind="order_cancelled",
                    order_number="SR-X",
                )
                stock_take(quantities={v.pk: 2 for v in order}, order_number="SR-Y")
            return "ok"

        return work

    orders = [[a, b, c], [c, b, a], [b, c, a], [a, c, b]]
    outcomes = run_threads([take(orders[i % 4]) for i in range(12)])

    assert outcomes == Counter(ok=12)
    for variant in (a, b, c):
        variant.refresh_from_db()
        assert variant.stock == 1000 - 12 * 3 * 2
        assert variant.stock == sum(variant.movements.values_list("delta", flat=True))


def _crossed_products() -> tuple[Any, Any, list[Any]]:
    """Two products whose variants interleave: variant order differs from product order."""
    from tests.catalog.factories import ProductFactory

    first, second = ProductFactory(), ProductFactory()
    assert first.pk < second.pk
    # Variant ids: a (second), b (first), c (first), d (second).
    variants = [VariantFactory(product=p, stock=1) for p in (second, first, first, second)]
    return first, second, variants


def test_selling_out_variants_of_the_same_products_never_deadlocks():
    """The in_stock trigger updates product rows; they are locked in product order first.

    T1 sells out a and b (the UPDATE meets products second, then first), T2
    sells out c and d (first, then second). A third transaction holds both
    products so that T1 and T2 queue up together; when it lets go, each must
    wait for the other in product order instead of deadlocking.
    """
    from django.db import connections, transaction

    from catalog.models import Product

    first, second, (a, b, c, d) = _crossed_products()
    holder_ready, release = threading.Event(), threading.Event()

    def hold() -> str:
        with transaction.atomic():
            locked = Product.objects.select_for_update().filter(pk__in=[first.pk, second.pk])
            list(locked.order_by("pk").values_list("pk", flat=True))
            holder_ready.set()
            release.wait(timeout=30)
        return "held"

    def sell(*variants: Any) -> Callable[[], str]:
        def work() -> str:
            holder_ready.wait(timeout=30)
            stock_take(quantities={v.pk: 1 for v in variants}, order_number="SR-FLIP")
            return "sold"

        return work

    def let_go() -> str:
        holder_ready.wait(timeout=30)
        wait_until_blocked(2)  # both sellers queue up on the held rows
        release.set()
        return "released"

    outcomes = run_threads([hold, sell(a, b), sell(c, d), let_go])
    connections.close_all()

    assert outcomes == Counter(held=1, sold=2, released=1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT bool_or(in_stock) FROM catalog_product WHERE id IN (%s, %s)",
            [first.pk, second.pk],
        )
        assert cursor.fetchone() == (False,)  # both sold out, both flags follow


def test_deleting_a_variant_while_the_last_unit_of_another_sells_keeps_the_flag_right():
    """Both writers recompute the product's in_stock; they take the product in turn."""
    from django.db import connections, transaction

    from catalog.models import Product
    from catalog.services import variant_delete
    from tests.catalog.factories import ProductFactory

    product = ProductFactory()
    spare, last = VariantFactory(product=product, stock=5), VariantFactory(product=product, stock=1)
    holder_ready, release = threading.Event(), threading.Event()

    def hold() -> str:
        with transaction.atomic():
            list(Product.objects.select_for_update().filter(pk=product.pk).values_list("pk"))
            holder_ready.set()
            release.wait(timeout=30)
        return "held"

    def sell() -> str:
        holder_ready.wait(timeout=30)
        stock_take(quantities={last.pk: 1}, order_number="SR-LAST")
        return "sold"

    def delete() -> str:
        holder_ready.wait(timeout=30)
        variant_delete(variant=spare)
        return "deleted"

    def let_go() -> str:
        holder_ready.wait(timeout=30)
        wait_until_blocked(2)  # the seller and the deleter queue up on the product
        release.set()
        return "released"

    outcomes = run_threads([hold, sell, delete, let_go])
    connections.close_all()

    assert outcomes == Counter(held=1, sold=1, deleted=1, released=1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT in_stock FROM catalog_product WHERE id = %s", [product.pk])
        assert cursor.fetchone() == (False,)


def test_an_admin_product_save_and_a_sell_out_of_its_variant_never_deadlock(monkeypatch):
    """The admin writes the product, then its variants (whose triggers write the product):
    it locks the variants first, as a sale does, so the two cannot wait for each other."""
    superuser = StaffFactory(is_superuser=True)
    variant = VariantFactory(stock=1)
    product = variant.product
    variant_locked, product_written = threading.Event(), threading.Event()
    save_formset = ProductAdmin.save_formset

    def after_the_product(self, request, form, formset, change):
        product_written.set()
        save_formset(self, request, form, formset, change)

    monkeypatch.setattr(ProductAdmin, "save_formset", after_the_product)

    def sell_out() -> str:
        with transaction.atomic():
            locked = variants_lock(skus=[variant.sku])
            variant_locked.set()
            product_written.wait(timeout=1)  # the admin writes the product meanwhile, if it can
            stock_take(quantities={variant.pk: 1}, order_number="SR-1", locked=locked)
        return "sold"

    def edit() -> str:
        variant_locked.wait(timeout=10)
        client = Client()
        client.force_login(superuser)
        response = client.post(
            reverse("admin:catalog_product_change", args=[product.pk]),
            {
                "name": "Renamed",
                "slug": product.slug,
                "category": product.category_id,
                "tax_class": product.tax_class_id,
                "is_published": "on",
                "variants-TOTAL_FORMS": 1,
                "variants-INITIAL_FORMS": 1,
                "variants-0-id": variant.pk,
                "variants-0-product": product.pk,
                "variants-0-sku": variant.sku,
                "variants-0-attributes": "{}",
                "variants-0-price": "8.00",
                "variants-0-weight_grams": "0",
            },
        )
        return str(response.status_code)

    assert run_threads([sell_out, edit]) == Counter({"sold": 1, "302": 1})
    variant.refresh_from_db()
    product.refresh_from_db()
    assert (variant.stock, str(variant.price), product.name) == (0, "8.00", "Renamed")
