"""Products by last change: the rows of the product list's cursor pages.

Ordered by `(updated_at, id)` (index product_updated_idx), with the list's
own filters (catalog.listing.sql builds their clauses) and the same item
shape as the list. `updated_at` moves with every change a product's answers
show, its variants' stock included (migration 0016 of catalog).
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from catalog.listing.declaration import product_fields, selected
from catalog.listing.sql import _column, _where
from core.cursor import AFTER, BEFORE, UP_TO, Position

# The key of a row, next to its fields (no field of the list is named so).
UPDATED_AT = "_updated_at"
_OPERATORS = {AFTER: ">", BEFORE: "<", UP_TO: "<="}


def product_rows_by_update(
    *,
    filters: Mapping[str, Any],
    staff: bool,
    categories: Sequence[int] | None,
    since: datetime | None,
    settled: datetime,
    position: Position | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Rows for `product_item` (plus their `UPDATED_AT`) changed after `since` and before
    `settled`, after `position` in `(updated_at, id)` order (from the start when None),
    or before it (or up to it) in descending order.
    """
    where, params = _where(filters, staff=staff, categories=categories)
    clauses = [where, "p.updated_at < %s"]
    params.append(settled)
    if since is not None:
        clauses.append("p.updated_at > %s")
        params.append(since)
    descending = position is not None and position.direction != AFTER
    if position is not None:
        clauses.append(f"(p.updated_at, p.id) {_OPERATORS[position.direction]} (%s, %s)")
        params += list(position.key)
    fields = selected(product_fields(staff=staff, detail=False))
    columns = ", ".join([*(_column(f, joined=False) for f in fields), "p.updated_at"])
    direction = "DESC" if descending else "ASC"
    sql = (
        f"SELECT {columns} FROM catalog_product p WHERE {' AND '.join(clauses)} "  # noqa: S608  # nosec B608
        f"ORDER BY p.updated_at {direction}, p.id {direction} LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        rows = cursor.fetchall()
    names = [*(f.name for f in fields), UPDATED_AT]
    return [dict(zip(names, row, strict=True)) for row in rows]
