"""The product list and page as Django querysets: the oracle for catalog.product_sql.

Written independently of the SQL the API runs, and of the columns triggers
keep: the lowest price and "in stock" are computed from the variants here, so
a comparison also checks the triggers (`min_price`, `in_stock`).
"""

from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramWordSimilarity
from django.db.models import BooleanField, Exists, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from catalog.db import category_subtree_ids
from catalog.models import Category, Product, Variant
from catalog.selectors import ProductFilters, _variant_public, product_item

ORDERINGS: dict[str, tuple[Any, ...]] = {
    "price": (F("price").asc(nulls_last=True), "id"),
    "-price": (F("price").desc(nulls_last=True), "-id"),
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "created_at": ("created_at", "id"),
    "-created_at": ("-created_at", "-id"),
}
DEFAULT_ORDERING = "-created_at"
SEARCH_CONFIG = "english"


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


def _search(qs: QuerySet[Product], term: str) -> tuple[QuerySet[Product], tuple[Any, ...]]:
    """Exact SKU first, then full-text rank, then trigram word similarity of the name."""
    sku_match = RawSQL(
        '"catalog_product"."id" = ANY(ARRAY('
        "SELECT product_id FROM catalog_variant WHERE sku = %s OR sku = %s))",
        [term, term.upper()],
        output_field=BooleanField(),
    )
    query = SearchQuery(term, search_type="websearch", config=SEARCH_CONFIG)
    words = term.replace('"', " ").split()
    wanted = " ".join(w for w in words if not w.startswith("-") and w.lower() != "or")
    excluded = [w[1:] for w in words if w.startswith("-") and len(w) > 1]
    fuzzy = Q(name__trigram_word_similar=wanted) if wanted else Q(pk__in=[])
    if excluded:
        fuzzy &= ~Q(
            search_vector=SearchQuery(
                " or ".join(excluded), search_type="websearch", config=SEARCH_CONFIG
            )
        )
    qs = qs.annotate(
        sku_match=sku_match,
        rank=SearchRank(F("search_vector"), query),
        similarity=TrigramWordSimilarity(wanted, "name"),
    ).filter(Q(sku_match) | Q(search_vector=query) | fuzzy)
    return qs, (F("sku_match").desc(), F("rank").desc(), F("similarity").desc(), "-id")


def product_list_queryset(
    *, filters: ProductFilters, staff: bool
) -> QuerySet[Product, dict[str, Any]]:
    """Products matching `filters` as dicts (`has_stock` for `in_stock`); staff see all."""
    qs = Product.objects.all() if staff else Product.objects.filter(is_published=True)
    qs = qs.annotate(price=_lowest_price(), has_stock=_stocked())
    ordering = ORDERINGS[filters.get("ordering") or DEFAULT_ORDERING]
    if term := (filters.get("search") or "").strip():
        qs, relevance = _search(qs, term)
        if not filters.get("ordering"):
            ordering = relevance
    if slug := filters.get("category"):
        qs = qs.filter(category_id__in=category_subtree_ids(slug=slug))
    if (low := filters.get("min_price")) is not None:
        qs = qs.filter(Q(price__gte=low))
    if (high := filters.get("max_price")) is not None:
        qs = qs.filter(Q(price__lte=high))
    if (in_stock := filters.get("in_stock")) is not None:
        qs = qs.filter(_has_stock() if in_stock else ~_has_stock())
    fields = ["id", "slug", "name", "price", "has_stock"]
    if staff:
        fields.append("is_published")
    category_slug = Subquery(
        Category.objects.filter(pk=OuterRef("category_id")).order_by().values("slug")[:1]
    )
    return qs.order_by(*ordering).values(*fields, category_slug=category_slug)


def product_rows(*, filters: ProductFilters, staff: bool) -> tuple[int, list[dict[str, Any]]]:
    """The count and every row, shaped as catalog.product_sql returns them."""
    qs = product_list_queryset(filters=filters, staff=staff)
    rows = list(qs)
    for row in rows:
        row["in_stock"] = row.pop("has_stock")
    return qs.count(), rows


def product_detail(*, slug: str, staff: bool) -> dict[str, Any] | None:
    """catalog.selectors.product_detail in two queries: the product, then its variants."""
    qs = Product.objects.filter(slug=slug)
    if not staff:
        qs = qs.filter(is_published=True)
    found = (
        qs.annotate(price=_lowest_price(), has_stock=_stocked())
        .values(
            "id",
            "slug",
            "name",
            "description",
            "price",
            "has_stock",
            "is_published",
            "created_at",
            "updated_at",
            category_slug=F("category__slug"),
        )
        .first()
    )
    if found is None:
        return None
    row: dict[str, Any] = {**found, "in_stock": found["has_stock"]}
    variants = (
        Variant.objects.filter(product_id=row["id"])
        .order_by("id")
        .values("sku", "name", "attributes", "price", "stock")
    )
    item = product_item(row, staff=staff)
    item["description"] = row["description"]
    item["variants"] = [
        _variant_public(v["sku"], v["name"], v["attributes"], v["price"], v["stock"])
        for v in variants
    ]
    item["created_at"] = row["created_at"]
    item["updated_at"] = row["updated_at"]
    return item
