"""The public product reads as SQL written once: list page, count, detail.

Why not the ORM here: building, cloning and compiling the annotated querysets
cost about 3 ms of CPU per list request (count and page) and 2 ms per detail,
while running the same SQL costs about 0.3 ms. The querysets stay as a test
oracle (tests/catalog/reference.py): tests/catalog/test_product_sql.py checks
that both give the same rows, in the same order, with the same count, for
every filter and ordering.

Every value reaches PostgreSQL as a bound parameter; only fixed fragments of
this module are put together as text.
"""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import connection

from catalog.db import _SUBTREE_BY_SLUG_SQL

# ORDER BY of each `ordering` value of the product list.
ORDER_SQL = {
    "price": "p.min_price ASC NULLS LAST, p.id ASC",
    "-price": "p.min_price DESC NULLS LAST, p.id DESC",
    "name": "p.name ASC, p.id ASC",
    "-name": "p.name DESC, p.id DESC",
    "created_at": "p.created_at ASC, p.id ASC",
    "-created_at": "p.created_at DESC, p.id DESC",
}
DEFAULT_ORDERING = "-created_at"
SEARCH_CONFIG = "english"

# `in_stock` is a column kept by triggers (migration 0007): any variant with stock.
_CATEGORY_SLUG = "(SELECT c.slug FROM catalog_category c WHERE c.id = p.category_id)"
_SKU_MATCH = "p.id = ANY(ARRAY(SELECT product_id FROM catalog_variant WHERE sku = %s OR sku = %s))"
_TSQUERY = f"websearch_to_tsquery('{SEARCH_CONFIG}'::regconfig, %s)"


class Search:
    """The parts of a `?search=` term."""

    def __init__(self, term: str) -> None:
        words = term.replace('"', " ").split()
        self.term = term
        self.wanted = " ".join(w for w in words if not w.startswith("-") and w.lower() != "or")
        self.excluded = " or ".join(w[1:] for w in words if w.startswith("-") and len(w) > 1)

    def where(self) -> tuple[str, list[Any]]:
        """Exact SKU, or full text, or a typo/partial word of the name (not an excluded word)."""
        params: list[Any] = [self.term, self.term.upper(), self.term]
        if not self.wanted:
            return f"({_SKU_MATCH} OR p.search_vector @@ {_TSQUERY})", params
        fuzzy = "p.name %%> %s"
        params.append(self.wanted)
        if self.excluded:
            fuzzy += f" AND NOT (p.search_vector @@ {_TSQUERY} AND p.search_vector IS NOT NULL)"
            params.append(self.excluded)
        return f"({_SKU_MATCH} OR p.search_vector @@ {_TSQUERY} OR ({fuzzy}))", params

    def order(self) -> tuple[str, list[Any]]:
        """Exact SKU first, then full-text rank, then word similarity of the name."""
        params: list[Any] = [self.term, self.term.upper(), self.term]
        sql = f"({_SKU_MATCH}) DESC, ts_rank(p.search_vector, {_TSQUERY}) DESC, "
        if self.wanted:  # else the same for every row
            sql += "WORD_SIMILARITY(%s, p.name) DESC, "
            params.append(self.wanted)
        return sql + "p.id DESC", params


def category_ids(slug: str) -> list[int]:
    """The ids of a category and all its descendants (empty when there is no such slug).

    Resolved before the product query so that the planner sees the exact ids
    (a bitmap scan of the category index, not a guess at a CTE's size).
    """
    with connection.cursor() as cursor:
        cursor.execute(_SUBTREE_BY_SLUG_SQL, [slug])
        return [row[0] for row in cursor.fetchall()]


def _where(
    filters: Mapping[str, Any], *, staff: bool, categories: Sequence[int] | None
) -> tuple[str, list[Any]]:
    clauses = [] if staff else ["p.is_published"]
    params: list[Any] = []
    if term := (filters.get("search") or "").strip():
        clause, search_params = Search(term).where()
        clauses.append(clause)
        params += search_params
    if categories is not None and len(categories) == 1:
        # Not ANY(): with one value the (category_id, <ordering>) indexes give the order.
        clauses.append("p.category_id = %s")
        params.append(categories[0])
    elif categories is not None:
        clauses.append("p.category_id = ANY(%s)")
        params.append(list(categories))
    if (low := filters.get("min_price")) is not None:
        clauses.append("p.min_price >= %s")
        params.append(low)
    if (high := filters.get("max_price")) is not None:
        clauses.append("p.min_price <= %s")
        params.append(high)
    if (in_stock := filters.get("in_stock")) is not None:
        clauses.append("p.in_stock" if in_stock else "NOT p.in_stock")
    return (" AND ".join(clauses) or "true"), params


def product_count(
    *, filters: Mapping[str, Any], staff: bool, categories: Sequence[int] | None
) -> int:
    """How many products match `filters` (their ordering and any page aside)."""
    where, params = _where(filters, staff=staff, categories=categories)
    with connection.cursor() as cursor:
        # `where` is made of constant clauses; every value is a bound parameter.
        cursor.execute(f"SELECT count(*) FROM catalog_product p WHERE {where}", params)  # noqa: S608  # nosec B608
        return int(cursor.fetchone()[0])


HISTOGRAM_MAX = 5_000


def price_histogram() -> list[tuple[bool, Decimal, int]] | None:
    """Published products with a price, counted by (in stock, lowest price).

    None when there are more than HISTOGRAM_MAX such pairs: then counting the
    range itself is cheaper than keeping them.
    """
    with connection.cursor() as cursor:
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
    """One page of products as dicts for catalog.selectors.product_item, and maybe the count.

    A search by relevance reads and ranks every match to find its page anyway
    (and its trigram test is most of the cost), so that page query counts them
    too, as a window over the same rows: the count is then known whenever the
    page is not empty, without a second pass over the matches.
    """
    where, params = _where(filters, staff=staff, categories=categories)
    order = ORDER_SQL[filters.get("ordering") or DEFAULT_ORDERING]
    term = (filters.get("search") or "").strip()
    by_relevance = bool(term) and not filters.get("ordering")
    if by_relevance:
        order, order_params = Search(term).order()
        params += order_params
    published = ", p.is_published" if staff else ", NULL"
    # Not with another ordering: the planner may then walk that ordering's
    # index and stop at the page, which the window would make it read to the end.
    if by_relevance:
        # The category as a join: the window sees every match, not only the page.
        columns = f"p.id, p.slug, p.name, p.min_price, p.in_stock, c.slug{published}, "
        columns += "count(*) OVER ()"
        source = "catalog_product p JOIN catalog_category c ON c.id = p.category_id"
    else:
        columns = f"p.id, p.slug, p.name, p.min_price, p.in_stock, {_CATEGORY_SLUG}{published}"
        source = "catalog_product p"
    sql = (
        f"SELECT {columns} FROM {source} WHERE {where} "  # noqa: S608  # nosec B608
        f"ORDER BY {order} LIMIT %s OFFSET %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit, offset])
        rows = cursor.fetchall()
    total = rows[0][7] if by_relevance and rows else None
    names = _ROW_NAMES if staff else _ROW_NAMES[:-1]
    return [dict(zip(names, row[: len(names)], strict=True)) for row in rows], total


_ROW_NAMES = ("id", "slug", "name", "price", "in_stock", "category_slug", "is_published")


_DETAIL_SQL = """
SELECT p.id, p.slug, p.name, p.description, p.min_price, p.is_published,
       p.created_at, p.updated_at, c.slug,
       v.sku, v.name, v.attributes, v.price, v.stock
FROM catalog_product p
JOIN catalog_category c ON c.id = p.category_id
LEFT JOIN catalog_variant v ON v.product_id = p.id
WHERE p.slug = %s{published}
ORDER BY v.id
"""


def product_detail_rows(*, slug: str, staff: bool) -> list[tuple[Any, ...]]:
    """The product and its variants in ONE query: a row per variant (one with NULLs if none)."""
    sql = _DETAIL_SQL.format(published="" if staff else " AND p.is_published")
    with connection.cursor() as cursor:
        cursor.execute(sql, [slug])
        return cursor.fetchall()
