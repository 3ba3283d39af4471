"""The public product reads as SQL built from catalog.listing.declaration: page, count, page of one.

Why not the ORM here: building, cloning and compiling the annotated querysets
cost several times the CPU of running the same SQL. The querysets stay as a
test oracle (tests/catalog/reference.py): tests/catalog/test_product_sql.py
checks that both give the same rows, in the same order, with the same count,
for every filter and ordering.

Every value reaches PostgreSQL as a bound parameter; only fixed fragments of
the declaration are put together as text. The statements run where the ORM's
reads would (core.replicas.read_connection: a replica inside a replica scope).
"""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from catalog.db import _SUBTREE_BY_SLUG_SQL
from catalog.listing.declaration import (
    ROW_FILTERS,
    SEARCH_CONFIG,
    VARIANT_FIELDS,
    Field,
    order_sql,
    product_fields,
    search_terms,
    selected,
)
from core.replicas import read_connection

_SKU_MATCH = "p.id = ANY(ARRAY(SELECT product_id FROM catalog_variant WHERE sku = %s OR sku = %s))"
_TSQUERY = f"websearch_to_tsquery('{SEARCH_CONFIG}'::regconfig, %s)"
_WITH_CATEGORY = "catalog_product p JOIN catalog_category c ON c.id = p.category_id"


def _column(field: Field, *, joined: bool) -> str:
    """The field's select expression; a category column without the join is a per-row lookup."""
    if field.category and not joined:
        # A declared expression (catalog.listing.declaration), never a value.
        return f"(SELECT {field.sql} FROM catalog_category c WHERE c.id = p.category_id)"  # noqa: S608  # nosec B608
    return str(field.sql)


def _search_where(term: str) -> tuple[str, list[Any]]:
    """Exact SKU, or full text, or a typo/partial word of the name (not an excluded word)."""
    search = search_terms(term)
    params: list[Any] = [term, term.upper(), term]
    if not search.wanted:
        return f"({_SKU_MATCH} OR p.search_vector @@ {_TSQUERY})", params
    fuzzy = "p.name %%> %s"
    params.append(search.wanted)
    if search.excluded:
        fuzzy += f" AND NOT (p.search_vector @@ {_TSQUERY} AND p.search_vector IS NOT NULL)"
        params.append(" or ".join(search.excluded))
    return f"({_SKU_MATCH} OR p.search_vector @@ {_TSQUERY} OR ({fuzzy}))", params


def _search_order(term: str) -> tuple[str, list[Any]]:
    """Exact SKU first, then full-text rank, then word similarity of the name."""
    search = search_terms(term)
    params: list[Any] = [term, term.upper(), term]
    sql = f"({_SKU_MATCH}) DESC, ts_rank(p.search_vector, {_TSQUERY}) DESC, "
    if search.wanted:  # else the same for every row
        sql += "WORD_SIMILARITY(%s, p.name) DESC, "
        params.append(search.wanted)
    return sql + "p.id DESC", params


def category_ids(slug: str) -> list[int]:
    """The ids of a category and all its descendants (empty when there is no such slug).

    Resolved before the product query so that the planner sees the exact ids
    (a bitmap scan of the category index, not a guess at a CTE's size).
    """
    with read_connection().cursor() as cursor:
        cursor.execute(_SUBTREE_BY_SLUG_SQL, [slug])
        return [row[0] for row in cursor.fetchall()]


def _where(
    filters: Mapping[str, Any], *, staff: bool, categories: Sequence[int] | None
) -> tuple[str, list[Any]]:
    clauses = [] if staff else ["p.is_published"]
    params: list[Any] = []
    if term := (filters.get("search") or "").strip():
        clause, search_params = _search_where(term)
        clauses.append(clause)
        params += search_params
    if categories is not None and len(categories) == 1:
        # Not ANY(): with one value the (category_id, <ordering>) indexes give the order.
        clauses.append("p.category_id = %s")
        params.append(categories[0])
    elif categories is not None:
        clauses.append("p.category_id = ANY(%s)")
        params.append(list(categories))
    for name, clause_of in ROW_FILTERS.items():
        if (value := filters.get(name)) is not None:
            clause, clause_params = clause_of(value)
            clauses.append(clause)
            params += clause_params
    return (" AND ".join(clauses) or "true"), params


def product_count(
    *, filters: Mapping[str, Any], staff: bool, categories: Sequence[int] | None
) -> int:
    """How many products match `filters` (their ordering and any page aside)."""
    where, params = _where(filters, staff=staff, categories=categories)
    with read_connection().cursor() as cursor:
        # `where` is made of constant clauses; every value is a bound parameter.
        cursor.execute(f"SELECT count(*) FROM catalog_product p WHERE {where}", params)  # noqa: S608  # nosec B608
        return int(cursor.fetchone()[0])


HISTOGRAM_MAX = 5_000


def price_histogram() -> list[tuple[bool, Decimal, int]] | None:
    """Published products with a price, counted by (in stock, lowest price).

    None when there are more than HISTOGRAM_MAX such pairs: then counting the
    range itself is cheaper than keeping them.
    """
    with read_connection().cursor() as cursor:
        cursor.execute(
            "SELECT in_stock, min_price, count(*) FROM catalog_product "
            "WHERE is_published AND min_price IS NOT NULL GROUP BY 1, 2 LIMIT %s",
            [HISTOGRAM_MAX + 1],
        )
        rows = cursor.fetchall()
    return None if len(rows) > HISTOGRAM_MAX else rows


def histogram_count(
    histogram: Sequence[tuple[bool, Decimal, int]], filters: Mapping[str, Any]
) -> int:
    """`product_count` of public products for price and stock filters only, from the histogram."""
    low, high = filters.get("min_price"), filters.get("max_price")
    in_stock = filters.get("in_stock")
    return sum(
        count
        for flag, price, count in histogram
        if (in_stock is None or flag == in_stock)
        and (low is None or price >= low)
        and (high is None or price <= high)
    )


def product_rows(
    *,
    filters: Mapping[str, Any],
    staff: bool,
    categories: Sequence[int] | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of products as rows for `product_item` (field name -> value), and maybe the count.

    A search by relevance reads and ranks every match to find its page anyway
    (and its trigram test is most of the cost), so that page query counts them
    too, as a window over the same rows: the count is then known whenever the
    page is not empty, without a second pass over the matches.
    """
    where, params = _where(filters, staff=staff, categories=categories)
    order = order_sql(filters.get("ordering"))
    term = (filters.get("search") or "").strip()
    by_relevance = bool(term) and not filters.get("ordering")
    if by_relevance:
        order, order_params = _search_order(term)
        params += order_params
    fields = selected(product_fields(staff=staff, detail=False))
    # Not with another ordering: the planner may then walk that ordering's
    # index and stop at the page, which the window would make it read to the end.
    if by_relevance:
        # The category as a join: the window sees every match, not only the page.
        columns = ", ".join([*(_column(f, joined=True) for f in fields), "count(*) OVER ()"])
        source = _WITH_CATEGORY
    else:
        columns = ", ".join(_column(f, joined=False) for f in fields)
        source = "catalog_product p"
    sql = (
        f"SELECT {columns} FROM {source} WHERE {where} "  # noqa: S608  # nosec B608
        f"ORDER BY {order} LIMIT %s OFFSET %s"
    )
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [*params, limit, offset])
        rows = cursor.fetchall()
    total = rows[0][len(fields)] if by_relevance and rows else None
    names = [f.name for f in fields]
    return [dict(zip(names, row[: len(names)], strict=True)) for row in rows], total


_DETAIL_FIELDS = selected(product_fields(staff=True, detail=True))
_DETAIL_VARIANT_FIELDS = selected(VARIANT_FIELDS)
_DETAIL_SQL = (  # declared expressions only; the slug is a bound parameter
    "SELECT "  # noqa: S608  # nosec B608
    + ", ".join(_column(f, joined=True) for f in (*_DETAIL_FIELDS, *_DETAIL_VARIANT_FIELDS))
    + f" FROM {_WITH_CATEGORY} LEFT JOIN catalog_variant v ON v.product_id = p.id"
    " WHERE p.slug = %s{published} ORDER BY v.id"
)


def product_detail_row(*, slug: str, staff: bool) -> dict[str, Any] | None:
    """The product's row for `product_item(detail=True)`, its variants' rows under `variants`.

    ONE query: the product joined to its variants. None when there is no
    such product (or it is unpublished and `staff` is false).
    """
    sql = _DETAIL_SQL.format(published="" if staff else " AND p.is_published")
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [slug])
        rows = cursor.fetchall()
    if not rows:
        return None
    split = len(_DETAIL_FIELDS)
    row = dict(zip((f.name for f in _DETAIL_FIELDS), rows[0][:split], strict=True))
    names = [f.name for f in _DETAIL_VARIANT_FIELDS]
    # A product without variants is one row of NULL variant columns (LEFT JOIN): no variant.
    row["variants"] = [
        dict(zip(names, values[split:], strict=True))
        for values in rows
        if values[split] is not None
    ]
    return row
