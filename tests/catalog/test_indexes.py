"""The list's price filters and orderings are served by indexes (checked with EXPLAIN)."""

from decimal import Decimal

import pytest

from catalog.listing import ORDERINGS
from catalog.listing import sql as product_sql
from tests.catalog.test_product_sql_plans import _plan


def _page_plan(ordering: str) -> str:
    return _plan(
        lambda: product_sql.product_rows(
            filters={"min_price": Decimal("10"), "max_price": Decimal("50"), "ordering": ordering},
            staff=False,
            categories=None,
            limit=20,
            offset=0,
        )
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("ordering", "index"),
    [("price", "product_pub_price_idx"), ("-price", "product_pub_price_desc_idx")],
)
def test_a_price_range_in_price_order_reads_an_index_in_order(ordering, index):
    """-price sorts DESC NULLS LAST: the ascending index read backwards cannot give that."""
    plan = _page_plan(ordering)
    assert index in plan, plan
    assert " Sort " not in plan and "Sort Key" not in plan, plan


@pytest.mark.django_db
@pytest.mark.parametrize("ordering", sorted(ORDERINGS))
def test_no_ordering_needs_a_full_sort(ordering):
    plan = _page_plan(ordering)
    assert "Sort Key" not in plan or "Presorted Key" in plan, plan
