"""EXPLAIN a queryset with whole-table reads priced out, to prove indexes can serve it."""

import re
from typing import Any

from django.db import connection

# PostgreSQL adds this to the cost of a path it was told not to take (up to 17).
DISABLED_COST = 1e10
_COST = re.compile(r"cost=[\d.]+\.\.([\d.]+)")


def plan_with_indexes_only(queryset: Any) -> str:
    """The plan of `queryset` with sequential scans and plain index scans (a walk
    of an index, possibly with no condition) disabled: with only a few test rows
    they would be cheapest, and an index condition is what a big table needs.
    Call it inside the test's transaction: the settings end with it."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
    return queryset.explain()


def whole_table_reads(plan: str, tables: set[str]) -> list[str]:
    """The lines of `plan` that read one of `tables` whole, or that needed a
    disabled path because nothing else could serve the query."""
    return [
        line.strip()
        for line in plan.splitlines()
        if any(re.search(rf"Seq Scan on {table}\b", line) for table in tables)
        or "Disabled: true" in line
        or any(float(total) >= DISABLED_COST for total in _COST.findall(line))
    ]
