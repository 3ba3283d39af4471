"""Catalog reads: plain dicts built from `.values()`, a fixed number of queries.

The product list and a product's page are catalog.listing (declared once,
in SQL); the categories, a variant for staff and the stock ledger are here.
"""

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db.models import F, QuerySet
from django.db.models.functions import Upper

from catalog.listing import money
from catalog.models import Category, Product, StockMovement, Variant

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


# --- Variants and the ledger --------------------------------------------------


def variant_item(variant: Variant) -> dict[str, Any]:
    """A variant for staff: product, sku, name, attributes, price, currency, stock, weight."""
    return {
        "product": variant.product.slug,
        "sku": variant.sku,
        "name": variant.name,
        "attributes": variant.attributes,
        "price": money(variant.price),
        "currency": settings.STORE_CURRENCY,
        "stock": variant.stock,
        "weight_grams": variant.weight_grams,
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


def variants_by_sku_prefix(*, prefix: str) -> QuerySet[Variant]:
    """The variants whose SKU starts with `prefix`, in any case, unordered.

    Meant as a subquery (`.values("pk")`, `.values("product_id")`);
    variant_sku_upper_prefix_idx serves it.
    """
    return (
        Variant.objects.alias(sku_upper=Upper("sku"))
        .filter(sku_upper__startswith=prefix.upper())
        .order_by()
    )


def product_ids_by_name(*, word: str) -> QuerySet[Product, Any]:
    """Ids of the products whose name contains `word`, in any case.

    A query to use as a subquery (`product_id__in=`); product_name_upper_trgm_idx serves it.
    """
    return Product.objects.filter(name__icontains=word).order_by().values("pk")
