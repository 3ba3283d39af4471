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
from dataclasses import dataclass
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
# The name's part of the search document (weight A, migration 0002).
_NAME_VECTOR = "ts_filter(p.search_vector, '{a}')"
_WITH_CATEGORY = "catalog_product p JOIN catalog_category c ON c.id = p.category_id"
# How many name words one misspelt word may stand for.
TYPO_CORRECTIONS = 5
# A name word as one quoted operand of to_tsquery (normalised there by the search config).
_QUOTED_WORD = r"'''' || replace(replace(s.word, '\', '\\'), '''', '''''') || ''''"
# The typo query of the search's wanted words: each word stands for the few name
# words (catalog_searchword) most like it by trigram word similarity, above
# the `pg_trgm.word_similarity_threshold` setting, and all words are required:
# `('hoodie' | 'hoddie') & ('lamp')`. NULL when a word is like no name word.
_CORRECTIONS = (  # constant fragments; the words are bound parameters
    f"SELECT to_tsquery("  # noqa: S608  # nosec B608
    f"'{SEARCH_CONFIG}'::regconfig, string_agg(alternatives, ' & ')) FROM ("
    f"SELECT '(' || string_agg({_QUOTED_WORD}, ' | ') || ')' AS alternatives "
    "FROM unnest(%s::text[]) WITH ORDINALITY AS t(term, n) "
    "CROSS JOIN LATERAL (SELECT word FROM catalog_searchword WHERE word %%> t.term "
    "ORDER BY t.term <<-> word, word LIMIT %s) s GROUP BY t.n) a HAVING count(*) = %s"
)
_TYPO_QUERY = "(SELECT q FROM typo)"
# How a page by relevance reads a tier (product_rows).
WALK, INDEX, SKIP = "walk", "index", "skip"
# How many of a search's matches search_sample tells the tier of.
TIER_SAMPLE = 200
# A match of the search document and of its name part (`<query>`; `<in_name>`:
# whether the name matches), as its GIN index reads it, and as one test that
# costs enough per row (migration 0016) for PostgreSQL to read the primary key
# in order and stop at the page, rather than scan and sort.
_VECTOR = f"p.search_vector @@ <query> AND ({_NAME_VECTOR} @@ <query>) = <in_name>"
_WALKED = "catalog_search_walk_match(p.search_vector, <query>, <in_name>)"


def _match(vector: str, query: str, *, in_name: bool) -> str:
    return vector.replace("<query>", query).replace("<in_name>", str(in_name).lower())


def _column(field: Field, *, joined: bool) -> str:
    """The field's select expression; a category column without the join is a per-row lookup."""
    if field.category and not joined:
        # A declared expression (catalog.listing.declaration), never a value.
        return f"(SELECT {field.sql} FROM catalog_category c WHERE c.id = p.category_id)"  # noqa: S608  # nosec B608
    return str(field.sql)


@dataclass(frozen=True)
class _Search:
    """The SQL of one search: what its statements start with, what it matches, its tiers.

    `prefix`: the WITH clause computing the typo query once per statement
    (empty without wanted words); `match`: every match; `tiers`: the matches
    by relevance, best first, as disjoint clauses (`_relevance_tiers`), as
    the search document's GIN index reads them; `walks`: the same clauses
    as one costly function no index serves (`_WALKED`), so that PostgreSQL
    reads the primary key in order and stops at the page (for a tier with
    many matches).
    """

    prefix: tuple[str, list[Any]]
    match: tuple[str, list[Any]]
    tiers: list[tuple[str, list[Any]]]
    walks: list[tuple[str, list[Any]]]


def _search(term: str, *, page_size: int, scope: tuple[str, list[Any]]) -> _Search:
    """Full text (or an exact SKU); typo matches of the name when full text finds fewer
    than `page_size` among the products of `scope` (the filters' WHERE).

    One statement decides and corrects: the typo query is a materialised CTE,
    read only by a clause that needs it; it counts the full-text matches (no
    further than a page) and, only when they are fewer, corrects the words.
    """
    full_text = (f"({_SKU_MATCH} OR p.search_vector @@ {_TSQUERY})", [term, term.upper(), term])
    search = search_terms(term)
    words = [w.lower() for w in search.wanted.split()]
    tiers, walks = _relevance_tiers(term, _VECTOR), _relevance_tiers(term, _WALKED)
    if not words:
        return _Search(prefix=("", []), match=full_text, tiers=tiers, walks=walks)
    guard = (
        f"(SELECT count(*) FROM (SELECT 1 FROM catalog_product p WHERE {scope[0]} "  # noqa: S608  # nosec B608
        f"AND {full_text[0]} LIMIT %s) f) < %s"
    )
    prefix = (
        f"WITH typo(q) AS MATERIALIZED (SELECT CASE WHEN {guard} THEN ({_CORRECTIONS}) END) ",
        [*scope[1], *full_text[1], page_size, page_size, words, TYPO_CORRECTIONS, len(words)],
    )

    def typo(vector: str) -> tuple[str, list[Any]]:
        sql = _match(vector, _TYPO_QUERY, in_name=True)
        params: list[Any] = []
        if search.excluded:
            sql += f" AND NOT coalesce(p.search_vector @@ {_TSQUERY}, false)"
            params.append(" or ".join(search.excluded))
        not_full_text = f"NOT coalesce(({_SKU_MATCH} OR p.search_vector @@ {_TSQUERY}), false)"
        return f"{not_full_text} AND {sql}", [term, term.upper(), term, *params]

    match = (f"({full_text[0]} OR ({typo(_VECTOR)[0]}))", [*full_text[1], *typo(_VECTOR)[1]])
    tiers.append(typo(_VECTOR))
    walks.append(typo(_WALKED))
    return _Search(prefix=prefix, match=match, tiers=tiers, walks=walks)


def _relevance_tiers(term: str, vector: str) -> list[tuple[str, list[Any]]]:
    """The full-text matches by relevance, best first, as disjoint clauses.

    An exact SKU; full text matching the name; full text matching elsewhere
    (description, SKUs). `_search` adds the typo matches after them.
    `vector`: the search document as the clauses read it (`_VECTOR` or `_WALKED`).
    """
    not_sku = f"NOT {_SKU_MATCH}"
    params = [term, term.upper(), *[term] * vector.count("<query>")]
    return [
        (_SKU_MATCH, [term, term.upper()]),
        (f"{not_sku} AND {_match(vector, _TSQUERY, in_name=True)}", params),
        (f"{not_sku} AND {_match(vector, _TSQUERY, in_name=False)}", params),
    ]


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
    """The WHERE of every filter but the search."""
    clauses = [] if staff else ["p.is_published"]
    params: list[Any] = []
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


def _statement(
    filters: Mapping[str, Any],
    *,
    staff: bool,
    categories: Sequence[int] | None,
    page_size: int,
) -> tuple[str, str, list[Any], _Search | None]:
    """(WITH prefix, WHERE, their parameters, the search or None) of `filters`."""
    scope = _where(filters, staff=staff, categories=categories)
    term = (filters.get("search") or "").strip()
    if not term:
        return "", scope[0], scope[1], None
    search = _search(term, page_size=page_size, scope=scope)
    where = f"{scope[0]} AND {search.match[0]}"
    return search.prefix[0], where, [*search.prefix[1], *scope[1], *search.match[1]], search


def product_count(
    *,
    filters: Mapping[str, Any],
    staff: bool,
    categories: Sequence[int] | None,
    page_size: int = 0,
    limit: int | None = None,
) -> int:
    """How many products match `filters` (their ordering and any page aside), up to `limit`.

    `page_size`: the page shown, which decides whether a search matches typos
    (`_search`). `limit`: count no further than that (a search's count is
    bounded: see SEARCH_COUNT_MAX).
    """
    prefix, where, params, _ = _statement(
        filters, staff=staff, categories=categories, page_size=page_size
    )
    # `where` is made of constant clauses; every value is a bound parameter.
    sql = f"{prefix}SELECT count(*) FROM catalog_product p WHERE {where}"  # noqa: S608  # nosec B608
    if limit is not None:
        sql = (
            f"{prefix}SELECT count(*) FROM "  # noqa: S608  # nosec B608
            f"(SELECT 1 FROM catalog_product p WHERE {where} LIMIT %s) m"
        )
        params.append(limit)
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])


def search_sample(
    *,
    filters: Mapping[str, Any],
    staff: bool,
    categories: Sequence[int] | None,
    page_size: int,
    limit: int,
) -> tuple[int, tuple[int, ...]]:
    """A search's matches counted no further than `limit`, and how TIER_SAMPLE of them
    fall into the tiers of the page by relevance (`product_rows`), in one statement.

    Which tier a match is in costs more to tell than the match itself: only
    the first TIER_SAMPLE are told. `page_size`: the page shown, which
    decides whether typos match.
    """
    prefix, where, params, search = _statement(
        filters, staff=staff, categories=categories, page_size=page_size
    )
    assert search is not None, "a search needs a term"
    # The tiers of `_relevance_tiers` (an exact SKU counts with its full-text tier:
    # it is read by its own index anyway), then the typo matches.
    tiers = (
        f"CASE WHEN NOT coalesce(p.search_vector @@ {_TSQUERY}, false) THEN 3 "
        f"WHEN {_NAME_VECTOR} @@ {_TSQUERY} THEN 1 ELSE 2 END"
    )
    per_tier = ", ".join(f"count(*) FILTER (WHERE t = {tier})" for tier in range(4))
    sql = (
        f"{prefix}SELECT (SELECT count(*) FROM (SELECT 1 FROM catalog_product p "  # noqa: S608  # nosec B608
        f"WHERE {where} LIMIT %s) a), {per_tier} FROM (SELECT {tiers} AS t "
        f"FROM catalog_product p WHERE {where} LIMIT %s) m"
    )
    prefix_params = search.prefix[1]
    rest = params[len(prefix_params) :]
    term = (filters.get("search") or "").strip()
    with read_connection().cursor() as cursor:
        cursor.execute(
            sql, [*prefix_params, *rest, limit, term, term, *rest, min(limit, TIER_SAMPLE)]
        )
        total, *tiers_seen = cursor.fetchone()
    return int(total), tuple(int(n) for n in tiers_seen)


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
    page_size: int | None = None,
    reads: Sequence[str] = (),
    few: bool = False,
) -> list[dict[str, Any]]:
    """One page of products as rows for `product_item` (field name -> value).

    `page_size`: the page shown (default `limit`), which decides whether a
    search matches typos (`_search`). `reads`: per tier of a search by
    relevance, how to read it (see `search_sample`): WALK in primary-key
    order (many matches: the page's newest rows come first), INDEX through
    the GIN index then sorted (few matches), SKIP (none); INDEX by default.
    `few`: a search in another order matches few products (at most
    SEARCH_COUNT_MAX): they are all read through the index, then sorted,
    rather than found by walking the ordering's index.
    """
    prefix, where, params, search = _statement(
        filters, staff=staff, categories=categories, page_size=page_size or limit
    )
    fields = selected(product_fields(staff=staff, detail=False))
    columns = ", ".join(_column(f, joined=False) for f in fields)
    if search is not None and not filters.get("ordering"):
        scope = _where(filters, staff=staff, categories=categories)
        sql, params = _by_relevance(search, scope, columns, limit=limit, offset=offset, reads=reads)
    elif search is not None and few:
        # Materialised: the planner cannot walk the ordering's index looking for them.
        matched = f"{prefix.rstrip()}," if prefix else "WITH"
        sql = (
            f"{matched} matched AS MATERIALIZED (SELECT p.id FROM catalog_product p "  # noqa: S608  # nosec B608
            f"WHERE {where}) SELECT {columns} FROM matched m JOIN catalog_product p "
            f"ON p.id = m.id ORDER BY {order_sql(filters.get('ordering'))} LIMIT %s OFFSET %s"
        )
        params += [limit, offset]
    else:
        sql = (
            f"{prefix}SELECT {columns} FROM catalog_product p WHERE {where} "  # noqa: S608  # nosec B608
            f"ORDER BY {order_sql(filters.get('ordering'))} LIMIT %s OFFSET %s"
        )
        params += [limit, offset]
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    names = [f.name for f in fields]
    return [dict(zip(names, row, strict=True)) for row in rows]


def _by_relevance(
    search: _Search,
    scope: tuple[str, list[Any]],
    columns: str,
    *,
    limit: int,
    offset: int,
    reads: Sequence[str],
) -> tuple[str, list[Any]]:
    """A page of a search's matches by relevance: its tiers in turn.

    Each tier reads its newest `offset + limit` matches at most, in the
    primary key's order, and PostgreSQL's Append runs a tier only while the
    page is not full: a broad word is answered from the first tier's newest
    rows, without ranking (or even reading) every product that has it.
    """
    branches, params = [], list(search.prefix[1])
    for tier, indexed in enumerate(search.tiers):
        read = reads[tier] if tier < len(reads) else INDEX
        if read == SKIP:
            continue
        clause, clause_params = search.walks[tier] if read == WALK else indexed
        # Through the index, the rows are sorted: `+ 0` keeps the planner from
        # walking the primary key through a tier that may hold few of them.
        order = "p.id DESC" if read == WALK else "p.id + 0 DESC"
        branches.append(
            f"(SELECT {tier} AS tier, p.id FROM catalog_product p "  # noqa: S608  # nosec B608
            f"WHERE {scope[0]} AND {clause} ORDER BY {order} LIMIT %s)"
        )
        params += [*scope[1], *clause_params, offset + limit]
    if not branches:
        branches.append("(SELECT 0 AS tier, 0::bigint AS id WHERE false)")
    # LIMIT and OFFSET apply to the tiers in turn; the outer ORDER BY sorts the page only.
    sql = (
        f"{search.prefix[0]}SELECT {columns} FROM ({' UNION ALL '.join(branches)} "  # noqa: S608  # nosec B608
        "LIMIT %s OFFSET %s) m JOIN catalog_product p ON p.id = m.id ORDER BY m.tier, m.id DESC"
    )
    return sql, [*params, limit, offset]


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
