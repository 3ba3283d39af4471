"""The SQL of catalog.listing.sql is served by its indexes (checked with EXPLAIN)."""

from decimal import Decimal

import pytest
from django.db import connection

from catalog.listing import ORDERINGS
from catalog.listing import sql as product_sql
from tests.catalog.factories import CategoryFactory

pytestmark = pytest.mark.django_db


def _plan(call) -> str:
    """EXPLAIN of the one query `call()` runs, with seq scans and explicit sorts forbidden."""
    seen = []

    def capture(execute, sql, params, many, context):
        seen.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        call()
    ((sql, params),) = seen
    with connection.cursor() as cursor:
        # An empty test table would be seq-scanned anyway: forbid that and
        # explicit sorts, so the plan shows whether an index gives the rows.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)  # our own query
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("ordering", sorted(ORDERINGS))
def test_a_category_page_reads_a_category_index_in_order(ordering):
    leaf = CategoryFactory().pk
    plan = _plan(
        lambda: product_sql.product_rows(
            filters={"ordering": ordering, "min_price": Decimal(5)},
            staff=False,
            categories=[leaf],
            limit=20,
            offset=0,
        )
    )
    assert "product_cat_" in plan, plan
    assert "Sort Key" not in plan, plan


@pytest.mark.parametrize(
    ("filters", "category"),
    [
        ({"min_price": Decimal(1), "max_price": Decimal(9), "in_stock": True}, False),
        ({"in_stock": True}, True),
        ({"in_stock": False}, False),
    ],
)
def test_stock_counts_never_read_variants(filters, category):
    """The stock filter reads products' in_stock flag (migration 0007), not a semi-join."""
    categories = [CategoryFactory().pk] if category else None
    plan = _plan(
        lambda: product_sql.product_count(filters=filters, staff=False, categories=categories)
    )
    assert "catalog_variant" not in plan, plan
    assert "Index" in plan, plan
