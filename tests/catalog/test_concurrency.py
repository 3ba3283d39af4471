"""Real threads against PostgreSQL: stock never oversells and takes never deadlock."""

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from catalog.exceptions import InsufficientStock
from catalog.models import StockMovement
from catalog.services import stock_return, stock_take
from tests.catalog.factories import VariantFactory

pytestmark = pytest.mark.django_db(transaction=True)


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
