"""The list's filters and orderings are served by indexes (checked with EXPLAIN)."""

from decimal import Decimal

import pytest
from django.db import connection

from catalog.selectors import ORDERINGS, product_list_queryset


def _plan(ordering: str) -> str:
    qs = product_list_queryset(
        filters={"min_price": Decimal("10"), "max_price": Decimal("50"), "ordering": ordering},
        staff=False,
    )[:20]
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        # An empty test table would be seq-scanned anyway: forbid that and
        # explicit sorts, so the plan shows whether an index gives the order.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)  # our own compiled query
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("ordering", "index"),
    [("price", "product_pub_price_idx"), ("-price", "product_pub_price_desc_idx")],
)
def test_a_price_range_in_price_order_reads_an_index_in_order(ordering, index):
    """-price sorts DESC NULLS LAST: the ascending index read backwards cannot give that."""
    plan = _plan(ordering)
    assert index in plan, plan
    assert " Sort " not in plan and "Sort Key" not in plan, plan


@pytest.mark.django_db
@pytest.mark.parametrize("ordering", sorted(ORDERINGS))
def test_no_ordering_needs_a_full_sort(ordering):
    assert "Sort Key" not in _plan(ordering) or "Presorted Key" in _plan(ordering)
