"""orders/ as cursor pages by last change, for integrations that copy orders incrementally.

With `updated_after`, a `cursor`, or `ordering=updated_at`, the order list
answers cursor pages `{next, previous, results}` ordered by `(updated_at, id)`
(an order's status change moves it), with the list's other filters applied.
"""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from config.cursor import (
    CURSOR,
    CURSOR_PAGE_SIZE_MAX,
    UPDATED_AFTER,
    cursor_page_serializer,
    paginate_by_update,
    wants_cursor_page,
)
from orders.api.serializers import OrderSerializer

__all__ = ["ORDER_LIST_SCHEMA", "order_cursor_page", "wants_cursor_page"]


def order_cursor_page(view: Any, request: Request) -> Response:
    queryset = view.filter_queryset(view.get_queryset())
    body = paginate_by_update(
        request, queryset, render=lambda rows: view.get_serializer(rows, many=True).data
    )
    return Response(body)


ORDER_LIST_SCHEMA = extend_schema(
    parameters=[
        UPDATED_AFTER,
        OpenApiParameter(
            CURSOR,
            OpenApiTypes.STR,
            description="Opaque: the `cursor` of a previous cursor page's `next`.",
        ),
        OpenApiParameter(
            "ordering",
            OpenApiTypes.STR,
            enum=["updated_at"],
            description="`updated_at`: cursor pages by last change "
            f"(`page_size` up to {CURSOR_PAGE_SIZE_MAX}).",
        ),
    ],
    responses={
        200: PolymorphicProxySerializer(
            component_name="OrderListPage",
            serializers=[
                inline_serializer(
                    name="OrderNumberedPage",
                    fields={
                        "count": serializers.IntegerField(),
                        "next": serializers.URLField(allow_null=True),
                        "previous": serializers.URLField(allow_null=True),
                        "results": OrderSerializer(many=True),
                    },
                ),
                cursor_page_serializer("OrderCursorPage", OrderSerializer),
            ],
            resource_type_field_name=None,
        )
    },
)
