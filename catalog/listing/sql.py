"""The public product reads as SQL built from catalog.listing.declaration: page, count, page of one.

Why not the ORM here: building, cloning and compiling the annotated querysets
cost several times the CPU of running the same SQL. The querysets stay as a
test oracle (tests/catalog/reference.py): tests/catalog/test_product_sql.py
checks that both give the same rows, in the same order, with the same count,
for every filter and ordering.

Every value reaches PostgreSQL as a bound parameter; only fixed fragments of
the declaration are put together as text.
"""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import connection

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

_SKU_MATCH = "p.id = ANY(ARRAY(SELECT product_id FROM catalog_variant WHERE sku = %s OR sku = %s))"
_TSQUERY = f"websearch_to_tsquery('{SEARCH_CONFIG}'::regconfig, %s)"
_TYPO_TSQUERY = f"to_tsquery('{SEARCH_CONFIG}'::regconfig, %s)"
# The name's part of the search document (weight A, migration 0002).
_NAME_VECTOR = "ts_filter(p.search_vector, '{a}')"
_WITH_CATEGORY = "catalog_product p JOIN catalog_category c ON c.id = p.category_id"
# How many dictionary words one misspelt word may stand for.
TYPO_CORRECTIONS = 5


def _column(field: Field, *, joined: bool) -> str:
    """The field's select expression; a category column without the join is a per-row lookup."""
    if field.category and not joined:
        # A declared expression (catalog.listing.declaration), never a value.
        return f"(SELECT {field.sql} FROM catalog_category c WHERE c.id = p.category_id)"  # noqa: S608  # nosec B608
    return str(field.sql)


def typo_query(term: str) -> str | None:
    """The `to_tsquery` text that finds the names `term`'s words are typos or beginnings of.

    Each wanted word (not an excluded one) stands for the few name words
    (catalog_searchword) most like it by trigram word similarity, above the
    `pg_trgm.word_similarity_threshold` setting: `('hoodie' | 'hoodies') & ('lamp')`.
    None when a word is like no name word (then no name has them all).
    """
    words = [w.lower() for w in search_terms(term).wanted.split()]
    if not words:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.n, s.word FROM unnest(%s::text[]) WITH ORDINALITY AS t(term, n) "
            "CROSS JOIN LATERAL (SELECT word FROM catalog_searchword "
            "WHERE word %%> t.term ORDER BY t.term <<-> word, word LIMIT %s) s",
            [words, TYPO_CORRECTIONS],
        )
        found = cursor.fetchall()
    alternatives: dict[int, list[str]] = {}
    for position, word in found:
        alternatives.setdefault(position, []).append(word)
    if len(alternatives) < len(words):
        return None
    quoted = (
        "(" + " | ".join(_tsquery_word(w) for w in alternatives[n]) + ")"
        for n in sorted(alternatives)
    )
    return " & ".join(quoted)


def _tsquery_word(word: str) -> str:
    """`word` as one quoted operand of to_tsquery (normalised there by the search config)."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def _full_text(term: str) -> tuple[str, list[Any]]:
    """An exact SKU, or the full-text query."""
    return f"({_SKU_MATCH} OR p.search_vector @@ {_TSQUERY})", [term, term.upper(), term]


def _typo(term: str, typos: str) -> tuple[str, list[Any]]:
    """A name with a word like each wanted word (`typos`: from typo_query), no excluded word."""
    sql = f"(p.search_vector @@ {_TYPO_TSQUERY} AND {_NAME_VECTOR} @@ {_TYPO_TSQUERY}"
    params: list[Any] = [typos, typos]
    if excluded := search_terms(term).excluded:
        sql += f" AND NOT coalesce(p.search_vector @@ {_TSQUERY}, false)"
        params.append(" or ".join(excluded))
    return sql + ")", params


def _search_where(term: str, typos: str | None) -> tuple[str, list[Any]]:
    """Full text (or an exact SKU), and typo matches of the name when `typos` is given."""
    sql, params = _full_text(term)
    if typos is None:
        return sql, params
    typo_sql, typo_params = _typo(term, typos)
    return f"({sql} OR {typo_sql})", [*params, *typo_params]


def _relevance_tiers(term: str, typos: str | None) -> list[tuple[str, list[Any]]]:
    """The matches by relevance, best first, as disjoint tiers (each newest first).

    An exact SKU; full text matching the name; full text matching elsewhere
    (description, SKUs); then, with `typos`, names with words like the term's.
    """
    sku = (_SKU_MATCH, [term, term.upper()])
    not_sku = f"NOT {_SKU_MATCH}"
    full_text = f"p.search_vector @@ {_TSQUERY}"
    tiers = [
        sku,
        (
            f"{not_sku} AND {full_text} AND {_NAME_VECTOR} @@ {_TSQUERY}",
            [term, term.upper(), term, term],
        ),
        (
            f"{not_sku} AND {full_text} AND NOT ({_NAME_VECTOR} @@ {_TSQUERY})",
            [term, term.upper(), term, term],
        ),
    ]
    if typos is not None:
        typo_sql, typo_params = _typo(term, typos)
        tiers.append(
            (
                f"{not_sku} AND NOT coalesce({full_text}, false) AND {typo_sql}",
                [term, term.upper(), term, *typo_params],
            )
        )
    return tiers


def category_ids(slug: str) -> list[int]:
    """The ids of a category and all its descendants (empty when there is no such slug).

    Resolved before the product query so that the planner sees the exact ids
    (a bitmap scan of the category index, not a guess at a CTE's size).
    """
    with connection.cursor() as cursor:
        cursor.execute(_SUBTREE_BY_SLUG_SQL, [slug])
        return [row[0] for row in cursor.fetchall()]


def _where(
    filters: Mapping[str, Any],
    *,
    staff: bool,
    categories: Sequence[int] | None,
    search: bool = True,
    typos: str | None = None,
) -> tuple[str, list[Any]]:
    """The WHERE of `filters`; without the search when `search` is false (the caller adds it)."""
    clauses = [] if staff else ["p.is_published"]
    params: list[Any] = []
    if search and (term := (filters.get("search") or "").strip()):
        clause, search_params = _search_where(term, typos)
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
    *,
    filters: Mapping[str, Any],
    staff: bool,
    categories: Sequence[int] | None,
    typos: str | None = None,
    limit: int | None = None,
) -> int:
    """How many products match `filters` (their ordering and any page aside), up to `limit`.

    `typos`: with the search, also the names with words like its words
    (typo_query). `limit`: count no further than that (a search's count is
    bounded: see SEARCH_COUNT_MAX).
    """
    where, params = _where(filters, staff=staff, categories=categories, typos=typos)
    # `where` is made of constant clauses; every value is a bound parameter.
    sql = f"SELECT count(*) FROM catalog_product p WHERE {where}"  # noqa: S608  # nosec B608
    if limit is not None:
        sql = f"SELECT count(*) FROM (SELECT 1 FROM catalog_product p WHERE {where} LIMIT %s) m"  # noqa: S608  # nosec B608
        params.append(limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
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
    typos: str | None = None,
) -> list[dict[str, Any]]:
    """One page of products as rows for `product_item` (field name -> value).

    `typos`: with the search, also the names with words like its words
    (typo_query), after every full-text match.
    """
    term = (filters.get("search") or "").strip()
    if term and not filters.get("ordering"):
        return _rows_by_relevance(
            filters, term=term, staff=staff, categories=categories, limit=limit, offset=offset,
            typos=typos,
        )  # fmt: skip
    where, params = _where(filters, staff=staff, categories=categories, typos=typos)
    fields = selected(product_fields(staff=staff, detail=False))
    columns = ", ".join(_column(f, joined=False) for f in fields)
    sql = (
        f"SELECT {columns} FROM catalog_product p WHERE {where} "  # noqa: S608  # nosec B608
        f"ORDER BY {order_sql(filters.get('ordering'))} LIMIT %s OFFSET %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit, offset])
        rows = cursor.fetchall()
    names = [f.name for f in fields]
    return [dict(zip(names, row, strict=True)) for row in rows]


def _rows_by_relevance(
    filters: Mapping[str, Any],
    *,
    term: str,
    staff: bool,
    categories: Sequence[int] | None,
    limit: int,
    offset: int,
    typos: str | None,
) -> list[dict[str, Any]]:
    """A page of a search by relevance: the tiers of `_relevance_tiers` in turn, newest first.

    Each tier reads its newest `offset + limit` matches at most, in the primary
    key's order, and PostgreSQL's Append runs a tier only while the page is
    not full: a broad word is answered from the first tier's newest rows,
    without ranking (or even reading) every product that has it.
    """
    where, params = _where(filters, staff=staff, categories=categories, search=False)
    branches, branch_params = [], []
    for tier, (clause, clause_params) in enumerate(_relevance_tiers(term, typos)):
        branches.append(
            f"(SELECT {tier} AS tier, p.id FROM catalog_product p "  # noqa: S608  # nosec B608
            f"WHERE {where} AND {clause} ORDER BY p.id DESC LIMIT %s)"
        )
        branch_params += [*params, *clause_params, offset + limit]
    fields = selected(product_fields(staff=staff, detail=False))
    columns = ", ".join(_column(f, joined=False) for f in fields)
    sql = (
        f"SELECT {columns} FROM ({' UNION ALL '.join(branches)} LIMIT %s OFFSET %s) m "  # noqa: S608  # nosec B608
        "JOIN catalog_product p ON p.id = m.id ORDER BY m.tier, m.id DESC"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*branch_params, limit, offset])
        rows = cursor.fetchall()
    names = [f.name for f in fields]
    return [dict(zip(names, row, strict=True)) for row in rows]


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
    with connection.cursor() as cursor:
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
