"""The product list and page as Django querysets: the oracle for catalog.listing.

The SQL the API runs is built from catalog.listing's declaration; these
querysets read the same declared fields, orderings and search terms but
compute everything else independently, including the columns triggers keep:
the lowest price and "in stock" are computed from the variants here, so a
comparison also checks the triggers (`min_price`, `in_stock`).
"""

from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchVector, TrigramWordDistance
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from catalog.db import category_subtree_ids
from catalog.listing import (
    DEFAULT_ORDERING,
    ORDERINGS,
    SEARCH_CONFIG,
    VARIANT_FIELDS,
    ProductFilters,
    product_fields,
    product_item,
    search_terms,
    variant_item,
)
from catalog.listing.declaration import selected
from catalog.listing.sql import TYPO_CORRECTIONS
from catalog.models import Category, Product, SearchWord, Variant

# The oracle's own column for a declared ordering column, where it computes it.
ORDER_COLUMNS = {"min_price": "ref_price"}


def _ordering(value: str) -> tuple[Any, ...]:
    ordering, descending = ORDERINGS[value]
    column = F(ORDER_COLUMNS.get(ordering.column, ordering.column))
    nulls = {"nulls_last": True} if ordering.nulls_last else {}
    first = column.desc(**nulls) if descending else column.asc(**nulls)
    return first, "-id" if descending else "id"


def _lowest_price() -> Subquery:
    return Subquery(
        Variant.objects.filter(product=OuterRef("pk")).order_by("price").values("price")[:1]
    )


def _has_stock() -> Exists:
    return Exists(Variant.objects.filter(product=OuterRef("pk"), stock__gt=0))


def _stocked() -> Coalesce:
    probe = (
        Variant.objects.filter(product=OuterRef("pk"), stock__gt=0)
        .order_by()
        .annotate(flag=Value(True))
        .values("flag")[:1]
    )
    return Coalesce(Subquery(probe), Value(False), output_field=BooleanField())


def _typo_query(words: list[str]) -> SearchQuery | None:
    """Each word as one of the name words most like it (SearchWord), all words required."""
    query: SearchQuery | None = None
    for word in words:
        alternatives = list(
            SearchWord.objects.filter(word__trigram_word_similar=word)
            .order_by(TrigramWordDistance(word, "word"), "word")
            .values_list("word", flat=True)[:TYPO_CORRECTIONS]
        )
        if not alternatives:
            return None
        either = SearchQuery(alternatives[0], search_type="phrase", config=SEARCH_CONFIG)
        for alternative in alternatives[1:]:
            either |= SearchQuery(alternative, search_type="phrase", config=SEARCH_CONFIG)
        query = either if query is None else query & either
    return query


def _search(
    qs: QuerySet[Product], term: str, *, page_size: int
) -> tuple[QuerySet[Product], tuple[Any, ...]]:
    """Full text (exact SKU first, then name matches, then the others), newest first in each.

    Typo matches of the name (after all of those) only when full text finds
    fewer matches than `page_size`.
    """
    sku_match = RawSQL(
        '"catalog_product"."id" = ANY(ARRAY('
        "SELECT product_id FROM catalog_variant WHERE sku = %s OR sku = %s))",
        [term, term.upper()],
        output_field=BooleanField(),
    )
    query = SearchQuery(term, search_type="websearch", config=SEARCH_CONFIG)
    qs = qs.annotate(sku_match=sku_match, name_vector=SearchVector("name", config=SEARCH_CONFIG))
    full_text = Q(sku_match) | Q(search_vector=query)
    matches = full_text
    parts = search_terms(term)
    typos = None
    if parts.wanted and qs.filter(full_text).count() < page_size:
        typos = _typo_query([w.lower() for w in parts.wanted.split()])
    if typos is not None:
        typo_match = Q(name_vector=typos)
        if parts.excluded:
            typo_match &= ~Q(
                search_vector=SearchQuery(
                    " or ".join(parts.excluded), search_type="websearch", config=SEARCH_CONFIG
                )
            )
        matches |= typo_match
    tier = Case(
        When(sku_match=True, then=Value(0)),
        When(Q(name_vector=query), then=Value(1)),
        When(Q(search_vector=query), then=Value(2)),
        default=Value(3),
    )
    qs = qs.annotate(tier=tier).filter(matches)
    return qs, (F("tier").asc(), "-id")


def _category_slug() -> Subquery:
    return Subquery(
        Category.objects.filter(pk=OuterRef("category_id")).order_by().values("slug")[:1]
    )


def _product_values(
    qs: QuerySet[Product], *, staff: bool, detail: bool
) -> QuerySet[Product, dict[str, Any]]:
    """The declared fields read from the database, under `ref_<name>` where computed here."""
    computed = {"price": _lowest_price(), "in_stock": _stocked(), "category": _category_slug()}
    names = [f.name for f in selected(product_fields(staff=staff, detail=detail))]
    return qs.values(
        *(n for n in names if n not in computed),
        **{f"ref_{n}": computed[n] for n in names if n in computed},
    )


def _renamed(row: dict[str, Any]) -> dict[str, Any]:
    return {name.removeprefix("ref_"): value for name, value in row.items()}


def product_list_queryset(
    *, filters: ProductFilters, staff: bool, page_size: int = 20
) -> QuerySet[Product, dict[str, Any]]:
    """Products matching `filters` as dicts (computed fields as `ref_<name>`); staff see all.

    `page_size`: the page shown, which decides whether a search matches typos.
    """
    qs = Product.objects.all() if staff else Product.objects.filter(is_published=True)
    ordering = _ordering(filters.get("ordering") or DEFAULT_ORDERING)
    if slug := filters.get("category"):
        qs = qs.filter(category_id__in=category_subtree_ids(slug=slug))
    qs = qs.annotate(ref_price_filter=_lowest_price())
    if (low := filters.get("min_price")) is not None:
        qs = qs.filter(Q(ref_price_filter__gte=low))
    if (high := filters.get("max_price")) is not None:
        qs = qs.filter(Q(ref_price_filter__lte=high))
    if (in_stock := filters.get("in_stock")) is not None:
        qs = qs.filter(_has_stock() if in_stock else ~_has_stock())
    # After the filters: whether typos match depends on what full text finds among them.
    if term := (filters.get("search") or "").strip():
        qs, relevance = _search(qs, term, page_size=page_size)
        if not filters.get("ordering"):
            ordering = relevance
    return _product_values(qs, staff=staff, detail=False).order_by(*ordering)


def product_rows(
    *, filters: ProductFilters, staff: bool, page_size: int = 20
) -> tuple[int, list[dict[str, Any]]]:
    """The (whole) count and every row, shaped as catalog.listing.sql returns them."""
    qs = product_list_queryset(filters=filters, staff=staff, page_size=page_size)
    return qs.count(), [_renamed(row) for row in qs]


_VARIANT_COMPUTED = {"in_stock": ExpressionWrapper(Q(stock__gt=0), output_field=BooleanField())}


def product_detail(*, slug: str, staff: bool) -> dict[str, Any] | None:
    """catalog.listing.product_detail in two queries: the product, then its variants."""
    qs = Product.objects.filter(slug=slug)
    if not staff:
        qs = qs.filter(is_published=True)
    found = _product_values(qs, staff=staff, detail=True).first()
    if found is None:
        return None
    row = _renamed(found)
    names = [f.name for f in selected(VARIANT_FIELDS)]
    variants = (
        Variant.objects.filter(product_id=row["id"])
        .order_by("id")
        .values(
            *(n for n in names if n not in _VARIANT_COMPUTED),
            **{f"ref_{n}": _VARIANT_COMPUTED[n] for n in names if n in _VARIANT_COMPUTED},
        )
    )
    row["variants"] = [variant_item(_renamed(variant)) for variant in variants]
    return product_item(row, staff=staff, detail=True)
