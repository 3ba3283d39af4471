"""orders/ as cursor pages by last change, for integrations that copy orders incrementally.

With `updated_after`, a `cursor`, or `ordering=updated_at`, the order list
answers cursor pages `{next, previous, results}` ordered by `(updated_at, id)`
(an order's status change moves it), with the list's other filters applied.
"""

from typing import Any

from drf_spectacular.drainage import set_override
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from core import serializers
from core.cursor import (
    CURSOR,
    CURSOR_PAGE_SIZE_MAX,
    UPDATED_AFTER,
    paginate_by_update,
    wants_cursor_page,
)
from core.pagination import page_request
from orders.api.serializers import OrderSerializer

__all__ = ["ORDER_LIST_SCHEMA", "order_cursor_page", "ordering_check", "wants_cursor_page"]


def ordering_check(request: Request) -> None:
    """400 for an `ordering` other than `updated_at` (the only one there is)."""
    ordering = request.query_params.get("ordering")
    if ordering and ordering.strip() and ordering != "updated_at":
        raise ValidationError({"ordering": ["Only `updated_at` is supported."]})


def order_cursor_page(view: Any, request: Request) -> Response:
    # `page` means nothing here, but a bad one is refused as on numbered pages.
    page_request(request.query_params.get("page"), None)
    queryset = view.filter_queryset(view.get_queryset())
    body = paginate_by_update(
        request, queryset, render=lambda rows: view.get_serializer(rows, many=True).data
    )
    return Response(body)


# A numbered page, or a cursor page (without `count`, `next` always set).
_ORDER_PAGE = inline_serializer(
    name="OrderListPage",
    fields={
        "count": serializers.IntegerField(
            required=False, help_text="Numbered pages only (absent from cursor pages)."
        ),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": OrderSerializer(many=True),
    },
)
set_override(_ORDER_PAGE, "many", False)

ORDER_LIST_SCHEMA = extend_schema(
    parameters=[
        UPDATED_AFTER,
        OpenApiParameter(
            CURSOR,
            OpenApiTypes.STR,
            description="Opaque: the `cursor` of a cursor page's `next` or `previous` link.",
            allow_blank=True,
        ),
        OpenApiParameter(
            "ordering",
            OpenApiTypes.STR,
            enum=["updated_at"],
            allow_blank=True,
            description="`updated_at`: cursor pages by last change "
            f"(`page_size` up to {CURSOR_PAGE_SIZE_MAX}).",
        ),
    ],
    responses={200: _ORDER_PAGE},
)
