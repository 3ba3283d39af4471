"""products/ as cursor pages by last change, for integrations that mirror the catalog.

With `updated_after`, a `cursor`, or `ordering=updated_at`, the product list
answers cursor pages `{next, previous, results}` ordered by `(updated_at,
id)`, with its other filters applied and the same items. They are never
cached (catalog.api.fastpath and the view's response cache leave them
alone): a page depends on when it is read (core.cursor.settled_before), not
only on the catalog.
"""

from datetime import datetime
from typing import Any

from drf_spectacular.drainage import set_override
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from catalog.api.list_query import FILTERS, REPEATED
from catalog.api.permissions import sees_unpublished
from catalog.api.serializers import ProductListItemSerializer, product_list_params
from catalog.listing import ORDERINGS, SEARCH_COUNT_MAX, product_item
from catalog.listing.changes import UPDATED_AT, product_rows_by_update
from catalog.listing.sql import category_ids
from core import serializers
from core.cursor import (
    CURSOR,
    CURSOR_PAGE_SIZE,
    CURSOR_PAGE_SIZE_MAX,
    UPDATED_AFTER,
    Position,
    cursor_page,
    settled_before,
    updated_after,
)
from core.pagination import page_request

_PARAMS = (*FILTERS, "page", "page_size", CURSOR, "updated_after")


def product_cursor_page(request: Request) -> dict[str, Any]:
    """The body of a cursor page of products (400 `invalid` for a bad parameter)."""
    query = request.query_params
    repeated = {name: [REPEATED] for name in _PARAMS if len(query.getlist(name)) > 1}
    if repeated:
        raise ValidationError(repeated)
    ordering = query.get("ordering", "").strip()
    if ordering and ordering != "updated_at":
        raise ValidationError({"ordering": ["Cursor pages are ordered by `updated_at` only."]})
    filters = product_list_params(
        {name: str(query[name]) for name in FILTERS if name in query and name != "ordering"}
    )
    # `page` means nothing here, but a bad one is refused as on numbered pages.
    page_request(query.get("page"), None)
    since = updated_after(request)
    staff = sees_unpublished(request.user)
    slug = filters.get("category")
    categories = category_ids(slug) if slug else None
    settled = settled_before()

    def fetch(position: Position | None, limit: int) -> list[dict[str, Any]]:
        return product_rows_by_update(
            filters=filters,
            staff=staff,
            categories=categories,
            since=since,
            settled=settled,
            position=position,
            limit=limit,
        )

    return cursor_page(
        request,
        kinds=(datetime, int),
        fetch=fetch,
        key_of=lambda row: (row[UPDATED_AT], row["id"]),
        render=lambda rows: [product_item(row, staff=staff) for row in rows],
    )


# A numbered page, or a cursor page (without `count`, `next` always set).
PRODUCT_PAGE = inline_serializer(
    name="ProductListPage",
    fields={
        "count": serializers.IntegerField(
            required=False,
            help_text="Numbered pages only (absent from cursor pages). How many products "
            f"match; a search counts up to {SEARCH_COUNT_MAX:,} matches (then `count_exact` "
            "is false and no page past them is served).",
        ),
        "count_exact": serializers.BooleanField(
            required=False,
            help_text="Present, and false, only when a search matched more than `count` "
            "products: `count` is then the bound, not every match.",
        ),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": ProductListItemSerializer(many=True),
    },
)
set_override(PRODUCT_PAGE, "many", False)

PRODUCT_CURSOR_PARAMS = [
    UPDATED_AFTER,
    OpenApiParameter(
        CURSOR,
        OpenApiTypes.STR,
        description="Opaque: the `cursor` of a cursor page's `next` or `previous`.",
        allow_blank=True,
    ),
    OpenApiParameter(
        "ordering",
        OpenApiTypes.STR,
        enum=[*ORDERINGS, "updated_at"],
        allow_blank=True,
        description="Default `-created_at`, or relevance when searching. `updated_at`: cursor "
        f"pages by last change (`page_size` default {CURSOR_PAGE_SIZE}, up to "
        f"{CURSOR_PAGE_SIZE_MAX}).",
    ),
]
