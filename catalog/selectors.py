"""Catalog reads: plain dicts built from `.values()`, a fixed number of queries.

The product list is the count and the page whatever the page size, plus one
query for the category subtree when filtering by category (a recursive CTE,
however deep), all in SQL written once (catalog.product_sql). The lowest
price and "in stock" are `Product.min_price` and `Product.in_stock` (kept by
triggers, indexed), the category slug a per-row primary-key lookup (so the
count has no join), and the search a BitmapOr of a SKU InitPlan and two GIN
indexes (tsvector, trigram). Measured on 100,000 products / 300,000
variants: the default page runs in under 1 ms and its count in about 20 ms.
"""

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypedDict

from django.conf import settings
from django.db.models import F, QuerySet

from catalog import cache as catalog_cache
from catalog import product_sql
from catalog.models import Category, StockMovement, Variant

# The `ordering` values of the product list.
ORDERINGS: tuple[str, ...] = tuple(product_sql.ORDER_SQL)


class ProductFilters(TypedDict, total=False):
    search: str
    category: str
    min_price: Decimal
    max_price: Decimal
    in_stock: bool
    ordering: str


def money(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{amount:.2f}"


# --- Categories --------------------------------------------------------------

CATEGORY_VALUES = ("id", "name", "slug", "description")


def category_queryset() -> QuerySet[Category, dict[str, Any]]:
    """Categories as dicts `{id, name, slug, parent, description}` (parent = slug), one query."""
    return Category.objects.order_by("position", "name", "id").values(
        *CATEGORY_VALUES, parent_slug=F("parent__slug")
    )


def category_item(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "slug": row["slug"],
        "parent": row["parent_slug"],
        "description": row["description"],
    }


# --- Products ----------------------------------------------------------------


class ProductListing:
    """The products matching one request's filters: a page of rows, and their count.

    SQL written once (catalog.product_sql); tests/catalog/reference.py holds
    the same listing as querysets, to check it against. The category subtree
    is resolved once for both queries.
    The count depends on the filters only (not the page, not the ordering), so
    it is kept under the catalog generation of the response being built
    (catalog.cache.memoised): a catalog write makes the next list count again.
    """

    def __init__(self, *, filters: ProductFilters, staff: bool) -> None:
        self.filters = filters
        self.staff = staff
        self._categories: list[int] | None = None
        self._total: int | None = None

    def _category_ids(self) -> list[int] | None:
        slug = self.filters.get("category")
        if not slug:
            return None
        if self._categories is None:
            self._categories = catalog_cache.memoised(
                scope="subtree", parts=slug, compute=lambda: product_sql.category_ids(slug)
            )
        return self._categories

    def rows(self, limit: int, offset: int) -> list[dict[str, Any]]:
        rows, self._total = product_sql.product_rows(
            filters=self.filters,
            staff=self.staff,
            categories=self._category_ids(),
            limit=limit,
            offset=offset,
        )
        return rows

    def _count(self) -> int:
        gen = catalog_cache.building_generation()
        if self._by_price_only() and gen is not None and _histogram_pays(gen):
            # A price range (a slider: any bounds) counts up to the whole catalog;
            # the histogram of lowest prices, kept per generation, answers them all.
            histogram = catalog_cache.memoised(
                scope="prices", parts="", compute=product_sql.price_histogram
            )
            if histogram is not None:
                return product_sql.histogram_count(histogram, self.filters)
        return product_sql.product_count(
            filters=self.filters, staff=self.staff, categories=self._category_ids()
        )

    def _by_price_only(self) -> bool:
        """Public, filtered by price (and maybe stock) and nothing else."""
        used = {name for name, value in self.filters.items() if value not in (None, "")}
        return (
            not self.staff
            and bool(used & {"min_price", "max_price"})
            and used <= {"min_price", "max_price", "in_stock", "ordering"}
        )

    def count(self) -> int:
        if self._total is not None:  # counted with the page (a search)
            return self._total
        parts = sorted(
            (name, str(value))
            for name, value in self.filters.items()
            if name != "ordering" and value is not None and value != ""
        )
        return catalog_cache.memoised(
            scope="count", parts=repr((self.staff, parts)), compute=self._count
        )


def product_item(row: Mapping[str, Any], *, staff: bool) -> dict[str, Any]:
    item = {
        "id": row["id"],
        "slug": row["slug"],
        "name": row["name"],
        "category": row["category_slug"],
        "price": money(row["price"]),
        "currency": settings.STORE_CURRENCY,
        "in_stock": row["in_stock"],
    }
    if staff:
        item["is_published"] = row["is_published"]
    return item


def _variant_public(
    sku: str, name: str, attributes: Any, price: Decimal, stock: int
) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": name,
        "attributes": attributes,
        "price": money(price),
        "stock": stock,
        "in_stock": stock > 0,
    }


def product_detail(*, slug: str, staff: bool) -> dict[str, Any] | None:
    """The product page as a dict, or None when missing (or unpublished for the public).

    One query: the product joined to its variants.
    """
    rows = product_sql.product_detail_rows(slug=slug, staff=staff)
    if not rows:
        return None
    (pk, slug, name, description, price, published, created, updated, category) = rows[0][:9]
    # Django leaves jsonb undecoded for JSONField, which decodes it with json.loads.
    variants = [
        _variant_public(sku, v_name, json.loads(attributes), v_price, stock)
        for (sku, v_name, attributes, v_price, stock) in (row[9:] for row in rows)
        if sku is not None
    ]
    item = {
        "id": pk,
        "slug": slug,
        "name": name,
        "category": category,
        "price": money(price),
        "currency": settings.STORE_CURRENCY,
        "in_stock": any(variant["in_stock"] for variant in variants),
    }
    if staff:
        item["is_published"] = published
    item["description"] = description
    item["variants"] = variants
    item["created_at"] = created
    item["updated_at"] = updated
    return item


# --- Variants and the ledger --------------------------------------------------


def variant_item(variant: Variant) -> dict[str, Any]:
    """A variant for staff: `{product, sku, name, attributes, price, currency, stock}`."""
    return {
        "product": variant.product.slug,
        "sku": variant.sku,
        "name": variant.name,
        "attributes": variant.attributes,
        "price": money(variant.price),
        "currency": settings.STORE_CURRENCY,
        "stock": variant.stock,
    }


def stock_movement_queryset(*, variant: Variant) -> QuerySet[StockMovement, Any]:
    """The ledger of one variant, newest first, as dicts for `stock_movement_item`."""
    return (
        StockMovement.objects.filter(variant=variant)
        .order_by("-created_at", "-id")
        .values(
            "id",
            "kind",
            "delta",
            "reason",
            "order_number",
            "created_at",
            created_by_email=F("created_by__email"),
        )
    )


def stock_movement_item(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "delta": row["delta"],
        "reason": row["reason"],
        "order": row["order_number"] or None,
        "created_by": row["created_by_email"],
        "created_at": row["created_at"],
    }


def stock_movement_dict(movement: StockMovement) -> dict[str, Any]:
    """`stock_movement_item` for a row in hand (its `created_by` must be loaded or None)."""
    return {
        "id": movement.pk,
        "kind": movement.kind,
        "delta": movement.delta,
        "reason": movement.reason,
        "order": movement.order_number or None,
        "created_by": movement.created_by.email if movement.created_by else None,
        "created_at": movement.created_at,
    }


# The price histogram costs a scan of the published catalog (about 40 ms at
# 100,000 products) per generation and process. While writes bump the
# generation more often than price ranges are listed (a rush of orders takes
# stock all the time), counting each range directly is cheaper: the histogram
# is built only at the HISTOGRAM_AFTER-th price-range count of a generation.
HISTOGRAM_AFTER = 4
_price_counts: dict[str, int | None] = {"generation": None, "seen": 0}


def _histogram_pays(gen: int) -> bool:
    """Whether this price-range count should use (and maybe build) the histogram."""
    if _price_counts["generation"] != gen:  # a new generation: start counting again
        _price_counts["generation"], _price_counts["seen"] = gen, 0
    seen = (_price_counts["seen"] or 0) + 1
    _price_counts["seen"] = seen
    return seen >= HISTOGRAM_AFTER
