"""Moves in the category tree never close a loop, however they interleave.

Real threads against PostgreSQL. Each mover is shown to wait on the tree lock in
pg_locks (not by timing) before the lock is released.
"""

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import IntegrityError, connection, transaction

from catalog import services
from catalog.db import CATEGORY_TREE_LOCK_SQL
from catalog.models import Category
from core.errors import FieldInvalid
from tests.catalog.factories import CategoryFactory

pytestmark = pytest.mark.django_db(transaction=True)

LOOP = "cannot be moved under its own descendant"


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _tree_lock_waiters() -> set[int]:
    """Backends of this database waiting for a two-key advisory lock (the tree lock)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2"
            " AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        return {pid for (pid,) in cursor.fetchall()}


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll until `condition` holds; the deadline only ends a test that hangs."""
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.01)


def _parents() -> dict[int, int | None]:
    return dict(Category.objects.values_list("pk", "parent_id"))


def _assert_no_cycle() -> None:
    parents = _parents()
    for start in parents:
        seen: set[int] = set()
        node: int | None = start
        while node is not None:
            assert node not in seen, f"cycle through category {node}"
            seen.add(node)
            node = parents[node]


class _TreeHolder:
    """Holds the tree lock on its own connection until `release()`."""

    def __init__(self) -> None:
        self._held, self._release = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(CATEGORY_TREE_LOCK_SQL)
                self._held.set()
                self._release.wait(timeout=60)
        finally:
            connection.close()

    def __enter__(self) -> "_TreeHolder":
        self._thread.start()
        assert self._held.wait(timeout=30)
        return self

    def release(self) -> None:
        self._release.set()

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._thread.join(timeout=60)


def _run_blocked(works: list[Callable[[], str]]) -> Counter[str]:
    """Start `works` at once (a barrier) while the tree is held; check in pg_locks that
    every one waits for the tree lock; release; return how many ended with each outcome."""
    barrier = threading.Barrier(len(works))
    pids: set[int] = set()
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(work: Callable[[], str]) -> None:
        try:
            with lock:
                pids.add(_backend_pid())
            barrier.wait(timeout=30)
            outcome = work()
        except Exception as error:  # noqa: BLE001 - any other failure is the test's finding
            outcome = f"{type(error).__name__}: {error}"
        finally:
            connection.close()
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=run, args=(work,)) for work in works]
    with _TreeHolder() as holder:
        for thread in threads:
            thread.start()
        _wait_for(
            lambda: len(pids) == len(works) and pids <= _tree_lock_waiters(),
            "every mover waiting for the tree lock",
        )
        holder.release()
        for thread in threads:
            thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def _service_move(category: Category, parent: Category) -> Callable[[], str]:
    def move() -> str:
        try:
            services.category_update(category=category, data={"parent": parent})
        except FieldInvalid:
            return "refused"
        return "moved"

    return move


def test_two_categories_moved_under_each_other_at_once_make_no_cycle():
    a, b = CategoryFactory(), CategoryFactory()

    outcomes = _run_blocked([_service_move(a, b), _service_move(b, a)])

    assert outcomes == Counter(moved=1, refused=1)
    assert _parents() in ({a.pk: b.pk, b.pk: None}, {a.pk: None, b.pk: a.pk})
    _assert_no_cycle()


def test_three_moves_that_close_a_loop_together_leave_a_chain():
    a, b, c = CategoryFactory(), CategoryFactory(), CategoryFactory()
    root = CategoryFactory()
    for category in (a, b, c):
        services.category_update(category=category, data={"parent": root})

    outcomes = _run_blocked([_service_move(a, b), _service_move(b, c), _service_move(c, a)])

    assert outcomes == Counter(moved=2, refused=1)
    _assert_no_cycle()


def test_the_database_refuses_a_cycle_written_past_the_service():
    a = CategoryFactory()
    b = CategoryFactory(parent=a)
    c = CategoryFactory(parent=b)

    for category, parent in ((a, c), (a, b), (b, b)):
        with pytest.raises(IntegrityError, match=LOOP), transaction.atomic():
            Category.objects.filter(pk=category.pk).update(parent=parent)
    with (
        pytest.raises(IntegrityError, match=LOOP),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO catalog_category (id, name, slug, description, position, parent_id)"
            " VALUES (-1, 'Loop', 'loop', '', 0, -1)"
        )
    assert _parents() == {a.pk: None, b.pk: a.pk, c.pk: b.pk}


def test_the_database_refuses_a_cycle_closed_by_two_concurrent_raw_updates():
    a, b = CategoryFactory(), CategoryFactory()

    def raw_move(category: Category, parent: Category) -> Callable[[], str]:
        def move() -> str:
            try:
                with transaction.atomic():
                    Category.objects.filter(pk=category.pk).update(parent=parent)
            except IntegrityError:
                return "refused"
            return "moved"

        return move

    outcomes = _run_blocked([raw_move(a, b), raw_move(b, a)])

    assert outcomes == Counter(moved=1, refused=1)
    _assert_no_cycle()
